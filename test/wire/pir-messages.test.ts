/** The PIR messages of the provider protocol (src/wire/pir-messages.ts) and the choice of a provider's partner. */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../src/codec/errors.js';
import { getCrypto } from '../../src/crypto/index.js';
import { MAX_KEY_BYTES } from '../../src/pir/index.js';
import {
  decodePirRequest,
  decodePirResponse,
  encodePirAck,
  encodePirAnswer,
  encodePirChunk,
  encodePirDelta,
  encodePirInfo,
  encodePirInfoResponse,
  encodePirOffer,
  encodePirQuery,
  pirOfferSignedBytes,
  PIR_DELTA_BYTES,
  PIR_OFFER_BYTES,
} from '../../src/wire/pir-messages.js';
import { pirPartner } from '../../src/wire/pir-partner.js';
import { RetrievalRequestError } from '../../src/wire/retrieval-errors.js';
import { fill, hex } from './support.js';

const crypto = getCrypto('sodium');
const ORIGIN = crypto.blake2b(32, new TextEncoder().encode('origin'));

describe('PIR message bytes (docs/network.md)', () => {
  const offer = { epoch: 99, snapshotId: fill(32, 0x30), rows: 128, buckets: 64, slots: 3, slotBytes: 1000, rowBytes: 4096, origin: fill(32, 0x50), signature: fill(64, 0x70) };
  test('requests', () => {
    assert.equal(hex(encodePirInfo(3, 2 ** 33)), '03000000030000000200000000');
    assert.equal(hex(encodePirQuery(4, fill(32, 0x20), fill(38, 0x40))), '0400000004202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465');
    assert.equal(hex(encodePirOffer(5, offer)), '05000000050000000000000063303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f000000800000004000000003000003e800001000505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
    assert.equal(hex(pirOfferSignedBytes(offer, fill(32, 0x90))), '756d6272612f7069722d6f666665722f76320000000000000063303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f000000800000004000000003000003e800001000505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf');
    assert.equal(hex(encodePirChunk(6, fill(32, 0x21), 61440, fill(5, 0xe0))), '06000000062122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f400000f000e0e1e2e3e4');
    // pir-delta: the pir-offer fields and signature, then the base snapshot id and the delta's length.
    const delta = encodePirDelta(11, offer, fill(32, 0xb0), 70_000);
    assert.equal(hex(delta.subarray(0, 5)), '070000000b');
    assert.equal(hex(delta.subarray(5, PIR_OFFER_BYTES)), hex(encodePirOffer(5, offer).subarray(5)));
    assert.equal(hex(delta.subarray(PIR_OFFER_BYTES)), 'b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf00011170');
  });

  test('responses', () => {
    const info = { epoch: 12, snapshotId: fill(32, 0x31), rows: 256, buckets: 128, slots: 2, slotBytes: 500, rowBytes: 1100 };
    assert.equal(hex(encodePirInfoResponse(7, info)), '8300000007000000000000000c3132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50000001000000008000000002000001f40000044c');
    assert.equal(hex(encodePirAnswer(8, fill(10, 0x01))), '84000000080102030405060708090a');
    assert.equal(hex(encodePirAck(9, false)), '850000000900');
    assert.equal(hex(encodePirAck(10, true)), '850000000a01');
  });
});

describe('PIR messages', () => {
  const id = crypto.blake2b(32, Uint8Array.of(1));
  test('requests and responses round-trip', () => {
    assert.deepEqual(decodePirRequest(encodePirInfo(7, 2 ** 40)), { type: 'pir-info', requestId: 7, epoch: 2 ** 40 });
    const dpfKey = new Uint8Array(205).fill(5);
    assert.deepEqual(decodePirRequest(encodePirQuery(8, id, dpfKey)), { type: 'pir-query', requestId: 8, snapshotId: id, key: dpfKey });
    const offer = { epoch: 3, snapshotId: id, rows: 16, buckets: 16, slots: 2, slotBytes: 136, rowBytes: 4096, origin: ORIGIN, signature: new Uint8Array(64).fill(9) };
    const encoded = encodePirOffer(9, offer);
    assert.equal(encoded.length, PIR_OFFER_BYTES);
    assert.deepEqual(decodePirRequest(encoded), { type: 'pir-offer', requestId: 9, offer });
    const delta = encodePirDelta(14, offer, ORIGIN, 1234);
    assert.equal(delta.length, PIR_DELTA_BYTES);
    assert.deepEqual(decodePirRequest(delta), { type: 'pir-delta', requestId: 14, offer, baseId: ORIGIN, deltaBytes: 1234 });
    assert.deepEqual(decodePirRequest(encodePirChunk(10, id, 4096, Uint8Array.of(1, 2, 3))), { type: 'pir-chunk', requestId: 10, snapshotId: id, offset: 4096, data: Uint8Array.of(1, 2, 3) });
    const info = { epoch: 5, snapshotId: id, rows: 40, buckets: 32, slots: 5, slotBytes: 2673, rowBytes: 16_384 };
    assert.deepEqual(decodePirResponse(encodePirInfoResponse(11, info)), { type: 'pir-info', requestId: 11, info });
    assert.deepEqual(decodePirResponse(encodePirAnswer(12, Uint8Array.of(4, 5))), { type: 'pir-answer', requestId: 12, answer: Uint8Array.of(4, 5) });
    assert.deepEqual(decodePirResponse(encodePirAck(13, true)), { type: 'pir-ack', requestId: 13, complete: true });
    assert.throws(() => decodePirResponse(Uint8Array.of(0x85, 0, 0, 0, 1, 2)), DecodeError);
    // The signed bytes bind the partner.
    assert.notDeepEqual(pirOfferSignedBytes(offer, ORIGIN), pirOfferSignedBytes(offer, id));
  });

  test('bad requests are refused with their codes', () => {
    const refused = (bytes: Uint8Array) => {
      try {
        decodePirRequest(bytes);
      } catch (error) {
        assert.ok(error instanceof RetrievalRequestError);
        return [error.code, error.requestId];
      }
      assert.fail('accepted');
    };
    assert.deepEqual(refused(encodePirInfo(3, 1).subarray(0, 12)), ['malformed', 3]);
    assert.deepEqual(refused(encodePirQuery(4, id, new Uint8Array(MAX_KEY_BYTES + 1))), ['key-too-large', 4]);
    assert.deepEqual(refused(encodePirQuery(5, id, new Uint8Array(37))), ['bad-key', 5]);
    assert.deepEqual(refused(encodePirQuery(6, id, new Uint8Array(0)).subarray(0, 20)), ['malformed', 6]);
    assert.deepEqual(refused(encodePirOffer(7, { epoch: 3, snapshotId: id, rows: 16, buckets: 16, slots: 2, slotBytes: 136, rowBytes: 4096, origin: ORIGIN, signature: new Uint8Array(64) }).subarray(0, 100)), ['malformed', 7]);
    assert.deepEqual(refused(encodePirChunk(8, id, 0, Uint8Array.of(1)).subarray(0, 41)), ['malformed', 8]);
    const offer = { epoch: 3, snapshotId: id, rows: 16, buckets: 16, slots: 2, slotBytes: 136, rowBytes: 4096, origin: ORIGIN, signature: new Uint8Array(64) };
    const delta = encodePirDelta(9, offer, id, 1);
    assert.deepEqual(refused(delta.subarray(0, PIR_DELTA_BYTES - 1)), ['malformed', 9]);
    assert.deepEqual(refused(Uint8Array.of(...delta, 0)), ['malformed', 9]);
    const empty = delta.slice();
    empty[PIR_DELTA_BYTES - 1] = 0;
    assert.deepEqual(refused(empty), ['malformed', 9], 'a delta of no bytes');
    assert.throws(() => encodePirDelta(9, offer, id, 0), RangeError);
  });

  test('partners: the next provider in node-ID order, cyclically; none with a single provider', () => {
    const node = (n: number, layer = 4) => ({ nodeId: Uint8Array.of(n, ...new Uint8Array(31)), family: `op-${n}`, layer, addresses: { link: 'x:1', ws: `x:${n}` } }) as never;
    const doc = { nodes: [node(1), node(2, 3), node(5), node(9)] };
    const partnerOf = (n: number) => (pirPartner(doc, Uint8Array.of(n, ...new Uint8Array(31))) as { nodeId: Uint8Array } | undefined)?.nodeId[0];
    assert.equal(partnerOf(1), 5);
    assert.equal(partnerOf(5), 9);
    assert.equal(partnerOf(9), 1);
    assert.equal(partnerOf(2), undefined, 'a mix is no PIR server');
    assert.equal(pirPartner({ nodes: [node(1)] }, Uint8Array.of(1, ...new Uint8Array(31))), undefined);
  });
});
