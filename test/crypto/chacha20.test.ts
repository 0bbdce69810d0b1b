import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthenticationError, backends, CounterRangeError, InvalidLengthError } from '../../src/crypto/index.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);
const zeros = (length: number): Uint8Array => new Uint8Array(length);

const KEY_00_1F = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const KEY_80_9F = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
const SUNSCREEN = ascii(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);

/** RFC 8439 2.3.2: the serialized block for counter 1. */
const RFC8439_BLOCK =
  '10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e' +
  'd2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e';

/** RFC 8439 2.4.2: the sunscreen sentence encrypted from block 1. */
const RFC8439_CIPHERTEXT =
  '6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b' +
  'f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8' +
  '07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736' +
  '5af90bbf74a35be6b40b8eedf2785e42874d';

/** draft-strombergson-chacha-test-vectors-00, 256-bit key, 20 rounds: TC1-TC4, two blocks each. */
const STROMBERGSON = [
  {
    name: 'TC1 (zero key, zero IV)',
    key: '00'.repeat(32),
    iv: '0000000000000000',
    keystream:
      '76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7' +
      'da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586' +
      '9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed' +
      '29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f',
  },
  {
    name: 'TC2 (key bit 0 set)',
    key: '01' + '00'.repeat(31),
    iv: '0000000000000000',
    keystream:
      'c5d30a7ce1ec119378c84f487d775a8542f13ece238a9455e8229e888de85bbd' +
      '29eb63d0a17a5b999b52da22be4023eb07620a54f6fa6ad8737b71eb0464dac0' +
      '10f656e6d1fd55053e50c4875c9930a33f6d0263bd14dfd6ab8c70521c19338b' +
      '2308b95cf8d0bb7d202d2102780ea3528f1cb48560f76b20f382b942500fceac',
  },
  {
    name: 'TC3 (IV bit 0 set)',
    key: '00'.repeat(32),
    iv: '0100000000000000',
    keystream:
      'ef3fdfd6c61578fbf5cf35bd3dd33b8009631634d21e42ac33960bd138e50d32' +
      '111e4caf237ee53ca8ad6426194a88545ddc497a0b466e7d6bbdb0041b2f586b' +
      '5305e5e44aff19b235936144675efbe4409eb7e8e5f1430f5f5836aeb49bb532' +
      '8b017c4b9dc11f8a03863fa803dc71d5726b2b6b31aa32708afe5af1d6b69058',
  },
  {
    name: 'TC4 (all bits set)',
    key: 'ff'.repeat(32),
    iv: 'ffffffffffffffff',
    keystream:
      'd9bf3f6bce6ed0b54254557767fb57443dd4778911b606055c39cc25e674b836' +
      '3feabc57fde54f790c52c8ae43240b79d49042b777bfd6cb80e931270b7f50eb' +
      '5bac2acd86a836c5dc98c116c1217ec31d3a63a9451319f097f3b4d6dab07787' +
      '19477d24d24b403a12241d7cca064f790f1d51ccaff6b1667d4bbca1958c4306',
  },
];

/** draft-irtf-cfrg-xchacha-03 A.3.2 (note the nonce ends in 58). */
const XCHACHA_NONCE = hex('404142434445464748494a4b4c4d4e4f5051525354555658');
const DHOLE = ascii(
  'The dhole (pronounced "dole") is also known as the Asiatic wild dog, red dog, and whistling dog. ' +
    'It is about the size of a German shepherd but looks more like a long-legged fox. This highly elusive ' +
    'and skilled jumper is classified with wolves, coyotes, jackals, and foxes in the taxonomic family Canidae.',
);
/** The draft lists the keystream from block 1 on; its ciphertext starts at block 0. */
const XCHACHA_KEYSTREAM_FROM_BLOCK_1 =
  '29624b4b1b140ace53740e405b2168540fd7d630c1f536fecd722fc3cddba7f4cca98cf9e47e5e64d115450f9b125b54' +
  '449ff76141ca620a1f9cfcab2a1a8a255e766a5266b878846120ea64ad99aa479471e63befcbd37cd1c22a221fe46221' +
  '5cf32c74895bf505863ccddd48f62916dc6521f1ec50a5ae08903aa259d9bf607cd8026fba548604f1b6072d91bc9124' +
  '3a5b845f7fd171b02edc5a0a84cf28dd241146bc376e3f48df5e7fee1d11048c190a3d3deb0feb64b42d9c6fdeee290f' +
  'a0e6ae2c26c0249ea8c181f7e2ffd100cbe5fd3c4f8271d62b15330cb8fdcf00b3df507ca8c924f7017b7e712d15a2eb' +
  '5c50484451e54e1b4b995bd8fdd94597bb94d7af0b2c04df10ba0890899ed9293a0f55b8bafa999264035f1d4fbe7fe0' +
  'aafa109a62372027e50e10cdfecca127';
