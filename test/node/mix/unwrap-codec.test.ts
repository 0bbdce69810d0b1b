/**
 * The unwrap workers' outcome encoding (src/node/mix/unwrap-codec.ts): every outcome a worker can
 * give comes back equal on the main thread, sharing nothing with the answer buffer (the results'
 * bytes are the arrays the worker moved), and a damaged answer is refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { decodeOutcomes, encodeOutcomes } from '../../../src/node/mix/unwrap-codec.js';
import type { UnwrapOutcome } from '../../../src/node/runtime/index.js';
import type { RoutingCommand, UnwrapResult } from '../../../src/sphinx/index.js';

const RUNS = { seed: 20261206, numRuns: 300 };

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const seconds = fc.double({ min: 0, max: 10, noNaN: true });
const keyIndex = fc.integer({ min: 0, max: 3 });

/** A hop's commands: every next-hop MAC of one length, as the suite's (16 or 32 bytes). */
const commandList: fc.Arbitrary<RoutingCommand[]> = fc.constantFrom(16, 32).chain((macLength) =>
  fc.array(
    fc.oneof(
      fc.record({ type: fc.constant('next-hop' as const), nodeId: bytes(32), mac: bytes(macLength) }),
      fc.record({ type: fc.constant('recipient' as const), recipient: bytes(32) }),
      fc.record({ type: fc.constant('surb-reply' as const), surbId: bytes(16) }),
      fc.record({ type: fc.constant('delay' as const), delayMs: fc.integer({ min: 0, max: 0xffffffff }) }),
    ),
    { maxLength: 5 },
  ),
);

/** A result as Sphinx.unwrap builds it: its fields are those of its commands (the last of a type). */
function resultOf(kind: UnwrapResult['kind'], replayTag: Uint8Array, commands: RoutingCommand[], data: Uint8Array): UnwrapResult | undefined {
  const last = <T extends RoutingCommand['type']>(type: T) =>
    commands.filter((c): c is Extract<RoutingCommand, { type: T }> => c.type === type).at(-1);
  const nextHop = last('next-hop');
  const surbId = last('surb-reply')?.surbId;
  const recipient = last('recipient')?.recipient;
  if (kind === 'forward') {
    return nextHop === undefined ? undefined : { kind, nextHop: nextHop.nodeId, delayMs: last('delay')?.delayMs, packet: data, replayTag, commands };
  }
  if (kind === 'surb-reply') return surbId === undefined ? undefined : { kind, recipient, surbId, payload: data, replayTag, commands };
  return { kind, recipient, payload: data, replayTag, commands };
}

const result: fc.Arbitrary<UnwrapOutcome> = fc
  .record({
    kind: fc.constantFrom('forward' as const, 'deliver' as const, 'surb-reply' as const),
    tag: bytes(32),
    commands: commandList,
    data: fc.uint8Array({ maxLength: 3096 }),
    keyIndex,
    seconds,
  })
  .map(({ kind, tag, commands, data, keyIndex: k, seconds: s }): UnwrapOutcome | undefined => {
    // Plain objects: fast-check's records have no prototype, and deepEqual compares prototypes.
    const made = resultOf(kind, tag, commands.map((c) => ({ ...c })), data);
    return made === undefined ? undefined : { ok: true, keyIndex: k, result: made, seconds: s };
  })
  .filter((outcome): outcome is UnwrapOutcome => outcome !== undefined);

const failure: fc.Arbitrary<UnwrapOutcome> = fc.record({
  ok: fc.constant(false as const),
  keyIndex,
  code: fc.constantFrom('bad-mac', 'bad-payload', 'bad-version', 'bad-group-element', 'malformed-commands', 'internal'),
  replayTag: fc.option(bytes(32), { nil: undefined }),
  seconds,
}).map((outcome) => ({ ...outcome }));

const outcomes = fc.array(fc.oneof(result, failure), { maxLength: 40 });

describe('unwrap outcome encoding', () => {
  test('gives back the outcomes it was given, in order, from a reused buffer or a new one', () => {
    fc.assert(
      fc.property(outcomes, fc.integer({ min: 0, max: 200_000 }), (given, room) => {
        const into = new ArrayBuffer(room);
        const { buffer, length, bytes } = encodeOutcomes(given, into);
        assert.ok(length <= buffer.byteLength);
        if (length <= room) assert.equal(buffer, into);
        assert.equal(bytes.length, given.filter((outcome) => outcome.ok).length);
        // As the main thread gets it: the records in a buffer of their own, the bytes cloned.
        const view = new Uint8Array(buffer, 0, length);
        const decoded = decodeOutcomes(view, given.length, bytes.map((array) => array.slice()));
        assert.deepEqual(decoded, given);
        // Nothing is a view of the records: the buffer can be reused at once.
        view.fill(0xee);
        assert.deepEqual(decoded, given);
      }),
      RUNS,
    );
  });

  test('refuses a cut, lengthened or damaged answer', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(result, failure), { minLength: 1, maxLength: 8 }), fc.nat(), (given, at) => {
        const { buffer, length, bytes } = encodeOutcomes(given);
        const whole = new Uint8Array(buffer, 0, length);
        assert.throws(() => decodeOutcomes(whole.subarray(0, at % length), given.length, bytes), RangeError);
        const longer = new Uint8Array(length + 1);
        longer.set(whole);
        assert.throws(() => decodeOutcomes(longer, given.length, bytes), RangeError);
        assert.throws(() => decodeOutcomes(whole, given.length + 1, bytes), RangeError);
        assert.throws(() => decodeOutcomes(whole, given.length, [...bytes, new Uint8Array(1)]), RangeError);
        if (bytes.length > 0) assert.throws(() => decodeOutcomes(whole, given.length, bytes.slice(1)), RangeError);
        const badKind = whole.slice();
        badKind[0] = 9;
        assert.throws(() => decodeOutcomes(badKind, given.length, bytes), RangeError);
      }),
      RUNS,
    );
  });

  test('refuses an outcome it cannot lay out', () => {
    const tag = new Uint8Array(32);
    const forward = (nodeId: Uint8Array): UnwrapOutcome => ({
      ok: true,
      keyIndex: 0,
      seconds: 0,
      result: { kind: 'forward', nextHop: nodeId, delayMs: undefined, packet: new Uint8Array(8), replayTag: tag, commands: [{ type: 'next-hop', nodeId, mac: new Uint8Array(32) }] },
    });
    assert.throws(() => encodeOutcomes([forward(new Uint8Array(31))]), RangeError);
    assert.throws(() => encodeOutcomes([{ ok: false, keyIndex: 256, code: 'bad-mac', replayTag: undefined, seconds: 0 }]), RangeError);
    assert.throws(() => encodeOutcomes([{ ok: false, keyIndex: 0, code: 'bad-\u2013', replayTag: undefined, seconds: 0 }]), RangeError);
  });
});
