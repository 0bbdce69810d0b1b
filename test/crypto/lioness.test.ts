import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, InvalidLengthError } from '../../src/crypto/index.js';
import { Lioness } from '../../src/crypto/lioness.js';

/**
 * LIONESS (src/crypto/lioness.ts): deciphering into another buffer gives what deciphering in place
 * does and leaves the ciphertext alone; both backends agree; decrypt inverts encrypt.
 */
const RUNS = { seed: 0x110e55, numRuns: 200 };
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

for (const crypto of Object.values(backends)) {
  describe(`LIONESS on ${crypto.name}`, () => {
    const lioness = new Lioness(crypto);

    test('decrypt(encrypt(m)) = m, in place and into another buffer', () => {
      fc.assert(fc.property(bytes(32, 32), bytes(33, 600), (key, message) => {
        const ciphertext = lioness.encrypt(key, message.slice());
        const kept = ciphertext.slice();
        const out = new Uint8Array(ciphertext.length + 5).subarray(5);
        assert.equal(lioness.decrypt(key, ciphertext, out), out);
        assert.deepEqual(out, message);
        assert.deepEqual(ciphertext, kept, 'deciphering into another buffer leaves the ciphertext as it was');
        assert.deepEqual(lioness.decrypt(key, ciphertext), message);
      }), RUNS);
    });

    test('an output of another length is refused', () => {
      const key = new Uint8Array(32);
      assert.throws(() => lioness.decrypt(key, new Uint8Array(64), new Uint8Array(63)), InvalidLengthError);
    });
  });
}

test('both backends encipher alike', () => {
  const sodium = new Lioness(backends.sodium);
  const noble = new Lioness(backends.noble);
  fc.assert(fc.property(bytes(32, 32), bytes(33, 600), (key, message) => {
    assert.deepEqual(sodium.encrypt(key, message.slice()), noble.encrypt(key, message.slice()));
  }), RUNS);
});
