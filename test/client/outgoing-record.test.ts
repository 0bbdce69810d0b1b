import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteWriter } from '../../src/codec/bytes.js';
import { ClientError } from '../../src/client/errors.js';
import { decodeOutgoingBody, encodeOutgoingBody, type OutgoingBody } from '../../src/client/outgoing-record.js';

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
