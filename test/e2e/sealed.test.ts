import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import * as fc from 'fast-check';
import { backends, seededRandom, type Crypto } from '../../src/crypto/index.js';
import { E2eError, type E2eErrorCode } from '../../src/e2e/errors.js';
import { createIdentity, type Identity } from '../../src/e2e/identity.js';
import {
  noiseXRead,
  noiseXWrite,
  openFirstContact,
  SEALED_OVERHEAD,
  SEALED_PROLOGUE,
  SEALED_PROTOCOL_NAME,
  firstContactHead,
  sealFirstContact,
  sealFirstContactPayload,
  xchachaNoiseCipher,
  type NoiseCipher,
} from '../../src/e2e/sealed.js';
import { flipBit, SMALL_ORDER_POINTS } from '../support/bytes.js';

/**
 * The sealed first contact (Noise X with XChaCha20-Poly1305) on both backends, fewer runs on
 * noble; fast-check seeds are fixed. The Noise machinery is first checked against the Noise
 * community's test vector for Noise_X_25519_ChaChaPoly_SHA256, with the standard ChaChaPoly
 * cipher plugged in, so only the cipher differs between that vector and "umbra sealed v1".
 */

const SEED = 0x5ea1;

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

function throwsE2e(fn: () => unknown, code: E2eErrorCode, message?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof E2eError, `${message ?? ''} expected an E2eError, got ${String(error)}`);
    assert.equal(error.code, code, message);
    return true;
  });
}

function identity(crypto: Crypto, seed: number): Identity {
  return createIdentity(crypto, seededRandom(crypto, seed), { name: `user ${seed}`, servers: ['mx.example:1'] });
}

/** Noise's ChaChaPoly (RFC 8439, nonce = 4 zero bytes ‖ u64 little-endian counter), from @noble/ciphers. */
const chachaPoly: NoiseCipher = {
  encrypt: (key, counter, ad, plaintext) => chacha20poly1305(key, rfcNonce(counter), ad).encrypt(plaintext),
  decrypt: (key, counter, ad, ciphertext) => chacha20poly1305(key, rfcNonce(counter), ad).decrypt(ciphertext),
};
function rfcNonce(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter), true);
  return nonce;
}

/** snow's tests/vectors/snow.txt, "Noise_X_25519_ChaChaPoly_SHA256" (keys are raw X25519 scalars). */
const NOISE_X_VECTOR = {
  prologue: hex('5468657265206973206e6f20726967687420616e642077726f6e672e2054686572652773206f6e6c792066756e20616e6420626f72696e672e'),
  initStatic: hex('a86077a7e90ed6f510f46d3aae9c522a11452ee7fae7f1a31f5063f07fa71ea5'),
  initEphemeral: hex('ba1adcceefcc42688a32385f15d8d21d872ffca56121e9e457be7d54143ca7ea'),
  initRemoteStatic: hex('7e980f80a250b729dd36f699274939c309fbfab21ca6ade0677389a726141d1c'),
  respStatic: hex('f215818f70d5163ebc2b44501fbbd9c326eb75e277d2c43450465590a6c1a372'),
  payload0: hex('42a8ec6059c4db88532da153e56c69e06c031e4ad09f7c94835272f415253ef0'),
  ciphertext0: hex(
    '0a191bc7600105e5d87a8942ae85ef4e56e00e41f02c56ffddf03f8c4faf38619bacc88d5e258b80654ffedd53e81d24' +
      'a0d442e8b70d6ded0f45913dc53949b945b4464f7f325d7b66e6609b7dea79cd5b379b135daeeb4e9e95e97ddc507330' +
      'bbadab51fb70714fe3d7a4c19c6366ecc0838ec96183a3121a662b34e6b061d6',
  ),
  // The first transport message, under the first Split() key with counter 0.
  payload1: hex('1c999f353f98fdb30d2b79d871cd64228abbdf47995c9d350ae8fd22fb41216d'),
  ciphertext1: hex('9a7876965b822b1933535a93ac3d9fd5c495f3027aaafce38ebfe2965da10aa84a0c7c5922831c79931a4dd3846470d4'),
};