const XCHACHA_CIPHERTEXT =
  '4559abba4e48c16102e8bb2c05e6947f50a786de162f9b0b7e592a9b53d0d4e98d8d6410d540a1a6375b26d80dace4fa' +
  'b52384c731acbf16a5923c0c48d3575d4d0d2c673b666faa731061277701093a6bf7a158a8864292a41c48e3a9b4c0da' +
  'ece0f8d98d0d7e05b37a307bbb66333164ec9e1b24ea0d6c3ffddcec4f68e7443056193a03c810e11344ca06d8ed8a2b' +
  'fb1e8d48cfa6bc0eb4e2464b748142407c9f431aee769960e15ba8b96890466ef2457599852385c661f752ce20f9da0c' +
  '09ab6b19df74e76a95967446f8d0fd415e7bee2a12a114c20eb5292ae7a349ae577820d5520a1f3fb62a17ce6a7e68fa' +
  '7c79111d8860920bc048ef43fe84486ccb87c25f0ae045f0cce1e7989a9aa220a28bdd4827e751a24a6d5c62d790a663' +
  '93b93111c1a55dd7421a10184974c7c5';

/** draft-irtf-cfrg-xchacha-03 A.3.1: XChaCha20-Poly1305 (nonce ends in 57). */
const AEAD_NONCE = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
const AEAD_AD = hex('50515253c0c1c2c3c4c5c6c7');
const AEAD_SEALED =
  'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb' +
  '731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452' +
  '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
  '21f9664c97637da9768812f615c68b13b52e' +
  'c0875924c1c7987947deafd8780acf49'; // tag

const isAuthenticationError = (error: unknown): boolean =>
  error instanceof AuthenticationError && error.code === 'authentication-failed';

/** LE32(high) || nonce8: the 12-byte nonce whose state equals the 8-byte nonce's at 64-bit counter high * 2^32 + low. */
function widened(high: number, nonce8: Uint8Array): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(0, high, true);
  nonce.set(nonce8, 4);
  return nonce;
}

