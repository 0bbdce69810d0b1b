import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends, InvalidLengthError } from '../../src/crypto/index.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const counting = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i);

/** RFC 7693 Appendix A: BLAKE2b-512("abc"). */
const ABC_512 =
  'ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1' +
  '7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923';

/**
 * Keyed BLAKE2b-512 from the BLAKE2 reference's blake2b-kat.txt: key = 00 01 .. 3f, message =
 * 00 01 02 .. of the given length. Each value also checked against python3's hashlib.blake2b
 * (the reference C code): hashlib.blake2b(bytes(range(n)), key=bytes(range(64))).hexdigest().
 */
const KEYED_KAT: Record<number, string> = {
  0:
    '10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786' +
    'b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568',
  1:
    '961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4' +
    '187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd',
  2:
    'da2cfbe2d8409a0f38026113884f84b50156371ae304c4430173d08a99d9fb1b' +
    '983164a3770706d537f49e0c916d9f32b95cc37a95b99d857436f0232c88a965',
  255:
    '142709d62e28fcccd0af97fad0f8465b971e82201dc51070faa0372aa43e9248' +
    '4be1c1e73ba10906d5d1853db6a4106e0a7bf9800d373d6dee2d46d62ef2a461',
};

/** RFC 7693 Appendix E's selftest_seq: a Fibonacci-like byte sequence seeded with `seed`. */
function selftestSequence(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let a = Math.imul(0xdead4bad, seed) >>> 0;
  let b = 1;
  for (let i = 0; i < length; i++) {
    const t = (a + b) >>> 0;
    a = b;
    b = t;
    out[i] = t >>> 24;
  }
  return out;
}

/**
 * Output lengths below 16: RFC 7693 allows 1..64 but publishes no vector, so these come from
 * python3's hashlib.blake2b (the BLAKE2 reference code): hashlib.blake2b(b'abc', digest_size=n).
 */
const SHORT_ABC: Record<number, string> = { 1: '6b', 8: 'd8bb14d833d59559', 15: 'cb322ea749b92c9a46ca598e516025' };

for (const backend of Object.values(backends)) {
  describe(`BLAKE2b (${backend.name})`, () => {
    test('RFC 7693 Appendix A: BLAKE2b-512("abc")', () => {
      assert.equal(toHex(backend.blake2b(64, new TextEncoder().encode('abc'))), ABC_512);
    });

    test('BLAKE2b-256("abc") (python3 hashlib.blake2b(digest_size=32))', () => {
      // The output length is a parameter of the hash, not a truncation of the 512-bit digest.
      assert.equal(
        toHex(backend.blake2b(32, new TextEncoder().encode('abc'))),
        'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319',
      );
    });

    test('RFC 7693 Appendix E self-test: BLAKE2b-256 of 48 keyed and unkeyed hashes', () => {
      const hashes: Uint8Array[] = [];
      for (const outLength of [20, 32, 48, 64]) {
        for (const inLength of [0, 3, 128, 129, 255, 1024]) {
          const input = selftestSequence(inLength, inLength);
          hashes.push(backend.blake2b(outLength, input));
          hashes.push(backend.blake2b(outLength, input, selftestSequence(outLength, outLength)));
        }
      }
      const all = Uint8Array.from(hashes.flatMap((hash) => [...hash]));
      assert.equal(toHex(backend.blake2b(32, all)), 'c23a7800d98123bd10f506c61e29da5603d763b8bbad2e737f5e765a7bccd475');
    });

    test(
      'output lengths 1..15',
      () => {
        for (const [length, expected] of Object.entries(SHORT_ABC)) {
          assert.equal(toHex(backend.blake2b(Number(length), new TextEncoder().encode('abc'))), expected);
        }
      },
    );

    for (const [length, expected] of Object.entries(KEYED_KAT)) {
      test(`blake2b-kat keyed, ${length}-byte message`, () => {
        assert.equal(toHex(backend.blake2b(64, counting(Number(length)), counting(64))), expected);
      });
    }

    test('wrong output or key lengths raise InvalidLengthError', () => {
      const message = hex('00');
      for (const outLength of [0, 65, 1.5]) {
        assert.throws(() => backend.blake2b(outLength, message), InvalidLengthError, `output ${outLength}`);
      }
      for (const keyLength of [0, 15, 65]) {
        assert.throws(() => backend.blake2b(32, message, new Uint8Array(keyLength)), InvalidLengthError, `key ${keyLength}`);
      }
      assert.throws(() => backend.blake2b(32, message, undefined, new Uint8Array(31)), InvalidLengthError, 'output buffer');
    });

    test('with an output buffer: the same digest, written into a view of a larger buffer (long and short outputs)', () => {
      for (const outLength of [64, 32, 8]) {
        const scratch = new Uint8Array(outLength + 16).fill(0xaa);
        const out = scratch.subarray(8, 8 + outLength);
        assert.equal(backend.blake2b(outLength, counting(200), counting(32), out), out);
        assert.equal(toHex(out), toHex(backend.blake2b(outLength, counting(200), counting(32))));
        assert.ok(scratch.subarray(0, 8).every((byte) => byte === 0xaa) && scratch.subarray(8 + outLength).every((byte) => byte === 0xaa));
      }
    });
  });
}
