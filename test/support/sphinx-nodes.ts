import type { Crypto, RandomSource } from '../../src/crypto/index.js';
import type { SuiteName } from '../../src/sphinx/index.js';

/** A mix node as the Sphinx tests need one: an ID and an X25519 key pair. */
export interface TestNode {
  readonly id: Uint8Array;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

export function makeNode(crypto: Crypto, random: RandomSource): TestNode {
  const privateKey = random(32);
  return { privateKey, publicKey: crypto.x25519Base(privateKey), id: random(32) };
}

/**
 * fast-check runs per property: noble's X25519 is pure JavaScript (~30x slower than libsodium) and
 * Katzenpost's AEZ is slower than LIONESS, so the slow combinations run fewer cases.
 */
export function runsFor(suite: SuiteName, crypto: Crypto, sodiumRuns: number, nobleRuns: number): number {
  const base = crypto.name === 'sodium' ? sodiumRuns : nobleRuns;
  return suite === 'katzenpost-x25519' ? Math.ceil(base / 2) : base;
}