/** Every 8-byte window of `bytes`, as numbers to look up. */
function windows(bytes: Uint8Array): bigint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: bigint[] = [];
  for (let i = 0; i + 8 <= bytes.length; i++) out.push(view.getBigUint64(i));
  return out;
}

/** Pearson's chi-square of byte counts against the uniform distribution (255 degrees of freedom). */
function chiSquareUniform(counts: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / 256;
  return counts.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
}

/** Chi-square test of homogeneity of two byte histograms (255 degrees of freedom). */
function chiSquareTwoSample(a: readonly number[], b: readonly number[]): number {
  const totalA = a.reduce((x, y) => x + y, 0);
  const totalB = b.reduce((x, y) => x + y, 0);
  let sum = 0;
  for (let i = 0; i < 256; i++) {
    const column = a[i] + b[i];
    if (column === 0) continue;
    const expectedA = (column * totalA) / (totalA + totalB);
    const expectedB = (column * totalB) / (totalA + totalB);
    sum += (a[i] - expectedA) ** 2 / expectedA + (b[i] - expectedB) ** 2 / expectedB;
  }
  return sum;
}
/** Far in the tail of chi-square with 255 degrees of freedom (mean 255, sd 22.6; p < 1e-6). */
const CHI_SQUARE_LIMIT = 400;

