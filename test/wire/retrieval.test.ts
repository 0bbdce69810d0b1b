import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../src/codec/errors.js';
import { decodeRetrievalRequest, decodeRetrievalResponse, encodeFetchBucket, encodeFetchEpoch, encodeMessagesResponse } from '../../src/wire/retrieval.js';
import { encodeErrorResponse, RETRIEVAL_ERRORS, RetrievalRequestError } from '../../src/wire/retrieval-errors.js';
import { encodeStoredItem, parseStoredCiphertext } from '../../src/wire/stored-ciphertext.js';
import { fill, hex } from './support.js';

describe('bucket fetch bytes (docs/network.md)', () => {
  test('requests', () => {
    assert.equal(hex(encodeFetchBucket(0x01020304, 2 ** 40 + 5, 7, 16)), '010102030400000100000000050000000700000010');
    assert.equal(hex(encodeFetchEpoch(0xfffffffe, 123456789)), '02fffffffe00000000075bcd15');
  });

  test('responses', () => {
    const messages = [{ address: fill(32, 1), ciphertext: Uint8Array.of(0xaa, 0xbb) }, { address: fill(32, 100), ciphertext: new Uint8Array(0) }];
    const bytes = encodeMessagesResponse(9, messages);
    assert.equal(hex(bytes), '8100000009000000020102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2000000002aabb6465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f8081828300000000');
    assert.deepEqual(decodeRetrievalResponse(bytes), { type: 'messages', requestId: 9, messages });
    assert.equal(hex(encodeMessagesResponse(1, [])), '810000000100000000');
    const error = encodeErrorResponse(77, 4, 'épоch not held');
    assert.equal(hex(error), 'e00000004d00040010c3a970d0be6368206e6f742068656c64');
    assert.deepEqual(decodeRetrievalResponse(error), { type: 'error', requestId: 77, code: 4, reason: 'épоch not held' });
  });

  test('stored items: one layout for every kind', () => {
    assert.equal(hex(encodeStoredItem(fill(16, 0x10), Uint8Array.of(7))), '03101112131415161718191a1b1c1d1e1f07');
  });
});

describe('bucket fetches', () => {
  test('requests round-trip and bad ones are refused with a code', () => {
    assert.deepEqual(decodeRetrievalRequest(encodeFetchBucket(7, 123, 5, 16)), { type: 'bucket', requestId: 7, epoch: 123, bucket: 5, buckets: 16 });
    assert.deepEqual(decodeRetrievalRequest(encodeFetchEpoch(8, 2 ** 40)), { type: 'epoch', requestId: 8, epoch: 2 ** 40 });
    const refused = (bytes: Uint8Array) => {
      try {
        decodeRetrievalRequest(bytes);
      } catch (error) {
        assert.ok(error instanceof RetrievalRequestError);
        return [error.code, error.requestId];
      }
      assert.fail('accepted');
    };
    assert.deepEqual(refused(new Uint8Array(0)), ['malformed', 0]);
    assert.deepEqual(refused(Uint8Array.of(9, 0, 0, 0, 3)), ['unknown-command', 3]);
    assert.deepEqual(refused(encodeFetchBucket(4, 1, 0, 16).subarray(0, 20)), ['malformed', 4]);
    assert.deepEqual(refused(encodeFetchBucket(4, 1, 16, 16)), ['bad-buckets', 4]);
    assert.deepEqual(refused(encodeFetchBucket(4, 1, 0, 2 ** 20 + 1)), ['bad-buckets', 4]);
    const huge = encodeFetchEpoch(5, 0);
    huge.fill(0xff, 5, 13);
    assert.deepEqual(refused(huge), ['malformed', 5]);
  });

  test('responses have the documented layout', () => {
    const address = new Uint8Array(32).fill(3);
    const bytes = encodeMessagesResponse(9, [{ address, ciphertext: Uint8Array.of(1, 2, 3) }]);
    assert.deepEqual([...bytes.subarray(0, 9)], [0x81, 0, 0, 0, 9, 0, 0, 0, 1]);
    assert.deepEqual([...bytes.subarray(41, 48)], [0, 0, 0, 3, 1, 2, 3]);
    assert.deepEqual(decodeRetrievalResponse(bytes), { type: 'messages', requestId: 9, messages: [{ address, ciphertext: Uint8Array.of(1, 2, 3) }] });
    const error = encodeErrorResponse(10, RETRIEVAL_ERRORS['epoch-not-held'], 'gone');
    assert.deepEqual([...error], [0xe0, 0, 0, 0, 10, 0, 4, 0, 4, ...new TextEncoder().encode('gone')]);
    assert.deepEqual(decodeRetrievalResponse(error), { type: 'error', requestId: 10, code: 4, reason: 'gone' });
    assert.throws(() => decodeRetrievalResponse(bytes.subarray(0, 20)), DecodeError);
    assert.throws(() => decodeRetrievalResponse(bytes, 2), DecodeError, 'a ciphertext beyond the bound');
  });

  test('stored items', () => {
    const surbId = new Uint8Array(16).fill(9);
    const stored = encodeStoredItem(surbId, Uint8Array.of(7));
    assert.equal(stored[0], 0x03);
    assert.deepEqual(parseStoredCiphertext(stored), { surbId, payload: Uint8Array.of(7) });
    assert.equal(parseStoredCiphertext(Uint8Array.of(3)), undefined);
    assert.equal(parseStoredCiphertext(stored.subarray(0, 16)), undefined, 'shorter than a SURB ID');
    // The layouts before version 0x03 are not read: a forward delivery and a SURB reply.
    assert.equal(parseStoredCiphertext(Uint8Array.of(1, ...surbId, 5, 6)), undefined);
    assert.equal(parseStoredCiphertext(Uint8Array.of(2, ...surbId, 7)), undefined);
  });
});
