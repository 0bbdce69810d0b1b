import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends, InvalidLengthError } from '../../src/crypto/index.js';
import { flipBit } from '../support/bytes.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** RFC 8032 section 7.1: TEST 1, 2, 3 and TEST SHA(abc). The secret key is the 32-byte seed. */
const RFC8032_VECTORS = [
  {
    name: 'TEST 1',
    seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155' +
      '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    seed: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac' +
      '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc)',
    seed: '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
    publicKey: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    message:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
      '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    signature:
      'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b589' +
      '09351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

for (const backend of Object.values(backends)) {
  describe(`Ed25519 (${backend.name})`, () => {
    for (const vector of RFC8032_VECTORS) {
      test(`RFC 8032 7.1 ${vector.name}`, () => {
        const seed = hex(vector.seed);
        const message = hex(vector.message);
        const publicKey = backend.ed25519PublicKey(seed);
        assert.equal(toHex(publicKey), vector.publicKey);
        const signature = backend.ed25519Sign(seed, message);
        assert.equal(toHex(signature), vector.signature);
        assert.equal(backend.ed25519Verify(publicKey, message, signature), true);
      });

      test(`RFC 8032 7.1 ${vector.name}: a flipped bit fails verification`, () => {
        const publicKey = hex(vector.publicKey);
        const message = hex(vector.message);
        const signature = hex(vector.signature);
        if (message.length > 0) {
          for (const bit of [0, message.length * 8 - 1]) {
            assert.equal(backend.ed25519Verify(publicKey, flipBit(message, bit), signature), false, `message bit ${bit}`);
          }
        }
        // Bits in R, in S, and S's top bits (which would make S >= L).
        for (const bit of [0, 255, 256, 300, 511]) {
          assert.equal(backend.ed25519Verify(publicKey, message, flipBit(signature, bit)), false, `signature bit ${bit}`);
        }
        assert.equal(backend.ed25519Verify(flipBit(publicKey, 1), message, signature), false, 'public key bit');
      });
    }

    test('wrong seed lengths raise InvalidLengthError; wrong key or signature lengths do not verify', () => {
      assert.throws(() => backend.ed25519PublicKey(new Uint8Array(64)), InvalidLengthError);
      assert.throws(() => backend.ed25519Sign(new Uint8Array(31), new Uint8Array(1)), InvalidLengthError);
      const { publicKey, signature, message } = RFC8032_VECTORS[1];
      assert.equal(backend.ed25519Verify(hex(publicKey).subarray(1), hex(message), hex(signature)), false);
      assert.equal(backend.ed25519Verify(hex(publicKey), hex(message), hex(signature).subarray(0, 63)), false);
    });
  });
}
