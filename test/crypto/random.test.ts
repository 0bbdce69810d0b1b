import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backends } from '../../src/crypto/index.js';

/** Random bytes have no known answer; what can be checked is length and that every part is filled. */
const SIXTY_FOUR_KIB = 65536;

for (const backend of Object.values(backends)) {
  describe(`randomBytes (${backend.name})`, () => {
    test('any length, including more than one 64 KiB getRandomValues call', () => {
      for (const length of [0, 1, 32, SIXTY_FOUR_KIB, SIXTY_FOUR_KIB + 1, 3 * SIXTY_FOUR_KIB + 5]) {
        const bytes = backend.randomBytes(length);
        assert.ok(bytes instanceof Uint8Array);
        assert.equal(bytes.length, length);
        // A 1 KiB stretch of zeros happens with probability 2^-8192: it means a part was never written.
        for (let start = 0; start + 1024 <= length; start += 1024) {
          assert.ok(bytes.subarray(start, start + 1024).some((byte) => byte !== 0), `zeros at ${start} of ${length}`);
        }
      }
    });

    test('two calls differ', () => {
      assert.notDeepEqual(backend.randomBytes(32), backend.randomBytes(32));
    });
  });
}
