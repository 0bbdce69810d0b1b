import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ByteWriter } from '../../src/codec/bytes.js';
import { ClientError } from '../../src/client/errors.js';
import { decodeOutgoingBody, decodeOutgoingProgress, encodeOutgoingBody, encodeOutgoingProgress, type OutgoingBody } from '../../src/client/outgoing-record.js';

// The outgoing body (docs/client.md, "Mail store"): version 2 keeps the session's address key;
// a version-1 body, written before address keys, decodes with none (it goes to the card's address).
const base: OutgoingBody = {
  messageId: new Uint8Array(16).fill(1),
  recipient: new Uint8Array(32).fill(2),
  senderTag: new Uint8Array(16).fill(3),
  dataShards: 5,
  frame: new Uint8Array(100).fill(4),
  mailId: 42,
  addressKey: undefined,
};

test('version 2 round-trips with and without an address key', () => {
  for (const addressKey of [undefined, new Uint8Array(32).fill(9)]) {
    const body = { ...base, addressKey };
    const bytes = encodeOutgoingBody(body);
    assert.equal(bytes[0], 2);
    assert.deepEqual(decodeOutgoingBody(bytes), body);
  }
});

test('a version-1 body decodes with no address key; damage is corrupt-keystore', () => {
  const v1 = new ByteWriter(256).u8(1).bytes(base.messageId).bytes(base.recipient).bytes(base.senderTag)
    .u32(base.dataShards).u64(base.mailId).prefixed(4, base.frame).finish();
  assert.deepEqual(decodeOutgoingBody(v1), base);
  const v2 = encodeOutgoingBody({ ...base, addressKey: new Uint8Array(32) });
  for (const bad of [v2.subarray(0, v2.length - 1), new Uint8Array([...v2, 0]), new Uint8Array([3, ...v2.subarray(1)])]) {
    assert.throws(() => decodeOutgoingBody(bad), (error: unknown) => error instanceof ClientError && error.code === 'corrupt-keystore');
  }
});

// The state (docs/client.md, "What is persisted"): version 2 adds the delivery window's start and
// the wait for the recipient's server; a version-1 state decodes with neither.
test('the outgoing state round-trips; a version-1 state decodes without a window; damage is corrupt-keystore', () => {
  const ms = fc.option(fc.integer({ min: 1, max: 2 ** 48 }), { nil: undefined });
  fc.assert(
    fc.property(
      fc.record({
        pending: fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { maxLength: 40 }),
        resends: fc.integer({ min: 0, max: 0xffff }),
        nackResends: fc.integer({ min: 0, max: 0xffffffff }),
        deadlineMs: ms,
        started: fc.boolean(),
        windowStartMs: ms,
        waitingSinceMs: ms,
        failed: fc.boolean(),
      }),
      (progress) => {
        const bytes = encodeOutgoingProgress(progress);
        const plain = { ...progress };
        assert.equal(bytes[0], 2);
        assert.deepEqual(decodeOutgoingProgress(bytes), plain);
        for (const bad of [bytes.subarray(0, bytes.length - 1), new Uint8Array([...bytes, 0])]) {
          assert.throws(() => decodeOutgoingProgress(bad), (error: unknown) => error instanceof ClientError && error.code === 'corrupt-keystore');
        }
      },
    ),
    { seed: 10 },
  );
  const v1 = new ByteWriter(64).u8(1).u8(1).u16(2).u32(3).u64(5000).u32(1).u32(7).finish();
  assert.deepEqual(decodeOutgoingProgress(v1), { pending: [7], resends: 2, nackResends: 3, deadlineMs: 5000, started: true, windowStartMs: undefined, waitingSinceMs: undefined, failed: false });
});
