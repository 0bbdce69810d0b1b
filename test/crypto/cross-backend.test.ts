import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import * as fc from 'fast-check';
import { AuthenticationError, backends, CryptoError, InvalidLengthError, type Crypto } from '../../src/crypto/index.js';

/**
 * Every backend must give the same bytes, booleans and typed errors for the same inputs. Seeded
 * so a failure reproduces. ChaCha20 counters run up to and past the supported range (blocks
 * 0 .. 2^32 - 2), where both backends must raise the same CounterRangeError.
 */
const RUNS = { seed: 42, numRuns: 200 };
const all = Object.values(backends);
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** size 'max': fast-check's default size would keep arrays to about 10 bytes, never crossing a block. */
const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength, size: 'max' });
const key32 = bytes(32, 32);
const message = bytes(0, 300);

/** What a call came to, comparable across backends: its bytes or value, or its error's code. */
function outcome(run: () => unknown): string {
  try {
    const value = run();
    return value instanceof Uint8Array ? `bytes ${toHex(value)}` : `value ${String(value)}`;
  } catch (error) {
    return error instanceof CryptoError ? `${error.name} ${error.code}` : `untyped ${String(error)}`;
  }
}

function agree(run: (backend: Crypto) => unknown): void {
  const [first, ...rest] = all.map((backend) => outcome(() => run(backend)));
  rest.forEach((other, i) => assert.equal(other, first, `${all[i + 1].name} differs from ${all[0].name}`));
}

/**
 * Where a stream function writes: a new buffer, in place, a misaligned `out` (noble works in 32-bit
 * words), or an `out` overlapping the input in the same buffer: 5 bytes behind it, or one 32-bit
 * word ahead of it (word-aligned, the overlap noble itself refuses).
 * Partial overlap is defined on sodium only for AES (node:crypto reads all input before writing);
 * libsodium's ChaCha20 supports exact in-place only and garbles a partially overlapping `out`.
 */
type Placement = 'new' | 'in-place' | 'misaligned-out' | 'misaligned-in-place' | 'overlap-behind' | 'overlap-ahead';
const placement = fc.constantFrom<Placement>('new', 'in-place', 'misaligned-out', 'misaligned-in-place');
const anyPlacement = fc.constantFrom<Placement>(...(['overlap-behind', 'overlap-ahead'] as const), 'new', 'in-place', 'misaligned-out', 'misaligned-in-place');

function placed(input: Uint8Array, how: Placement): { source: Uint8Array; out: Uint8Array | undefined } {
  const length = input.length;
  const buffer = new Uint8Array(length + 5); // room for the largest shift
  switch (how) {
    case 'new':
      return { source: input, out: undefined };
    case 'in-place':
      buffer.set(input);
      return { source: buffer.subarray(0, length), out: buffer.subarray(0, length) };
    case 'misaligned-out':
      return { source: input, out: buffer.subarray(3, 3 + length) };
    case 'misaligned-in-place':
      buffer.set(input, 3);
      return { source: buffer.subarray(3, 3 + length), out: buffer.subarray(3, 3 + length) };
    case 'overlap-behind':
      buffer.set(input, 5);
      return { source: buffer.subarray(5), out: buffer.subarray(0, length) };
    case 'overlap-ahead':
      buffer.set(input);
      return { source: buffer.subarray(0, length), out: buffer.subarray(4, 4 + length) };
  }
}

/** A stream call through `placed`, also checking that a given `out` is what comes back. */
function streamed(input: Uint8Array, how: Placement, call: (source: Uint8Array, out: Uint8Array | undefined) => Uint8Array): Uint8Array {
  const { source, out } = placed(input, how);
  const result = call(source, out);
  if (out !== undefined) assert.equal(result, out);
  return result;
}

/** 2^255 - 19 + d, little-endian: the non-canonical u-coordinates (and their top-bit-set twins). */
const nonCanonicalU = fc.tuple(fc.integer({ min: 0, max: 18 }), fc.boolean()).map(([d, topBit]) => {
  const u = new Uint8Array(32).fill(0xff);
  u[0] = 0xed + d;
  u[31] = topBit ? 0xff : 0x7f;
  return u;
});

