import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import aez from 'aez';
import * as fc from 'fast-check';
import { AEZ_KEY_LENGTH, AEZ_NONCE_LENGTH, aezSprpDecrypt, aezSprpEncrypt } from '../../src/crypto/aez.js';
import { InvalidLengthError } from '../../src/crypto/errors.js';

/**
 * Our AEZ v5 SPRP (tau = 0, no AD) must give the same bytes as the `aez` npm package, a port of
 * the AEZ reference code, which is the only place that package is still imported. Seeded, so a
 * failure reproduces. The known answers below were computed once with the package.
 */
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
/** size 'max': fast-check's default size would keep arrays to about 10 bytes. */
const bytes = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength, size: 'max' });
const key = bytes(AEZ_KEY_LENGTH, AEZ_KEY_LENGTH);
const nonce = bytes(AEZ_NONCE_LENGTH, AEZ_NONCE_LENGTH);

function packageEncrypt(k: Uint8Array, n: Uint8Array, m: Uint8Array): string {
  return toHex(aez.encrypt(buf(k), buf(n), null, 0, buf(m)));
}

function packageDecrypt(k: Uint8Array, n: Uint8Array, c: Uint8Array): string {
  const out = aez.decrypt(buf(k), buf(n), null, 0, buf(c));
  assert.ok(out !== null);
  return toHex(out);
}

let checked = 0;

/** Both directions agree with the package, invert each other and leave their inputs alone. */
function agree(k: Uint8Array, n: Uint8Array, m: Uint8Array): void {
  const copy = m.slice();
  const c = aezSprpEncrypt(k, n, m);
  assert.equal(c.length, m.length);
  assert.equal(toHex(c), packageEncrypt(k, n, m), `encrypt, ${m.length} bytes`);
  const d = aezSprpDecrypt(k, n, m);
  assert.equal(toHex(d), packageDecrypt(k, n, m), `decrypt, ${m.length} bytes`);
  assert.equal(toHex(aezSprpDecrypt(k, n, c)), toHex(m), `decrypt(encrypt(m)), ${m.length} bytes`);
  assert.equal(toHex(aezSprpEncrypt(k, n, d)), toHex(m), `encrypt(decrypt(m)), ${m.length} bytes`);
  assert.equal(toHex(m), toHex(copy), 'the input is unchanged');
  checked++;
}

/** Deterministic bytes: start, start + step, ... mod 256. */
const sequence = (length: number, start: number, step: number): Uint8Array =>
  Uint8Array.from({ length }, (_, i) => (start + i * step) & 255);

describe('AEZ v5 SPRP: equality with the aez package', () => {
  test('every length from 32 to 100 bytes', () => {
    for (let length = 32; length <= 100; length++) {
      fc.assert(fc.property(key, nonce, bytes(length, length), agree), { seed: 1000 + length, numRuns: 8 });
    }
  });

  test('random lengths from 32 to 4096 bytes', () => {
    fc.assert(fc.property(key, nonce, bytes(32, 4096), agree), { seed: 42, numRuns: 300 });
  });

  test('lengths around fragment sizes, chunk counts and offset doublings (every 8 chunks)', () => {
    // 288 + 32k bytes: 8 + k full chunks before the last 32 bytes; 2620: the default geometry.
    const lengths = [
      111, 112, 113, 127, 128, 129, 143, 144, 145, 159, 160, 161, 255, 256, 257, 287, 288, 289, 303, 304,
      305, 319, 320, 321, 543, 544, 545, 559, 560, 561, 575, 576, 577, 800, 1023, 1024, 1025, 2047, 2048,
      2049, 2620, 4095, 4096,
    ];
    for (const length of lengths) {
      fc.assert(fc.property(key, nonce, bytes(length, length), agree), { seed: length, numRuns: 4 });
    }
  });

  test('inputs that are unaligned views into a larger buffer', () => {
    fc.assert(
      fc.property(bytes(48 + 16 + 4096 + 3, 48 + 16 + 4096 + 3), fc.integer({ min: 32, max: 4096 }), fc.nat(3), (pool, length, shift) => {
        const k = pool.subarray(shift, shift + 48);
        const n = pool.subarray(48 + shift, 48 + shift + 16);
        const m = pool.subarray(64 + shift, 64 + shift + length);
        agree(k, n, m);
        assert.equal(toHex(aezSprpEncrypt(k, n, m)), toHex(aezSprpEncrypt(k.slice(), n.slice(), m.slice())));
      }),
      { seed: 7, numRuns: 50 },
    );
  });

  test('a message larger than the shared scratch buffer, then a small one again', () => {
    const k = sequence(48, 3, 7);
    const n = sequence(16, 5, 11);
    agree(k, n, sequence(300_001, 1, 29));
    agree(k, n, sequence(2620, 1, 29));
  });

  test('checked enough cases', () => {
    assert.ok(checked >= 69 * 8 + 300 + 43 * 4 + 50 + 2, `only ${checked} cases`);
  });
});

