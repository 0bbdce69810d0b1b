import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError } from '../../src/codec/errors.js';
import type { NodeDescriptor } from '../../src/pki/index.js';
import {
  decodeGuard,
  encodeGuard,
  GUARD_MAX_LIFETIME_MS,
  GUARD_MIN_LIFETIME_MS,
  keptGuard,
  newGuard,
} from '../../src/traffic/guard.js';

/** The guard's rotation rule: kept for its lifetime while in the consensus, then chosen anew. */

const gateway = (n: number) => ({ nodeId: new Uint8Array(32).fill(n), name: `gw${n}` }) as unknown as NodeDescriptor;
const gateways = [gateway(1), gateway(2), gateway(3)];
const T = 1_800_000_000_000;

test('a guard is kept until its lifetime ends or it leaves the consensus', () => {
  const guard = newGuard(gateway(2).nodeId, T, 0.5);
  assert.equal(guard.expiresMs - guard.chosenMs, (GUARD_MIN_LIFETIME_MS + GUARD_MAX_LIFETIME_MS) / 2);
  assert.equal(keptGuard(guard, gateways, T)?.name, 'gw2');
  assert.equal(keptGuard(guard, gateways, guard.expiresMs - 1)?.name, 'gw2');
  assert.equal(keptGuard(guard, gateways, guard.expiresMs), undefined, 'expired');
  assert.equal(keptGuard(guard, [gateway(1), gateway(3)], T + 1000), undefined, 'gone from the consensus');
  assert.equal(keptGuard(guard, gateways, T - 1), undefined, 'a guard from the future (a clock set back) is not trusted');
});

test('lifetimes spread over [30, 60) days; the encoding round-trips; bad input is a typed error', () => {
  assert.equal(newGuard(gateway(1).nodeId, T, 0).expiresMs, T + GUARD_MIN_LIFETIME_MS);
  assert.ok(newGuard(gateway(1).nodeId, T, 0.999999).expiresMs < T + GUARD_MAX_LIFETIME_MS);
  assert.throws(() => newGuard(gateway(1).nodeId, T, 1), RangeError);
  assert.throws(() => newGuard(new Uint8Array(31), T, 0), RangeError);
  const guard = newGuard(gateway(3).nodeId, T, 0.25);
  assert.deepEqual(decodeGuard(encodeGuard(guard)), guard);
  const bytes = encodeGuard(guard);
  assert.throws(() => decodeGuard(bytes.subarray(1)), DecodeError);
  assert.throws(() => decodeGuard(Uint8Array.of(2, ...bytes.subarray(1))), DecodeError);
});
