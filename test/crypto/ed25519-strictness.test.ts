import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { backends } from '../../src/crypto/index.js';

/**
 * Crafted signatures on which Ed25519 verifiers legitimately disagree (RFC 8032 allows the
 * cofactored or the cofactorless equation). Both backends must give libsodium's answers:
 * cofactorless equation, R and A not of small order, A canonical, S < L. noble's own verify is
 * cofactored and would accept the first three. The signatures are made here from a known secret
 * scalar a, with the curve arithmetic of @noble/curves.
 */
const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const T8 = Point.fromHex(ED25519_TORSION_SUBGROUP[1]); // a point of order 8
const a = 0x1234567890abcdefn;
const A = Point.BASE.multiply(a);
const message = new TextEncoder().encode('umbra');

const challenge = (r: Uint8Array, publicKey: Uint8Array): bigint =>
  bytesToNumberLE(sha512(Uint8Array.from([...r, ...publicKey, ...message]))) % L;

/** A signature (R, S = r + k*a) with R and the public key given as points. */
function craft(r: bigint, R: typeof Point.BASE, publicKey: typeof Point.BASE): { publicKey: Uint8Array; signature: Uint8Array; k: bigint } {
  const rBytes = R.toBytes();
  const pk = publicKey.toBytes();
  const k = challenge(rBytes, pk);
  const s = (r + k * a) % L;
  return { publicKey: pk, signature: Uint8Array.from([...rBytes, ...numberToBytesLE(s, 32)]), k };
}

/** The first r >= start whose signature under A + T8 has a challenge k with (k mod 8) in `wanted`. */
function torsionKeySignature(start: bigint, wanted: (residue: bigint) => boolean): ReturnType<typeof craft> {
  for (let r = start; ; r++) {
    const crafted = craft(r, Point.BASE.multiply(r), A.add(T8));
    if (wanted(crafted.k % 8n)) return crafted;
  }
}

const CASES = [
  { name: 'an honest signature', expected: true, ...craft(1000n, Point.BASE.multiply(1000n), A) },
  { name: 'R with a torsion component (valid only cofactored)', expected: false, ...craft(1001n, Point.BASE.multiply(1001n).add(T8), A) },
  { name: 'R the identity, S = k*a (R of small order)', expected: false, ...craft(0n, Point.ZERO, A) },
  { name: 'A with a torsion component, 8 does not divide k', expected: false, ...torsionKeySignature(2000n, (m) => m !== 0n) },
  { name: 'A with a torsion component, 8 divides k (the torsion vanishes)', expected: true, ...torsionKeySignature(3000n, (m) => m === 0n) },
];

for (const backend of Object.values(backends)) {
  describe(`Ed25519 verification rules (${backend.name})`, () => {
    for (const { name, expected, publicKey, signature } of CASES) {
      test(`${name}: ${expected ? 'accepted' : 'rejected'}`, () => {
        assert.equal(backend.ed25519Verify(publicKey, message, signature), expected);
      });
    }

    test('S + L (non-canonical S) is rejected', () => {
      const { publicKey, signature } = CASES[0];
      const s = bytesToNumberLE(signature.subarray(32));
      const malleated = Uint8Array.from([...signature.subarray(0, 32), ...numberToBytesLE(s + L, 32)]);
      assert.equal(backend.ed25519Verify(publicKey, message, malleated), false);
    });

    test('a small-order public key is rejected even with a matching signature', () => {
      // With A = identity and R = [r]B, S = r satisfies every verification equation.
      const r = 77n;
      const R = Point.BASE.multiply(r).toBytes();
      const signature = Uint8Array.from([...R, ...numberToBytesLE(r, 32)]);
      assert.equal(backend.ed25519Verify(Point.ZERO.toBytes(), message, signature), false);
    });
  });
}
