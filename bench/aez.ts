import { pathToFileURL } from 'node:url';
import { aezSprpDecrypt, aezSprpEncrypt } from '../src/crypto/aez.js';
import { median, round, timePerOp } from './timing.js';

/**
 * AEZ v5 SPRP (tau = 0) speed: our src/crypto/aez.ts against the `aez` npm package it replaced,
 * at the Katzenpost vector size (135 bytes) and about the default geometry's payload (2620 bytes).
 * The package is loaded only if still installed; its figures are null otherwise.
 * Run alone with `npm run build && node dist/bench/aez.js`; the JSON result is the last line.
 */
const ROUNDS = 5;
const SIZES = [135, 2620];

interface AezPackage {
  encrypt(key: Buffer, nonce: Buffer | null, ad: Buffer[] | null, tau: number, plaintext: Buffer): Buffer;
  decrypt(key: Buffer, nonce: Buffer | null, ad: Buffer[] | null, tau: number, ciphertext: Buffer): Buffer | null;
}

const aezPackage: AezPackage | null = await import('aez')
  .then((module) => module.default as AezPackage)
  .catch(() => null);

/** Deterministic filler bytes (the bench needs no real randomness). */
function filler(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

interface SizeResult {
  bytes: number;
  encrypt_us: number;
  decrypt_us: number;
  package_encrypt_us: number | null;
  package_decrypt_us: number | null;
  speedup: number | null;
}

function measure(bytes: number): SizeResult {
  const key = filler(48, 1);
  const nonce = filler(16, 2);
  const message = filler(bytes, 3);
  const iterations = Math.max(200, Math.round(2_000_000 / bytes));
  const ours = { enc: [] as number[], dec: [] as number[] };
  const theirs = { enc: [] as number[], dec: [] as number[] };
  const [k, n, m] = [key, nonce, message].map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  for (let r = 0; r < ROUNDS; r++) {
    ours.enc.push(timePerOp(iterations, () => aezSprpEncrypt(key, nonce, message)));
    ours.dec.push(timePerOp(iterations, () => aezSprpDecrypt(key, nonce, message)));
    if (aezPackage !== null) {
      theirs.enc.push(timePerOp(iterations, () => aezPackage.encrypt(k, n, null, 0, m)));
      theirs.dec.push(timePerOp(iterations, () => aezPackage.decrypt(k, n, null, 0, m)));
    }
  }
  const us = (ns: number[]): number => round(median(ns) / 1000, 2);
  const pkg = aezPackage !== null;
  return {
    bytes,
    encrypt_us: us(ours.enc),
    decrypt_us: us(ours.dec),
    package_encrypt_us: pkg ? us(theirs.enc) : null,
    package_decrypt_us: pkg ? us(theirs.dec) : null,
    speedup: pkg ? round(median(theirs.enc) / median(ours.enc), 1) : null,
  };
}

export function benchAez(): Record<string, unknown> {
  const results = SIZES.map(measure);
  for (const r of results) console.error(JSON.stringify(r));
  return { bench: 'aez', results };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(benchAez()));
}
