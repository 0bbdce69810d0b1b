import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { ACK_LENGTH, decodeAck, encodeAck, NACK_HEADER_LENGTH } from '../../src/e2e/ack.js';
import { MAX_DATA_SHARDS } from '../../src/e2e/padding.js';
import { E2eError } from '../../src/e2e/errors.js';

const isBadAck = (error: unknown) => error instanceof E2eError && error.code === 'bad-ack';
const SURB_REPLY = 2588;
const id = (fill: number) => new Uint8Array(16).fill(fill);
const sortedUnique = (list: number[]) => [...new Set(list)].sort((a, b) => a - b);

/** Missing lists of every shape: sparse, dense runs, everything in a range. */
const missingList = fc.oneof(
  fc.array(fc.integer({ min: 0, max: MAX_DATA_SHARDS - 1 }), { maxLength: 3000 }),
  fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 300 }),
  fc
    .tuple(fc.integer({ min: 0, max: MAX_DATA_SHARDS - 1 }), fc.integer({ min: 1, max: 4000 }), fc.integer({ min: 1, max: 5 }))
    .map(([start, count, step]) => Array.from({ length: count }, (_, i) => start + i * step).filter((n) => n < MAX_DATA_SHARDS)),
);

describe('ack codec', () => {
  test('an ACK is 18 bytes and round-trips', () => {
    const bytes = encodeAck({ messageId: id(5), kind: 'ack', missing: [] }, SURB_REPLY);
    assert.equal(bytes.length, ACK_LENGTH);
    assert.deepEqual(decodeAck(bytes), { messageId: id(5), kind: 'ack', missing: [], truncated: false });
  });

  test('a NACK round-trips within maxLength, listing the longest prefix that fits', () => {
    fc.assert(
      fc.property(missingList, fc.integer({ min: NACK_HEADER_LENGTH, max: 3000 }), fc.uint8Array({ minLength: 16, maxLength: 16 }), (missing, maxLength, messageId) => {
        const bytes = encodeAck({ messageId, kind: 'nack', missing }, maxLength);
        assert.ok(bytes.length <= maxLength);
        const decoded = decodeAck(bytes);
        const all = sortedUnique(missing);
        assert.equal(decoded.kind, 'nack');
        assert.deepEqual(decoded.messageId, messageId);
        assert.deepEqual(decoded.missing, all.slice(0, decoded.missing.length), 'a prefix');
        assert.equal(decoded.truncated, decoded.missing.length < all.length);
        if (decoded.truncated) {
          // one more index would not have fit
          const longer = encodeAck({ messageId, kind: 'nack', missing: all.slice(0, decoded.missing.length + 1) }, 1 << 20);
          assert.ok(longer.length > maxLength);
        }
      }),
      { seed: 41, numRuns: 400 },
    );
  });

  test('every pattern of up to MAX_DATA_SHARDS indices fits a SURB reply', () => {
    const patterns = [
      Array.from({ length: MAX_DATA_SHARDS }, (_, i) => i),
      Array.from({ length: MAX_DATA_SHARDS / 2 }, (_, i) => 2 * i), // alternating: the bitmap
      Array.from({ length: MAX_DATA_SHARDS / 3 }, (_, i) => 3 * i + 1),
      [0, MAX_DATA_SHARDS - 1],
    ];
    for (const missing of patterns) {
      const bytes = encodeAck({ messageId: id(1), kind: 'nack', missing }, SURB_REPLY);
      assert.ok(bytes.length <= SURB_REPLY);
      assert.deepEqual(decodeAck(bytes), { messageId: id(1), kind: 'nack', missing, truncated: false });
    }
    // the alternating pattern as a bitmap: 20 header + 1 base + 1024 bytes
    assert.equal(encodeAck({ messageId: id(1), kind: 'nack', missing: patterns[1] }, SURB_REPLY).length, 20 + 1 + 1024);
    // one long run: two varints
    assert.equal(encodeAck({ messageId: id(1), kind: 'nack', missing: patterns[0] }, SURB_REPLY).length, 20 + 1 + 2);
  });

  test('a NACK with nothing listed, and one that can list nothing', () => {
    assert.deepEqual(decodeAck(encodeAck({ messageId: id(2), kind: 'nack', missing: [] }, 20)), { messageId: id(2), kind: 'nack', missing: [], truncated: false });
    assert.deepEqual(decodeAck(encodeAck({ messageId: id(2), kind: 'nack', missing: [300] }, 21)), { messageId: id(2), kind: 'nack', missing: [], truncated: true });
  });

  test('encodeAck refuses what it cannot encode', () => {
    const cases: [Parameters<typeof encodeAck>[0], number][] = [
      [{ messageId: id(1), kind: 'nack', missing: [MAX_DATA_SHARDS] }, SURB_REPLY],
      [{ messageId: id(1), kind: 'nack', missing: [-1] }, SURB_REPLY],
      [{ messageId: id(1), kind: 'nack', missing: [1.5] }, SURB_REPLY],
      [{ messageId: id(1), kind: 'ack', missing: [1] }, SURB_REPLY],
      [{ messageId: id(1).subarray(1), kind: 'ack', missing: [] }, SURB_REPLY],
      [{ messageId: id(1), kind: 'ack', missing: [] }, ACK_LENGTH - 1],
      [{ messageId: id(1), kind: 'nack', missing: [] }, NACK_HEADER_LENGTH - 1],
    ];
    for (const [ack, maxLength] of cases) assert.throws(() => encodeAck(ack, maxLength), RangeError);
  });

  test('malformed acknowledgements are bad-ack', () => {
    const head = (type: number, ...rest: number[]) => Uint8Array.from([1, type, ...id(0), ...rest]);
    const cases = [
      new Uint8Array(0),
      Uint8Array.of(1),
      head(1).subarray(0, 17),
      Uint8Array.from([2, 1, ...id(0)]), // version 2
      head(3), // unknown type
      head(1, 0), // trailing byte after an ACK
      head(2), // NACK without flags
      head(2, 0), // NACK without encoding
      head(2, 2, 1), // unknown flag
      head(2, 0, 3), // unknown encoding
      head(2, 0, 1, 0x80, 0x00, 0), // overlong varint
      head(2, 0, 1, 0x80), // truncated varint
      head(2, 0, 1, 0x80, 0x80, 0x01, 0), // a three-byte varint
      head(2, 0, 1, 0x80, 0x40, 0), // gap 8192: out of range
      head(2, 0, 1, 0xff, 0x3f, 1), // run past the last index
      head(2, 0, 1, 0, 0, 0, 0), // a second run with gap 0
      head(2, 0, 1, 5), // a gap without its run length
      head(2, 0, 2, 0), // bitmap without bytes
      head(2, 0, 2, 0, 1, 0), // bitmap ending in a zero byte
      head(2, 0, 2, 0xff, 0x3f, 1, 1), // bitmap past the last index
    ];
    for (const bytes of cases) assert.throws(() => decodeAck(bytes), isBadAck, Buffer.from(bytes).toString('hex'));
  });

  test('random and mutated input: a valid acknowledgement or bad-ack, never anything else', () => {
    const valid = fc
      .tuple(missingList, fc.integer({ min: 20, max: SURB_REPLY }))
      .map(([missing, maxLength]) => encodeAck({ messageId: id(3), kind: 'nack', missing }, maxLength));
    const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat()).map(([bytes, edits, cut]) => {
      const out = bytes.slice(0, bytes.length - (cut % 3));
      for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
      return out;
    });
    const header = Uint8Array.from([1, 2, ...id(0)]);
    const tail = fc.uint8Array({ maxLength: 40 }).map((rest) => Uint8Array.from([...header, ...rest]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 60 }), tail, mutated), (bytes) => {
        let decoded;
        try {
          decoded = decodeAck(bytes);
        } catch (error) {
          assert.ok(isBadAck(error), String(error));
          return;
        }
        assert.ok(decoded.missing.length <= MAX_DATA_SHARDS);
        assert.deepEqual(decoded.missing, sortedUnique(decoded.missing));
        assert.ok(decoded.missing.every((n) => Number.isInteger(n) && n >= 0 && n < MAX_DATA_SHARDS));
        // whatever decodes re-encodes to the same meaning
        const again = decodeAck(encodeAck(decoded, 1 << 20));
        assert.deepEqual(again.missing, decoded.missing);
        assert.equal(again.kind, decoded.kind);
      }),
      { seed: 42, numRuns: 1500 },
    );
  });
});