/**
 * Point encodings where Ed25519 verifiers are known to part ways: the small-order points, and
 * y = p + d (non-canonical), each also with the sign bit set.
 */
const edgeEncodings: Uint8Array[] = [
  ...ED25519_TORSION_SUBGROUP.map((text) => Uint8Array.from(Buffer.from(text, 'hex'))),
  ...Array.from({ length: 19 }, (_, d) => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0xed + d : i === 31 ? 0x7f : 0xff))),
].flatMap((encoding) => [encoding, Uint8Array.from(encoding, (byte, i) => (i === 31 ? byte | 0x80 : byte))]);

describe(`cross-backend agreement (${all.map((b) => b.name).join(' = ')})`, () => {
  test('X25519 with random scalars and points, non-canonical points included', () => {
    fc.assert(
      fc.property(key32, fc.oneof(key32, nonCanonicalU), (scalar, point) => {
        agree((b) => b.x25519(scalar, point));
        agree((b) => b.x25519Base(scalar));
      }),
      RUNS,
    );
  });

  test('Ed25519 keys, signatures and verification of good, tampered and random signatures', () => {
    fc.assert(
      fc.property(key32, message, fc.nat(511), bytes(32, 32), bytes(64, 64), (seed, msg, bit, randomKey, randomSignature) => {
        const publicKey = all[0].ed25519PublicKey(seed);
        const signature = all[0].ed25519Sign(seed, msg);
        agree((b) => b.ed25519PublicKey(seed));
        agree((b) => b.ed25519Sign(seed, msg));
        agree((b) => b.ed25519Verify(publicKey, msg, signature));
        const tampered = signature.slice();
        tampered[bit >> 3] ^= 1 << (bit & 7);
        agree((b) => b.ed25519Verify(publicKey, msg, tampered));
        agree((b) => b.ed25519Verify(randomKey, msg, randomSignature));
        agree((b) => b.ed25519Verify(randomKey, msg, signature));
      }),
      RUNS,
    );
  });

  test('Ed25519 verification with small-order and non-canonical R and A, and S >= L', () => {
    const edge = fc.option(fc.constantFrom(...edgeEncodings), { nil: undefined });
    const sMode = fc.constantFrom('kept', 'plus L', 'zero', 'random');
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    fc.assert(
      fc.property(key32, message, edge, edge, sMode, key32, (seed, msg, edgeR, edgeA, mode, random) => {
        const signature = all[0].ed25519Sign(seed, msg);
        if (edgeR !== undefined) signature.set(edgeR, 0);
        const s = BigInt('0x' + toHex(signature.slice(32).reverse()));
        const newS = mode === 'kept' ? s : mode === 'plus L' ? s + L : mode === 'zero' ? 0n : BigInt('0x' + toHex(random));
        const sBytes = Uint8Array.from(Buffer.from(newS.toString(16).padStart(64, '0').slice(-64), 'hex')).reverse();
        signature.set(sBytes, 32);
        const publicKey = edgeA ?? all[0].ed25519PublicKey(seed);
        agree((b) => b.ed25519Verify(publicKey, msg, signature));
      }),
      RUNS,
    );
  });

  test('BLAKE2b with output lengths 1..64, with and without a 16..64-byte key', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), message, fc.option(bytes(16, 64), { nil: undefined }), (outLength, msg, key) => {
        agree((b) => b.blake2b(outLength, msg, key));
      }),
      RUNS,
    );
  });

  test('ChaCha20 with 8- and 12-byte nonces, counters near 0 and near 2^32, any placement', () => {
    const counter = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 2 ** 32 - 8, max: 2 ** 32 - 1 }));
    fc.assert(
      fc.property(key32, fc.constantFrom(8, 12), bytes(12, 12), message, counter, placement, (key, nonceLength, nonce12, input, first, how) => {
        const nonce = nonce12.subarray(0, nonceLength);
        agree((b) => streamed(input, how, (source, out) => b.chacha20Xor(key, nonce, source, first, out)));
      }),
      RUNS,
    );
  });

  test('ChaCha20 keystream (chacha20Stream) with 8- and 12-byte nonces equals chacha20Xor of zeros', () => {
    fc.assert(
      fc.property(key32, fc.constantFrom(8, 12), bytes(12, 12), fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 1, 3), (key, nonceLength, nonce12, length, shift) => {
        const nonce = nonce12.subarray(0, nonceLength);
        // `out` a view at a byte offset (noble works in 32-bit words); the bytes around it stay as they were.
        agree((b) => {
          const buffer = new Uint8Array(length + 8).fill(0xff);
          b.chacha20Stream(key, nonce, buffer.subarray(shift, shift + length));
          return buffer;
        });
        assert.deepEqual(all[0].chacha20Stream(key, nonce, new Uint8Array(length)), all[0].chacha20Xor(key, nonce, new Uint8Array(length)));
      }),
      RUNS,
    );
  });

  test('XChaCha20, any placement', () => {
    fc.assert(
      fc.property(key32, bytes(24, 24), message, placement, (key, nonce, input, how) => {
        agree((b) => streamed(input, how, (source, out) => b.xchacha20Xor(key, nonce, source, out)));
      }),
      RUNS,
    );
  });

  test('XChaCha20-Poly1305 seal, open, and open of a tampered box', () => {
    fc.assert(
      fc.property(key32, bytes(24, 24), message, fc.option(bytes(0, 64), { nil: undefined }), fc.nat(), (key, nonce, plaintext, ad, bit) => {
        agree((b) => b.xchacha20Poly1305Seal(key, nonce, plaintext, ad));
        const sealed = all[0].xchacha20Poly1305Seal(key, nonce, plaintext, ad);
        agree((b) => b.xchacha20Poly1305Open(key, nonce, sealed, ad));
        const tampered = sealed.slice();
        const at = bit % (8 * sealed.length);
        tampered[at >> 3] ^= 1 << (at & 7);
        for (const backend of all) {
          assert.throws(() => backend.xchacha20Poly1305Open(key, nonce, tampered, ad), AuthenticationError, backend.name);
        }
      }),
      RUNS,
    );
  });

  test('HMAC-SHA256, HKDF-SHA256, HKDF-Expand and the SHA-2 hashes', () => {
    fc.assert(
      fc.property(bytes(0, 200), message, bytes(0, 100), bytes(0, 1024), fc.integer({ min: 1, max: 600 }), (key, msg, salt, info, length) => {
        agree((b) => b.hmacSha256(key, msg));
        agree((b) => b.hkdfSha256(msg, salt, info, length));
        agree((b) => b.hkdfSha256Expand(key, info, length - 1));
        agree((b) => b.sha256(msg));
        agree((b) => b.sha512(msg));
        agree((b) => b.sha512_256(msg));
      }),
      RUNS,
    );
  });

  test('AES-256-CTR with random IVs and IVs about to wrap the 128-bit counter, any placement', () => {
    const wrapping = fc.integer({ min: 0xf8, max: 0xff }).map((last) => new Uint8Array(16).fill(0xff).fill(last, 15));
    fc.assert(
      fc.property(key32, fc.oneof(bytes(16, 16), wrapping), message, anyPlacement, (key, iv, input, how) => {
        agree((b) => streamed(input, how, (source, out) => b.aes256CtrXor(key, iv, source, out)));
      }),
      RUNS,
    );
  });

  test('constantTimeEqual', () => {
    fc.assert(
      fc.property(bytes(0, 40), bytes(0, 40), fc.nat(), (a, other, at) => {
        const nearlyA = a.slice();
        if (a.length > 0) nearlyA[at % a.length] ^= 1 << (at % 8);
        for (const b of [a.slice(), nearlyA, other]) agree((backend) => backend.constantTimeEqual(a, b));
      }),
      RUNS,
    );
  });

  test('wrong lengths raise InvalidLengthError on every backend', () => {
    const length = (min: number, max: number, valid: (n: number) => boolean) => fc.integer({ min, max }).filter((n) => !valid(n));
    const is = (expected: number) => (n: number) => n === expected;
    const z = (n: number) => new Uint8Array(n);
    const cases: Array<[string, fc.Arbitrary<number>, (b: Crypto, n: number) => unknown]> = [
      ['x25519 scalar', length(0, 64, is(32)), (b, n) => b.x25519(z(n), z(32))],
      ['x25519 point', length(0, 64, is(32)), (b, n) => b.x25519(z(32), z(n))],
      ['x25519Base scalar', length(0, 64, is(32)), (b, n) => b.x25519Base(z(n))],
      ['ed25519 seed (public key)', length(0, 64, is(32)), (b, n) => b.ed25519PublicKey(z(n))],
      ['ed25519 seed (sign)', length(0, 64, is(32)), (b, n) => b.ed25519Sign(z(n), z(3))],
      ['blake2b output', length(-2, 200, (n) => n >= 1 && n <= 64), (b, n) => b.blake2b(n, z(3))],
      ['blake2b key', length(0, 100, (n) => n >= 16 && n <= 64), (b, n) => b.blake2b(32, z(3), z(n))],
      ['chacha20 key', length(0, 64, is(32)), (b, n) => b.chacha20Xor(z(n), z(12), z(10))],
      ['chacha20 nonce', length(0, 32, (n) => n === 8 || n === 12), (b, n) => b.chacha20Xor(z(32), z(n), z(10))],
      ['chacha20 out', length(0, 40, is(10)), (b, n) => b.chacha20Xor(z(32), z(8), z(10), 0, z(n))],
      ['chacha20Stream key', length(0, 64, is(32)), (b, n) => b.chacha20Stream(z(n), z(8), z(64))],
      ['chacha20Stream nonce', length(0, 32, (n) => n === 8 || n === 12), (b, n) => b.chacha20Stream(z(32), z(n), z(64))],
      ['xchacha20 key', length(0, 64, is(32)), (b, n) => b.xchacha20Xor(z(n), z(24), z(10))],
      ['xchacha20 nonce', length(0, 64, is(24)), (b, n) => b.xchacha20Xor(z(32), z(n), z(10))],
      ['xchacha20 out', length(0, 40, is(10)), (b, n) => b.xchacha20Xor(z(32), z(24), z(10), z(n))],
      ['seal key', length(0, 64, is(32)), (b, n) => b.xchacha20Poly1305Seal(z(n), z(24), z(10))],
      ['seal nonce', length(0, 64, is(24)), (b, n) => b.xchacha20Poly1305Seal(z(32), z(n), z(10))],
      ['open key', length(0, 64, is(32)), (b, n) => b.xchacha20Poly1305Open(z(n), z(24), z(30))],
      ['open nonce', length(0, 64, is(24)), (b, n) => b.xchacha20Poly1305Open(z(32), z(n), z(30))],
      ['hkdf output', length(-2, 9000, (n) => n >= 1 && n <= 8160), (b, n) => b.hkdfSha256(z(3), z(3), z(3), n)],
      ['hkdf-expand output', length(-2, 9000, (n) => n >= 0 && n <= 8160), (b, n) => b.hkdfSha256Expand(z(32), z(3), n)],
      ['aes key', length(0, 64, is(32)), (b, n) => b.aes256CtrXor(z(n), z(16), z(10))],
      ['aes iv', length(0, 64, is(16)), (b, n) => b.aes256CtrXor(z(32), z(n), z(10))],
      ['aes out', length(0, 40, is(10)), (b, n) => b.aes256CtrXor(z(32), z(16), z(10), z(n))],
    ];
    const wrongCall = fc.oneof(...cases.map(([name, wrong, call]) => wrong.map((n) => ({ name, n, call }))));
    fc.assert(
      fc.property(wrongCall, ({ name, n, call }) => {
        for (const backend of all) {
          assert.throws(() => call(backend, n), InvalidLengthError, `${backend.name}: ${name} of ${n}`);
        }
      }),
      RUNS,
    );
  });
});