for (const backend of Object.values(backends)) {
  describe(`ChaCha20 (${backend.name})`, () => {
    test('RFC 8439 2.3.2 block function (counter 1)', () => {
      const nonce = hex('000000090000004a00000000');
      assert.equal(toHex(backend.chacha20Xor(KEY_00_1F, nonce, zeros(64), 1)), RFC8439_BLOCK);
    });

    test('RFC 8439 2.4.2 encryption (counter 1), and decryption', () => {
      const nonce = hex('000000000000004a00000000');
      const ciphertext = backend.chacha20Xor(KEY_00_1F, nonce, SUNSCREEN, 1);
      assert.equal(toHex(ciphertext), RFC8439_CIPHERTEXT);
      assert.deepEqual(backend.chacha20Xor(KEY_00_1F, nonce, ciphertext, 1), SUNSCREEN);
    });

    for (const vector of STROMBERGSON) {
      test(`original ChaCha20, 8-byte nonce: ${vector.name}`, () => {
        assert.equal(toHex(backend.chacha20Xor(hex(vector.key), hex(vector.iv), zeros(128))), vector.keystream);
        // `counter` is the first block number.
        assert.equal(toHex(backend.chacha20Xor(hex(vector.key), hex(vector.iv), zeros(64), 1)), vector.keystream.slice(128));
      });
    }

    for (const vector of STROMBERGSON) {
      test(`chacha20Stream, 8-byte nonce: ${vector.name} (the keystream written into out, from block 0)`, () => {
        const out = new Uint8Array(128).fill(0xa5); // whatever out held is overwritten
        assert.equal(backend.chacha20Stream(hex(vector.key), hex(vector.iv), out), out);
        assert.equal(toHex(out), vector.keystream);
        // A 64-byte view into a larger buffer: only the view is written.
        const wide = new Uint8Array(192).fill(0x5a);
        backend.chacha20Stream(hex(vector.key), hex(vector.iv), wide.subarray(64, 128));
        assert.equal(toHex(wide.subarray(64, 128)), vector.keystream.slice(0, 128));
        assert.ok(wide.subarray(0, 64).every((byte) => byte === 0x5a) && wide.subarray(128).every((byte) => byte === 0x5a));
      });
    }

    test('chacha20Stream with a 12-byte nonce is chacha20Xor of zeros from block 0 (RFC 8439 nonce)', () => {
      const nonce = hex('000000090000004a00000000');
      assert.deepEqual(backend.chacha20Stream(KEY_00_1F, nonce, new Uint8Array(200)), backend.chacha20Xor(KEY_00_1F, nonce, zeros(200)));
      assert.equal(backend.chacha20Stream(KEY_00_1F, nonce, new Uint8Array(0)).length, 0);
    });

    test('in place: `out` may be the input itself', () => {
      const buffer = SUNSCREEN.slice();
      const result = backend.chacha20Xor(KEY_00_1F, hex('000000000000004a00000000'), buffer, 1, buffer);
      assert.equal(result, buffer);
      assert.equal(toHex(buffer), RFC8439_CIPHERTEXT);
    });

    test('an 8-byte nonce is the 12-byte nonce LE32(0) || nonce, up to the last block 2^32 - 2', () => {
      const nonce = hex('0f1e2d3c4b5a6978');
      for (const counter of [0, 1, 2 ** 31, 2 ** 32 - 3]) {
        assert.deepEqual(
          backend.chacha20Xor(KEY_00_1F, nonce, zeros(128), counter),
          backend.chacha20Xor(KEY_00_1F, widened(0, nonce), zeros(128), counter),
        );
      }
    });

    test('blocks beyond 2^32 - 2, negative or fractional counters raise CounterRangeError', () => {
      for (const nonce of [hex('0f1e2d3c4b5a6978'), hex('000000000000004a00000000')]) {
        const bad: [number, number][] = [[2 ** 32 - 2, 65], [2 ** 32 - 1, 1], [2 ** 32, 0], [2 ** 40, 64], [-1, 64], [1.5, 64], [Number.NaN, 64]];
        for (const [counter, length] of bad) {
          assert.throws(() => backend.chacha20Xor(KEY_00_1F, nonce, zeros(length), counter),
            (error: unknown) => error instanceof CounterRangeError && error.code === 'counter-out-of-range', `counter ${counter}, ${length} bytes`);
        }
        assert.equal(backend.chacha20Xor(KEY_00_1F, nonce, zeros(64), 2 ** 32 - 2).length, 64);
      }
    });

    test('wrong key, nonce or output lengths raise InvalidLengthError', () => {
      const nonce = hex('000000000000004a00000000');
      assert.throws(() => backend.chacha20Xor(KEY_00_1F.subarray(1), nonce, zeros(4)), InvalidLengthError);
      for (const length of [0, 7, 9, 11, 13, 24]) {
        assert.throws(() => backend.chacha20Xor(KEY_00_1F, zeros(length), zeros(4)), InvalidLengthError, `nonce ${length}`);
      }
      assert.throws(() => backend.chacha20Xor(KEY_00_1F, nonce, zeros(4), 0, zeros(5)), InvalidLengthError);
    });
  });

  describe(`XChaCha20 and XChaCha20-Poly1305 (${backend.name})`, () => {
    test('draft-irtf-cfrg-xchacha-03 A.3.2: ciphertext and keystream', () => {
      assert.equal(toHex(backend.xchacha20Xor(KEY_80_9F, XCHACHA_NONCE, DHOLE)), XCHACHA_CIPHERTEXT);
      const keystream = backend.xchacha20Xor(KEY_80_9F, XCHACHA_NONCE, zeros(64 + 304));
      assert.equal(toHex(keystream.subarray(64)), XCHACHA_KEYSTREAM_FROM_BLOCK_1);
    });

    test('XChaCha20 in place', () => {
      const buffer = DHOLE.slice();
      backend.xchacha20Xor(KEY_80_9F, XCHACHA_NONCE, buffer, buffer);
      assert.equal(toHex(buffer), XCHACHA_CIPHERTEXT);
    });

    test('draft-irtf-cfrg-xchacha-03 A.3.1: seal and open', () => {
      assert.equal(toHex(backend.xchacha20Poly1305Seal(KEY_80_9F, AEAD_NONCE, SUNSCREEN, AEAD_AD)), AEAD_SEALED);
      assert.deepEqual(backend.xchacha20Poly1305Open(KEY_80_9F, AEAD_NONCE, hex(AEAD_SEALED), AEAD_AD), SUNSCREEN);
    });

    test('open raises AuthenticationError on a flipped tag bit, ciphertext bit or other AD', () => {
      const sealed = hex(AEAD_SEALED);
      for (const bit of [0, 8 * (sealed.length - 16), 8 * sealed.length - 1]) {
        const tampered = sealed.slice();
        tampered[bit >> 3] ^= 1 << (bit & 7);
        assert.throws(() => backend.xchacha20Poly1305Open(KEY_80_9F, AEAD_NONCE, tampered, AEAD_AD), isAuthenticationError, `bit ${bit}`);
      }
      assert.throws(() => backend.xchacha20Poly1305Open(KEY_80_9F, AEAD_NONCE, sealed), isAuthenticationError);
      assert.throws(() => backend.xchacha20Poly1305Open(KEY_80_9F, AEAD_NONCE, sealed.subarray(0, 15), AEAD_AD), isAuthenticationError);
    });

    test('wrong key or nonce lengths raise InvalidLengthError', () => {
      assert.throws(() => backend.xchacha20Xor(KEY_80_9F, AEAD_NONCE.subarray(1), zeros(4)), InvalidLengthError);
      assert.throws(() => backend.xchacha20Xor(KEY_80_9F.subarray(1), AEAD_NONCE, zeros(4)), InvalidLengthError);
      assert.throws(() => backend.xchacha20Xor(KEY_80_9F, AEAD_NONCE, zeros(4), zeros(3)), InvalidLengthError);
      assert.throws(() => backend.xchacha20Poly1305Seal(KEY_80_9F, zeros(12), SUNSCREEN), InvalidLengthError);
      assert.throws(() => backend.xchacha20Poly1305Open(zeros(16), AEAD_NONCE, hex(AEAD_SEALED)), InvalidLengthError);
    });
  });
}
