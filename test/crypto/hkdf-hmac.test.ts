import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends, InvalidLengthError } from '../../src/crypto/index.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const range = (from: number, to: number): Uint8Array => Uint8Array.from({ length: to - from }, (_, i) => from + i);
const filled = (length: number, byte: number): Uint8Array => new Uint8Array(length).fill(byte);

/** RFC 5869 Appendix A, test cases 1-3 (HKDF-SHA256). */
const RFC5869 = [
  {
    name: 'test case 1',
    ikm: filled(22, 0x0b),
    salt: range(0x00, 0x0d),
    info: range(0xf0, 0xfa),
    length: 42,
    prk: '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    name: 'test case 2 (long inputs)',
    ikm: range(0x00, 0x50),
    salt: range(0x60, 0xb0),
    info: range(0xb0, 0x100),
    length: 82,
    prk: '06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
    okm:
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c' +
      '59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71' +
      'cc30c58179ec3e87c14c01d5c1f3434f1d87',
  },
  {
    name: 'test case 3 (empty salt and info)',
    ikm: filled(22, 0x0b),
    salt: new Uint8Array(0),
    info: new Uint8Array(0),
    length: 42,
    prk: '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
];

/** RFC 4231 section 4, HMAC-SHA-256 of test cases 1, 2 and 6. */
const RFC4231 = [
  { name: 'test case 1', key: filled(20, 0x0b), data: 'Hi There', mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7' },
  { name: 'test case 2', key: new TextEncoder().encode('Jefe'), data: 'what do ya want for nothing?', mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843' },
  {
    name: 'test case 6 (key longer than a block)',
    key: filled(131, 0xaa),
    data: 'Test Using Larger Than Block-Size Key - Hash Key First',
    mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  },
];

for (const backend of Object.values(backends)) {
  describe(`HKDF-SHA256 and HMAC-SHA256 (${backend.name})`, () => {
    for (const vector of RFC5869) {
      test(`RFC 5869 ${vector.name}: HKDF`, () => {
        assert.equal(toHex(backend.hkdfSha256(vector.ikm, vector.salt, vector.info, vector.length)), vector.okm);
      });

      test(`RFC 5869 ${vector.name}: PRK = HMAC(salt, IKM), then Expand alone`, () => {
        // An empty salt is HashLen zero bytes, which HMAC treats exactly like the empty key.
        assert.equal(toHex(backend.hmacSha256(vector.salt, vector.ikm)), vector.prk);
        assert.equal(toHex(backend.hkdfSha256Expand(hex(vector.prk), vector.info, vector.length)), vector.okm);
      });
    }

    for (const vector of RFC4231) {
      test(`RFC 4231 ${vector.name}`, () => {
        assert.equal(toHex(backend.hmacSha256(vector.key, new TextEncoder().encode(vector.data))), vector.mac);
      });
    }

    test('output lengths: HKDF 1..8160, Expand 0..8160, otherwise InvalidLengthError', () => {
      const prk = hex(RFC5869[0].prk);
      assert.equal(backend.hkdfSha256(RFC5869[0].ikm, RFC5869[0].salt, RFC5869[0].info, 255 * 32).length, 255 * 32);
      assert.equal(backend.hkdfSha256Expand(prk, new Uint8Array(0), 0).length, 0);
      for (const length of [0, 255 * 32 + 1, 2.5]) {
        assert.throws(() => backend.hkdfSha256(RFC5869[0].ikm, RFC5869[0].salt, RFC5869[0].info, length), InvalidLengthError);
      }
      assert.throws(() => backend.hkdfSha256Expand(prk, new Uint8Array(0), 255 * 32 + 1), InvalidLengthError);
    });

    test(
      'HKDF takes an info longer than 1024 bytes (RFC 5869 sets no limit)',
      () => {
        const { ikm, salt } = RFC5869[0];
        const info = filled(1500, 0x5a);
        const expected = backend.hkdfSha256Expand(backend.hmacSha256(salt, ikm), info, 64);
        assert.deepEqual(backend.hkdfSha256(ikm, salt, info, 64), expected);
      },
    );
  });
}