describe('AEZ v5 SPRP: known answers (computed once with the aez package)', () => {
  // Key 00 01 .. 2f, nonce 80 81 .. 8f, message (7 + 13 i) mod 256 for i = 0 .. length - 1.
  const k = sequence(48, 0, 1);
  const n = sequence(16, 0x80, 1);
  const message = (length: number): Uint8Array => sequence(length, 7, 13);
  const vectors: { length: number; encrypt: string; decrypt: string }[] = [
    {
      length: 32,
      encrypt: '516373ecb54ab41c1a63af3184c69f19e3a97737cee641106fd7e79e31c27297',
      decrypt: 'a00eb6de52f04ca128a393027b585bdf7fc403e9ff6268613f0fdf18081288d8',
    },
    {
      length: 47,
      encrypt: '7946779d8540690b98c813187a338bd654fac9fb696c98aaaf1a87b3d862eb02148449a8e146d77c15c45b0b0d9a4e',
      decrypt: '38a6a369a1cdf717054b432c318333ef8d15a1188427f94b5d685be48622094bd34f507244a94f744f7ba5ea2f39d4',
    },
    {
      length: 48,
      encrypt:
        '2c7bc0dbc6741fe4822dbabebe773b68b9ddfe0d691f32b98b3fc26d17972967f6a55013602cbc3750c12c152d4ed121',
      decrypt:
        'e5c9106d3bf398aed835d8e360e32ff5af54194b93a354bbc27627c612a93f30904fa80afa65e232a9de5c71bfc0e02a',
    },
    {
      length: 63,
      encrypt:
        'dddd5bd443e00df6018d5e4d6c4f70b3a897809547360d8e5933a96b5bc9e32f' +
        '2d2d79ef940b5d064abee007173108173d56a707463fe52dd013a6f4cd75af',
      decrypt:
        'b6cf0309ab634826532a71c586a929763b407846a1649fb00d79fd86cc1b162e' +
        '7d3e051be50f2c5037e05705eb7fe3a761d4902e8564ad147ba8b727d4e3b8',
    },
    {
      length: 64,
      encrypt:
        '38f263c46b58b3c9b6c8dd2e99334de4ef70f118e556a37485ca43065f9abb6a' +
        'd5f6bab53167636d3b49ac9a4a5f773a7092296624e4be1679b56d53645d203b',
      decrypt:
        'b113b31bb1bf9a8a61596a0ee2a7e4ab08b69fa97d9926147011e373f8afa660' +
        '43ada1c8e75f8105f9c68809ac2528f9295ec05d59977dd1b60633faecb114b8',
    },
    {
      length: 135,
      encrypt:
        '59fb546c526435db70d689dabe4cce3119761c8cb79132d5827a89f3aaf767b7' +
        '01336bfed6b18d79091d11c1e86aa4bf25c17df887bd76e582027fc24e40a4df' +
        '50e7c68667a3b129653e401feadceec29b35a971e817e9caa355311fb5824085' +
        '3497eef5e2c2b4f9d45504aac2c0dc0b1e9fda601d4eb04e5863539a0e776e0f' +
        'a6b596fc0977bb',
      decrypt:
        '100063da64fe7eb4fcbc1dcea8cec30adcd525f02b28b234267bf5fe69031ff0' +
        '6e2a50209fcd901a00d229388a935ff8751b8157d90e79beb18293fb0aa2e3c2' +
        'a1f02aff530720d85f5220b5b9fed641edf59a7ff12a925fed9742493a953f7d' +
        'e9acbf16137cd4215dd4953cc51c5ab9e44962a73d144e0b8a512ada38c2e796' +
        '2ddd9292db931f',
    },
  ];

  for (const vector of vectors) {
    test(`${vector.length} bytes`, () => {
      assert.equal(toHex(aezSprpEncrypt(k, n, message(vector.length))), vector.encrypt);
      assert.equal(toHex(aezSprpDecrypt(k, n, message(vector.length))), vector.decrypt);
    });
  }

  // Longer messages (past the first offset doubling), pinned by the SHA-256 of the output.
  const digests = [
    {
      length: 321,
      encrypt: '2957a9c375d92dcc1d63d62125094c22931f6e9b78d2fc6516d6d62228524522',
      decrypt: 'fb611ac03e847d924cd9ccdc338db1ba83190fd4a81af1a6e243c99ff2cd5a34',
    },
    {
      length: 2620,
      encrypt: '26c3d6a30d6e49c730bddb96bd2d76df727c9b1a4cbd17ebd8c63a1722e66d5d',
      decrypt: 'a9ddfe6a40869208017422c32551bef32c8db8fcd13ed3e785f2f3fa2472b460',
    },
  ];
  for (const vector of digests) {
    test(`${vector.length} bytes (SHA-256 of the output)`, () => {
      assert.equal(sha256(aezSprpEncrypt(k, n, message(vector.length))), vector.encrypt);
      assert.equal(sha256(aezSprpDecrypt(k, n, message(vector.length))), vector.decrypt);
    });
  }

  test('all-zero key, nonce and 32-byte message', () => {
    assert.equal(
      toHex(aezSprpEncrypt(new Uint8Array(48), new Uint8Array(16), new Uint8Array(32))),
      '23232323232323232323232323232323dfdfdfdfdfdfdfdfdfdfdfdfdfdfdfdf',
    );
  });
});

describe('AEZ v5 SPRP: length checks', () => {
  const k = new Uint8Array(48);
  const n = new Uint8Array(16);
  const m = new Uint8Array(32);
  const cases: [string, Uint8Array, Uint8Array, Uint8Array][] = [
    ['a 47-byte key', new Uint8Array(47), n, m],
    ['a 49-byte key', new Uint8Array(49), n, m],
    ['a 32-byte key', new Uint8Array(32), n, m],
    ['a 15-byte nonce', k, new Uint8Array(15), m],
    ['a 17-byte nonce', k, new Uint8Array(17), m],
    ['an empty nonce', k, new Uint8Array(0), m],
    ['a 31-byte message', k, n, new Uint8Array(31)],
    ['an empty message', k, n, new Uint8Array(0)],
  ];
  for (const [name, key, nonce, message] of cases) {
    test(`refuses ${name}`, () => {
      assert.throws(() => aezSprpEncrypt(key, nonce, message), InvalidLengthError);
      assert.throws(() => aezSprpDecrypt(key, nonce, message), InvalidLengthError);
    });
  }
});
