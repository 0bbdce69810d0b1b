import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends, InvalidLengthError } from '../../src/crypto/index.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const ABC = new TextEncoder().encode('abc');

/** FIPS 180-4 examples (NIST "Cryptographic Standards and Guidelines" example values) for "abc". */
const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
const SHA512_ABC =
  'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a' +
  '2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f';
const SHA512_256_ABC = '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23';

/** NIST SP 800-38A F.5.5 CTR-AES256.Encrypt. */
const AES_KEY = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
const AES_COUNTER = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
const AES_PLAINTEXT =
  '6bc1bee22e409f96e93d7e117393172a' +
  'ae2d8a571e03ac9c9eb76fac45af8e51' +
  '30c81c46a35ce411e5fbc1191a0a52ef' +
  'f69f2445df4f9b17ad2b417be66c3710';
const AES_CIPHERTEXT =
  '601ec313775789a5b7a7f504bbf3d228' +
  'f443e3ca4d62b59aca84e990cacaf5c5' +
  '2b0930daa23de94ce87017ba2d84988d' +
  'dfc9c58db67aada613c2dd08457941a6';

for (const backend of Object.values(backends)) {
  describe(`SHA-2 and AES-256-CTR (${backend.name})`, () => {
    test('SHA-256("abc")', () => assert.equal(toHex(backend.sha256(ABC)), SHA256_ABC));
    test('SHA-512("abc")', () => assert.equal(toHex(backend.sha512(ABC)), SHA512_ABC));
    test('SHA-512/256("abc"): its own IV, not truncated SHA-512', () => {
      assert.equal(toHex(backend.sha512_256(ABC)), SHA512_256_ABC);
      assert.notEqual(SHA512_256_ABC, SHA512_ABC.slice(0, 64));
    });

    test('NIST SP 800-38A F.5.5 CTR-AES256.Encrypt, and decrypt', () => {
      const ciphertext = backend.aes256CtrXor(AES_KEY, AES_COUNTER, hex(AES_PLAINTEXT));
      assert.equal(toHex(ciphertext), AES_CIPHERTEXT);
      assert.equal(toHex(backend.aes256CtrXor(AES_KEY, AES_COUNTER, ciphertext)), AES_PLAINTEXT);
    });

    test('AES-256-CTR: in place, and a partial last block', () => {
      const buffer = hex(AES_PLAINTEXT).subarray(0, 37);
      const result = backend.aes256CtrXor(AES_KEY, AES_COUNTER, buffer, buffer);
      assert.equal(result, buffer);
      assert.equal(toHex(buffer), AES_CIPHERTEXT.slice(0, 74));
    });

    test('AES-256-CTR: wrong key, IV or output lengths raise InvalidLengthError', () => {
      const input = hex(AES_PLAINTEXT);
      assert.throws(() => backend.aes256CtrXor(AES_KEY.subarray(16), AES_COUNTER, input), InvalidLengthError);
      assert.throws(() => backend.aes256CtrXor(AES_KEY, AES_COUNTER.subarray(4), input), InvalidLengthError);
      assert.throws(() => backend.aes256CtrXor(AES_KEY, AES_COUNTER, input, new Uint8Array(63)), InvalidLengthError);
    });
  });
}