for (const crypto of Object.values(backends)) {
  const sodium = crypto.name === 'sodium';
  const runs = (sodiumRuns: number, nobleRuns: number) => ({ seed: SEED, numRuns: sodium ? sodiumRuns : nobleRuns });
  const other = backends[sodium ? 'noble' : 'sodium'];

  describe(`Noise X machinery on ${crypto.name}`, () => {
    test("matches the Noise community's Noise_X_25519_ChaChaPoly_SHA256 vector (write, read, Split)", () => {
      const v = NOISE_X_VECTOR;
      const suite = { protocolName: new TextEncoder().encode('Noise_X_25519_ChaChaPoly_SHA256'), prologue: v.prologue, cipher: chachaPoly };
      assert.deepEqual(crypto.x25519Base(v.respStatic), v.initRemoteStatic);
      const written = noiseXWrite(crypto, suite, v.initStatic, v.initEphemeral, v.initRemoteStatic, v.payload0);
      assert.deepEqual(written.message, v.ciphertext0);
      assert.deepEqual(chachaPoly.encrypt(written.initiatorToResponder, 0, new Uint8Array(0), v.payload1), v.ciphertext1);
      const read = noiseXRead(crypto, suite, v.respStatic, v.initRemoteStatic, v.ciphertext0);
      assert.deepEqual(read.payload, v.payload0);
      assert.deepEqual(read.initiatorStatic, crypto.x25519Base(v.initStatic));
      assert.deepEqual(read.initiatorToResponder, written.initiatorToResponder);
      assert.deepEqual(read.responderToInitiator, written.responderToInitiator);
      assert.deepEqual(read.handshakeHash, written.handshakeHash);
    });

    test('the XChaCha20-Poly1305 nonce is 16 zero bytes then the counter, little-endian', () => {
      const key = crypto.sha256(new Uint8Array([1]));
      const ad = new Uint8Array([9, 9]);
      const plaintext = new Uint8Array([1, 2, 3]);
      const nonce = new Uint8Array(24);
      nonce[16] = 0x05;
      nonce[17] = 0x01;
      const sealed = xchachaNoiseCipher(crypto).encrypt(key, 0x105, ad, plaintext);
      assert.deepEqual(sealed, crypto.xchacha20Poly1305Seal(key, nonce, plaintext, ad));
      assert.deepEqual(xchachaNoiseCipher(crypto).decrypt(key, 0x105, ad, sealed), plaintext);
    });

    test('protocol name and prologue are "umbra sealed v1"', () => {
      assert.equal(new TextDecoder().decode(SEALED_PROTOCOL_NAME), 'umbra sealed v1');
      assert.equal(new TextDecoder().decode(SEALED_PROLOGUE), 'umbra sealed v1');
    });
  });

  describe(`sealed first contact on ${crypto.name}`, () => {
    const alice = identity(crypto, 1);
    const bob = identity(crypto, 2);
    const carol = identity(crypto, 3);

    test('round trip over payloads of 0..4096 bytes: sender key, payload, session secret and hash agree', () => {
      fc.assert(
        fc.property(fc.integer(), fc.uint8Array({ maxLength: 4096 }), (seed, payload) => {
          const sender = identity(crypto, seed);
          const recipient = identity(crypto, seed ^ 0x55aa);
          const sealed = sealFirstContact(crypto, seededRandom(crypto, seed + 1), sender, recipient.x25519Public, payload);
          assert.equal(sealed.sealed.length, payload.length + SEALED_OVERHEAD);
          assert.equal(sealed.sessionSecret.length, 32);
          assert.equal(sealed.handshakeHash.length, 32);
          const opened = openFirstContact(crypto, recipient, sealed.sealed);
          assert.deepEqual(opened.payload, payload);
          assert.deepEqual(opened.senderX25519Public, sender.x25519Public);
          assert.deepEqual(opened.sessionSecret, sealed.sessionSecret);
          assert.deepEqual(opened.handshakeHash, sealed.handshakeHash);
          assert.notDeepEqual(opened.sessionSecret, opened.handshakeHash);
        }),
        runs(40, 6),
      );
    });

    test('both backends seal to the same bytes and open each other', () => {
      const payload = new TextEncoder().encode('hello Bob');
      const mine = sealFirstContact(crypto, seededRandom(crypto, 7), alice, bob.x25519Public, payload);
      const theirs = sealFirstContact(other, seededRandom(other, 7), alice, bob.x25519Public, payload);
      assert.deepEqual(mine, theirs);
      assert.deepEqual(openFirstContact(other, bob, mine.sealed).payload, payload);
    });

    test('every seal is fresh; sealing to oneself works', () => {
      const random = seededRandom(crypto, 8);
      const a = sealFirstContact(crypto, random, alice, bob.x25519Public, new Uint8Array(0));
      const b = sealFirstContact(crypto, random, alice, bob.x25519Public, new Uint8Array(0));
      assert.notDeepEqual(a.sealed, b.sealed);
      assert.notDeepEqual(a.sessionSecret, b.sessionSecret);
      const self = sealFirstContact(crypto, random, alice, alice.x25519Public, new Uint8Array([1]));
      assert.deepEqual(openFirstContact(crypto, alice, self.sealed).senderX25519Public, alice.x25519Public);
    });

    const box = sealFirstContact(crypto, seededRandom(crypto, 9), alice, bob.x25519Public, new Uint8Array(16).fill(7)).sealed;

    test('any flipped bit is not-for-me', () => {
      for (let bit = 0; bit < box.length * 8; bit += sodium ? 1 : 13) {
        throwsE2e(() => openFirstContact(crypto, bob, flipBit(box, bit)), 'not-for-me', `bit ${bit}`);
      }
    });

    test('truncations, extensions, splices and junk are not-for-me', () => {
      for (let length = 0; length < box.length; length += sodium ? 1 : 9) {
        throwsE2e(() => openFirstContact(crypto, bob, box.subarray(0, length)), 'not-for-me', `length ${length}`);
      }
      throwsE2e(() => openFirstContact(crypto, bob, new Uint8Array([...box, 0])), 'not-for-me');
      const another = sealFirstContact(crypto, seededRandom(crypto, 10), alice, bob.x25519Public, new Uint8Array(16).fill(7)).sealed;
      throwsE2e(() => openFirstContact(crypto, bob, new Uint8Array([...another.subarray(0, 32), ...box.subarray(32)])), 'not-for-me');
      throwsE2e(() => openFirstContact(crypto, bob, new Uint8Array([...box.subarray(0, 80), ...another.subarray(80)])), 'not-for-me');
      throwsE2e(() => openFirstContact(crypto, bob, 'junk' as unknown as Uint8Array), 'not-for-me');
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (junk) => throwsE2e(() => openFirstContact(crypto, bob, junk), 'not-for-me')),
        runs(200, 20),
      );
    });

    test('another identity, the sender included, cannot open it', () => {
      throwsE2e(() => openFirstContact(crypto, carol, box), 'not-for-me');
      throwsE2e(() => openFirstContact(crypto, alice, box), 'not-for-me');
      // An identity holding Bob's public key with another secret does not open it either.
      throwsE2e(() => openFirstContact(crypto, { ...carol, x25519Public: bob.x25519Public }, box), 'not-for-me');
    });

    test('a small-order ephemeral key is not-for-me; sealing to a small-order key is bad-card', () => {
      for (const point of SMALL_ORDER_POINTS) {
        throwsE2e(() => openFirstContact(crypto, bob, new Uint8Array([...point, ...box.subarray(32)])), 'not-for-me');
        throwsE2e(() => sealFirstContact(crypto, seededRandom(crypto, 11), alice, point, new Uint8Array(1)), 'bad-card');
      }
      throwsE2e(() => sealFirstContact(crypto, seededRandom(crypto, 11), alice, new Uint8Array(31), new Uint8Array(1)), 'bad-card');
      throwsE2e(() => openFirstContact(crypto, { ...bob, x25519Secret: new Uint8Array(31) }, box), 'bad-state');
    });
  });

  describe(`key privacy of sealed first contacts on ${crypto.name}`, () => {
    // Two candidate recipients whose PUBLIC keys the adversary holds.
    const sender = identity(crypto, 100);
    const recipientA = identity(crypto, 101);
    const recipientB = identity(crypto, 102);

    test('the same randomness gives the same ephemeral key and the same length for either recipient', () => {
      fc.assert(
        fc.property(fc.integer(), fc.uint8Array({ maxLength: 512 }), (seed, payload) => {
          const toA = sealFirstContact(crypto, seededRandom(crypto, seed), sender, recipientA.x25519Public, payload).sealed;
          const toB = sealFirstContact(crypto, seededRandom(crypto, seed), sender, recipientB.x25519Public, payload).sealed;
          assert.equal(toA.length, toB.length);
          // e is X25519(r, 9) for the 32 random bytes r: a function of the randomness alone.
          const e = crypto.x25519Base(seededRandom(crypto, seed)(32));
          assert.deepEqual(toA.subarray(0, 32), e);
          assert.deepEqual(toB.subarray(0, 32), e);
          // Everything after e is ciphertext under recipient-dependent keys: no common bytes beyond chance.
          let equal = 0;
          for (let i = 32; i < toA.length; i++) if (toA[i] === toB[i]) equal++;
          assert.ok(equal <= 8 + (toA.length - 32) / 32, `${equal} equal ciphertext bytes of ${toA.length - 32}`);
        }),
        runs(40, 8),
      );
    });

    test('no 8-byte window of the recipient key, or of anything computed from it without the secret, appears', () => {
      const trials = sodium ? 300 : 30;
      const random = seededRandom(crypto, 103);
      const seenEphemerals = new Set<bigint>();
      for (let trial = 0; trial < trials; trial++) {
        const recipient = identity(crypto, 1000 + trial).x25519Public;
        // What a distinguisher can compute from the public key alone: the key, common hashes of it
        // and Noise's own h after the "<- s" pre-message (h = SHA-256(SHA-256(name ‖ 0…) ‖ prologue) ‖ rs).
        const h0 = new Uint8Array(32);
        h0.set(SEALED_PROTOCOL_NAME);
        const h1 = crypto.sha256(new Uint8Array([...h0, ...SEALED_PROLOGUE]));
        const derived = [
          recipient,
          crypto.sha256(recipient),
          crypto.sha512(recipient),
          crypto.blake2b(32, recipient),
          crypto.blake2b(64, recipient),
          crypto.sha256(new Uint8Array([...h1, ...recipient])),
        ];
        const forbidden = new Set(derived.flatMap(windows));
        const payload = random(random(1)[0]);
        const sealed = sealFirstContact(crypto, random, sender, recipient, payload).sealed;
        for (const window of windows(sealed)) assert.ok(!forbidden.has(window), `trial ${trial}: a recipient-derived window appears`);
        const [e] = windows(sealed.subarray(0, 8));
        assert.ok(!seenEphemerals.has(e), 'an ephemeral key repeated');
        seenEphemerals.add(e);
      }
    });

    test('ciphertext bytes look uniform and alike for either recipient, even for an all-zero payload', () => {
      const boxes = sodium ? 300 : 60;
      const payload = new Uint8Array(64); // the worst case: a constant plaintext
      const histogram = (recipient: Identity, seed: number): number[] => {
        const counts = new Array<number>(256).fill(0);
        const random = seededRandom(crypto, seed);
        for (let i = 0; i < boxes; i++) {
          const sealed = sealFirstContact(crypto, random, sender, recipient.x25519Public, payload).sealed;
          for (const byte of sealed.subarray(32)) counts[byte]++;
        }
        return counts;
      };
      const countsA = histogram(recipientA, 104);
      const countsB = histogram(recipientB, 105);
      assert.ok(chiSquareUniform(countsA) < CHI_SQUARE_LIMIT, `A: chi-square ${chiSquareUniform(countsA)}`);
      assert.ok(chiSquareUniform(countsB) < CHI_SQUARE_LIMIT, `B: chi-square ${chiSquareUniform(countsB)}`);
      assert.ok(chiSquareTwoSample(countsA, countsB) < CHI_SQUARE_LIMIT, `A vs B: ${chiSquareTwoSample(countsA, countsB)}`);
    });

    test('a distinguisher holding both public keys guesses the recipient no better than a coin', () => {
      // The distinguisher matches the box against each candidate's key and its hashes, byte by
      // byte at every offset, and picks the candidate with more matches (A on a tie). It cannot
      // do better than chance unless the box depends on the recipient other than through
      // encryption.
      const trials = sodium ? 400 : 60;
      const random = seededRandom(crypto, 106);
      const features = (key: Uint8Array): Uint8Array[] => [key, crypto.sha256(key), crypto.blake2b(32, key)];
      const score = (sealed: Uint8Array, key: Uint8Array): number => {
        let matches = 0;
        for (const feature of features(key)) {
          for (let offset = 0; offset + feature.length <= sealed.length; offset += 16) {
            for (let i = 0; i < feature.length; i++) if (sealed[offset + i] === feature[i]) matches++;
          }
        }
        return matches;
      };
      let correct = 0;
      for (let trial = 0; trial < trials; trial++) {
        const forB = (random(1)[0] & 1) === 1;
        const recipient = forB ? recipientB : recipientA;
        const sealed = sealFirstContact(crypto, random, sender, recipient.x25519Public, random(64)).sealed;
        const guessB = score(sealed, recipientB.x25519Public) > score(sealed, recipientA.x25519Public);
        if (guessB === forB) correct++;
      }
      const rate = correct / trials;
      const fiveSigma = 5 * Math.sqrt(0.25 / trials);
      assert.ok(Math.abs(rate - 0.5) <= fiveSigma, `success rate ${rate} over ${trials} trials`);
    });
  });
}

test('firstContactHead then sealFirstContactPayload give sealFirstContact\'s bytes', () => {
  for (const crypto of Object.values(backends)) {
    const alice = createIdentity(crypto, seededRandom(crypto, 1), { name: 'alice', servers: ['mx.example:1'] });
    const bob = createIdentity(crypto, seededRandom(crypto, 2), { name: 'bob', servers: ['mx.example:1'] });
    const payload = new Uint8Array(10_000).fill(42);
    const whole = sealFirstContact(crypto, seededRandom(crypto, 9), alice, bob.x25519Public, payload).sealed;
    const split = sealFirstContactPayload(crypto, firstContactHead(crypto, seededRandom(crypto, 9), alice, bob.x25519Public), payload);
    assert.deepEqual([...split], [...whole]);
  }
});
