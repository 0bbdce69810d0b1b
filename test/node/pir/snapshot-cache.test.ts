/**
 * How long the provider keeps PIR snapshots (src/node/provider/pir-snapshot-cache.ts): a snapshot
 * that pir-info named stays queryable for the grace period, however many rebuilds (own) or
 * replications (the partner's) come meanwhile, and an epoch's snapshots outlive the epoch by the
 * grace; beyond it only `keep` stay. Without the grace, a poll that straddles a rebuild is refused
 * 'unknown-snapshot' by one of its two servers and reads nothing.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { getCrypto } from '../../../src/crypto/index.js';
import { jsScanKernel } from '../../../src/pir/index.js';
import { buildSnapshot, type Snapshot } from '../../../src/pir/snapshot.js';
import { PirSnapshotCache, type PirSnapshotCacheDeps } from '../../../src/node/provider/pir-snapshot-cache.js';

const crypto = getCrypto('sodium');
const ORIGIN = crypto.blake2b(32, new TextEncoder().encode('origin'));
const TIMING = { genesisMs: 0, epochMs: 8000 };
const GRACE_MS = 5000;

function snapshotOf(epoch: number, sequence: number): Snapshot {
  const address = crypto.blake2b(32, new TextEncoder().encode(`address ${sequence}`));
  const ciphertext = new Uint8Array(40).fill(sequence + 1);
  return buildSnapshot({ crypto, origin: ORIGIN, epoch, items: [{ address, ciphertext }], capacity: 100, rowBytes: 4096, sequence });
}

function cacheAt(clock: { ms: number }, keep: number, graceMs: number): PirSnapshotCache {
  const deps = {
    crypto,
    clock: { now: () => clock.ms, setTimer: () => undefined, clearTimer: () => undefined },
    timing: TIMING,
    nodeId: ORIGIN,
  } as unknown as PirSnapshotCacheDeps;
  return new PirSnapshotCache(deps, { kernel: jsScanKernel, refreshMs: 500, keep, graceMs, rowBytes: () => 4096, maxSnapshotBytes: 2 ** 24 });
}

test('a superseded snapshot stays queryable for the grace, then only the newest `keep` stay', () => {
  const clock = { ms: 8000 * 5 + 100 };
  const cache = cacheAt(clock, 1, GRACE_MS);
  const named = snapshotOf(5, 0);
  cache.hold(named, true, 'a', clock.ms);
  // Rebuilds every 500 ms while a client's poll runs: the snapshot its pir-info named is still there.
  for (let i = 1; i <= 6; i++) {
    clock.ms += 500;
    cache.hold(snapshotOf(5, i), true, `b${i}`, clock.ms);
  }
  assert.ok(cache.get(named.snapshotId) !== undefined, 'named 3 s ago, 6 rebuilds since: still held');
  clock.ms += GRACE_MS;
  const newest = snapshotOf(5, 99);
  cache.hold(newest, true, 'z', clock.ms);
  assert.equal(cache.get(named.snapshotId), undefined, 'past the grace: dropped');
  assert.ok(cache.get(newest.snapshotId) !== undefined);
  assert.ok(cache.size <= 2, `only the newest and what is within the grace stay (held ${cache.size})`);
});

test('planted control: without a grace, the named snapshot is gone after `keep` rebuilds', () => {
  const clock = { ms: 8000 * 5 + 100 };
  const cache = cacheAt(clock, 1, 0);
  const named = snapshotOf(5, 0);
  cache.hold(named, true, 'a', clock.ms);
  clock.ms += 500;
  cache.hold(snapshotOf(5, 1), true, 'b', clock.ms);
  assert.equal(cache.get(named.snapshotId), undefined);
});

test('an epoch\'s snapshots outlive its turn as the previous epoch by the grace', () => {
  const clock = { ms: 8000 * 5 + 100 };
  const cache = cacheAt(clock, 3, GRACE_MS);
  const old = snapshotOf(5, 0);
  cache.hold(old, true, 'a', clock.ms);
  // Epoch 7 begins: 5 is no longer one of the two served, but a poll begun in epoch 6 may still read it.
  clock.ms = 8000 * 7 + 1000;
  cache.hold(snapshotOf(7, 0), true, 'b', clock.ms);
  assert.ok(cache.get(old.snapshotId) !== undefined, 'within the grace after epoch 6 ended');
  clock.ms = 8000 * 7 + GRACE_MS + 1;
  cache.hold(snapshotOf(7, 1), true, 'c', clock.ms);
  assert.equal(cache.get(old.snapshotId), undefined, 'past the grace');
});
