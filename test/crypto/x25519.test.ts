import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends, InvalidLengthError, LowOrderPointError } from '../../src/crypto/index.js';
import { SMALL_ORDER_POINTS } from '../support/bytes.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** RFC 7748 section 5.2, the two single-call vectors (the second u has its top bit set). */
const RFC7748_VECTORS = [
  {
    scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
    u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
    out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
  },
  {
    scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
    u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
    out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
  },
];

/** RFC 7748 section 6.1. */
const ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const ALICE_PUBLIC = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
const BOB_PRIVATE = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
const BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';


const NINE = hex('09'.padEnd(64, '0'));

for (const backend of Object.values(backends)) {
  describe(`X25519 (${backend.name})`, () => {
    test('RFC 7748 5.2 test vectors', () => {
      for (const { scalar, u, out } of RFC7748_VECTORS) {
        assert.equal(toHex(backend.x25519(hex(scalar), hex(u))), out);
      }
    });

    test('RFC 7748 5.2 iterated: after 1 and 1,000 iterations', () => {
      // k = u = 9; each round k <- X25519(k, u), u <- old k. (1,000,000 rounds would take minutes.)
      let k = NINE;
      let u = NINE;
      for (let i = 1; i <= 1000; i++) {
        [k, u] = [backend.x25519(k, u), k];
        if (i === 1) assert.equal(toHex(k), '422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
      }
      assert.equal(toHex(k), '684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
    });

    test('RFC 7748 6.1 Diffie-Hellman between Alice and Bob', () => {
      assert.equal(toHex(backend.x25519Base(hex(ALICE_PRIVATE))), ALICE_PUBLIC);
      assert.equal(toHex(backend.x25519Base(hex(BOB_PRIVATE))), BOB_PUBLIC);
      assert.equal(toHex(backend.x25519(hex(ALICE_PRIVATE), hex(BOB_PUBLIC))), SHARED);
      assert.equal(toHex(backend.x25519(hex(BOB_PRIVATE), hex(ALICE_PUBLIC))), SHARED);
    });

    test('u is read mod p with its top bit masked (RFC 7748 section 5)', () => {
      const scalar = hex(ALICE_PRIVATE);
      const expected = toHex(backend.x25519(scalar, NINE));
      const topBitSet = NINE.slice();
      topBitSet[31] |= 0x80;
      const plusP = hex('f6ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'); // 9 + p
      assert.equal(toHex(backend.x25519(scalar, topBitSet)), expected);
      assert.equal(toHex(backend.x25519(scalar, plusP)), expected);
    });

    test('a small-order point raises LowOrderPointError', () => {
      for (const point of SMALL_ORDER_POINTS) {
        assert.throws(
          () => backend.x25519(hex(ALICE_PRIVATE), point),
          (error: unknown) => error instanceof LowOrderPointError && error.code === 'low-order-point',
          toHex(point),
        );
      }
    });

    test('wrong lengths raise InvalidLengthError', () => {
      assert.throws(() => backend.x25519(new Uint8Array(31), NINE), InvalidLengthError);
      assert.throws(() => backend.x25519(hex(ALICE_PRIVATE), new Uint8Array(33)), InvalidLengthError);
      assert.throws(() => backend.x25519Base(new Uint8Array(0)), InvalidLengthError);
      assert.throws(() => backend.x25519(hex(ALICE_PRIVATE), hex(BOB_PUBLIC), new Uint8Array(31)), InvalidLengthError);
    });

    test('with an output buffer: the same bytes, written into a view of a larger buffer', () => {
      const scratch = new Uint8Array(96).fill(0xaa);
      const out = scratch.subarray(32, 64);
      assert.equal(backend.x25519(hex(ALICE_PRIVATE), hex(BOB_PUBLIC), out), out);
      assert.equal(toHex(out), SHARED);
      assert.ok(scratch.subarray(0, 32).every((byte) => byte === 0xaa) && scratch.subarray(64).every((byte) => byte === 0xaa));
    });
  });
}
