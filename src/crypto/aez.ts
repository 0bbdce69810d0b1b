import { InvalidLengthError, requireLength } from './errors.js';

/**
 * AEZ v5 (Hoang, Krovetz, Rogaway) used as a strong pseudo-random permutation: tau = 0 (no
 * expansion, no tag), no associated data, a 48-byte key and a 16-byte nonce, for messages of
 * 32 bytes or more. This is how the Katzenpost Sphinx suite encrypts packet payloads; Katzenpost's
 * published Sphinx vectors and test/crypto/aez.test.ts (byte equality with the `aez` npm package,
 * a port of the reference code) pin it down.
 *
 * Self-contained on purpose: no Buffer, no node: imports, no dependency, so it runs in browsers.
 * AEZ's AES4 and AES10 are raw AES rounds (SubBytes, ShiftRows, MixColumns and AddRoundKey, with
 * MixColumns in the last round too) under round keys AEZ derives from I, J and L, not AES-128
 * under its own key schedule. Neither libsodium nor @noble/ciphers exposes a single AES round, so
 * the round function is written here with the classic T-tables on 32-bit words.
 *
 * Everything works on big-endian 32-bit words (word 0 holds bytes 0..3 of a block, most
 * significant first, matching the T-tables and AEZ's doubling of a 128-bit string). All scratch
 * state is preallocated at module level and wiped after each call; a call allocates only its
 * result. JavaScript runs one call at a time per realm, so sharing the scratch is safe.
 *
 * Only the tau = 0 SPRP path for messages of at least 32 bytes (AEZ-core) is implemented. The
 * BLAKE2b key extraction for keys other than 48 bytes, AEZ-tiny (messages under 32 bytes),
 * associated data and nonces other than 16 bytes are refused by the length checks instead.
 */
export const AEZ_KEY_LENGTH = 48;
export const AEZ_NONCE_LENGTH = 16;

// ---------------------------------------------------------------------------------------------
// AES round function: T-tables built once at load from the S-box, itself computed from
// GF(2^8) inversion and the AES affine map (no 4 KB of literals to get wrong).
// T[x] = (2·S[x], S[x], S[x], 3·S[x]) as a big-endian word; T[256 + x], T[512 + x] and T[768 + x]
// are its byte rotations (one array for all four tables measured a few percent faster than four).

const T = new Int32Array(1024);

function xtime(b: number): number {
  return ((b << 1) ^ ((b >>> 7) * 0x11b)) & 0xff;
}

(function buildTables(): void {
  const exp = new Uint8Array(256);
  const log = new Uint8Array(256);
  for (let i = 0, x = 1; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x ^= xtime(x); // multiply by the generator 3
  }
  for (let a = 0; a < 256; a++) {
    const inv = a === 0 ? 0 : exp[(255 - log[a]) % 255];
    let s = inv;
    for (let r = 1; r <= 4; r++) s ^= ((inv << r) | (inv >>> (8 - r))) & 0xff;
    s ^= 0x63;
    const s2 = xtime(s);
    const w = (s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s);
    T[a] = w;
    T[256 + a] = (w >>> 8) | (w << 24);
    T[512 + a] = (w >>> 16) | (w << 16);
    T[768 + a] = (w >>> 24) | (w << 8);
  }
})();

/** Round keys as read from the key: I (words 0..3), J (4..7), L (8..11). */
const RK = new Int32Array(12);
/** Output of aes4 and aes10. */
const OUT = new Int32Array(4);

/**
 * AEZ's AES4 on a block already XORed with its offset: four full AES rounds under J, I, L and 0
 * (AEZ's round keys (0, J, I, L, 0); the leading 0 is the whitening, folded into the offset).
 */
function aes4(s0: number, s1: number, s2: number, s3: number): void {
  const k = RK;
  // Round 1, key J.
  let t0 = T[s0 >>> 24] ^ T[256 | ((s1 >>> 16) & 255)] ^ T[512 | ((s2 >>> 8) & 255)] ^ T[768 | (s3 & 255)] ^ k[4];
  let t1 = T[s1 >>> 24] ^ T[256 | ((s2 >>> 16) & 255)] ^ T[512 | ((s3 >>> 8) & 255)] ^ T[768 | (s0 & 255)] ^ k[5];
  let t2 = T[s2 >>> 24] ^ T[256 | ((s3 >>> 16) & 255)] ^ T[512 | ((s0 >>> 8) & 255)] ^ T[768 | (s1 & 255)] ^ k[6];
  let t3 = T[s3 >>> 24] ^ T[256 | ((s0 >>> 16) & 255)] ^ T[512 | ((s1 >>> 8) & 255)] ^ T[768 | (s2 & 255)] ^ k[7];
  // Round 2, key I.
  s0 = T[t0 >>> 24] ^ T[256 | ((t1 >>> 16) & 255)] ^ T[512 | ((t2 >>> 8) & 255)] ^ T[768 | (t3 & 255)] ^ k[0];
  s1 = T[t1 >>> 24] ^ T[256 | ((t2 >>> 16) & 255)] ^ T[512 | ((t3 >>> 8) & 255)] ^ T[768 | (t0 & 255)] ^ k[1];
  s2 = T[t2 >>> 24] ^ T[256 | ((t3 >>> 16) & 255)] ^ T[512 | ((t0 >>> 8) & 255)] ^ T[768 | (t1 & 255)] ^ k[2];
  s3 = T[t3 >>> 24] ^ T[256 | ((t0 >>> 16) & 255)] ^ T[512 | ((t1 >>> 8) & 255)] ^ T[768 | (t2 & 255)] ^ k[3];
  // Round 3, key L.
  t0 = T[s0 >>> 24] ^ T[256 | ((s1 >>> 16) & 255)] ^ T[512 | ((s2 >>> 8) & 255)] ^ T[768 | (s3 & 255)] ^ k[8];
  t1 = T[s1 >>> 24] ^ T[256 | ((s2 >>> 16) & 255)] ^ T[512 | ((s3 >>> 8) & 255)] ^ T[768 | (s0 & 255)] ^ k[9];
  t2 = T[s2 >>> 24] ^ T[256 | ((s3 >>> 16) & 255)] ^ T[512 | ((s0 >>> 8) & 255)] ^ T[768 | (s1 & 255)] ^ k[10];
  t3 = T[s3 >>> 24] ^ T[256 | ((s0 >>> 16) & 255)] ^ T[512 | ((s1 >>> 8) & 255)] ^ T[768 | (s2 & 255)] ^ k[11];
  // Round 4, key 0.
  OUT[0] = T[t0 >>> 24] ^ T[256 | ((t1 >>> 16) & 255)] ^ T[512 | ((t2 >>> 8) & 255)] ^ T[768 | (t3 & 255)];
  OUT[1] = T[t1 >>> 24] ^ T[256 | ((t2 >>> 16) & 255)] ^ T[512 | ((t3 >>> 8) & 255)] ^ T[768 | (t0 & 255)];
  OUT[2] = T[t2 >>> 24] ^ T[256 | ((t3 >>> 16) & 255)] ^ T[512 | ((t0 >>> 8) & 255)] ^ T[768 | (t1 & 255)];
  OUT[3] = T[t3 >>> 24] ^ T[256 | ((t0 >>> 16) & 255)] ^ T[512 | ((t1 >>> 8) & 255)] ^ T[768 | (t2 & 255)];
}

/**
 * AEZ's AES10 on a block already XORed with its offset: ten full AES rounds under
 * I, J, L, I, J, L, I, J, L, I. Used a handful of times per message, so a loop is fine.
 */
function aes10(s0: number, s1: number, s2: number, s3: number): void {
  const k = RK;
  for (let r = 0; r < 10; r++) {
    const o = (r % 3) << 2;
    const t0 = T[s0 >>> 24] ^ T[256 | ((s1 >>> 16) & 255)] ^ T[512 | ((s2 >>> 8) & 255)] ^ T[768 | (s3 & 255)] ^ k[o];
    const t1 = T[s1 >>> 24] ^ T[256 | ((s2 >>> 16) & 255)] ^ T[512 | ((s3 >>> 8) & 255)] ^ T[768 | (s0 & 255)] ^ k[o + 1];
    const t2 = T[s2 >>> 24] ^ T[256 | ((s3 >>> 16) & 255)] ^ T[512 | ((s0 >>> 8) & 255)] ^ T[768 | (s1 & 255)] ^ k[o + 2];
    const t3 = T[s3 >>> 24] ^ T[256 | ((s0 >>> 16) & 255)] ^ T[512 | ((s1 >>> 8) & 255)] ^ T[768 | (s2 & 255)] ^ k[o + 3];
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  OUT[0] = s0;
  OUT[1] = s1;
  OUT[2] = s2;
  OUT[3] = s3;
}

// ---------------------------------------------------------------------------------------------
// Key schedule: the 48-byte key is I | J | L directly (AEZ runs BLAKE2b only on other lengths).
// KS holds the derived blocks, 4 words each, at these word offsets; L_k = k·L in GF(2^128).

const I0 = 0; // I
const I1 = 4; // 2·I
const J0 = 8; // J
const J1 = 12; // 2·J
const J2 = 16; // 4·J
const L0 = 20; // L_0 = 0, L_1 = L, ..., L_7 = 7·L at L0 + 4k
const KS = new Int32Array(L0 + 32);

/** Reads bytes p..p+3 of `b` as a big-endian word. */
function load(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}

/** Writes `w` as big-endian bytes p..p+3 of `b` (Uint8Array stores keep the low 8 bits). */
function store(b: Uint8Array, p: number, w: number): void {
  b[p] = w >>> 24;
  b[p + 1] = w >>> 16;
  b[p + 2] = w >>> 8;
  b[p + 3] = w;
}

/** KS[d..d+3] = 2·KS[s..s+3] in GF(2^128) (AEZ's doubling: shift left, reduce by 0x87). */
function dbl(s: number, d: number): void {
  const w0 = KS[s];
  const w1 = KS[s + 1];
  const w2 = KS[s + 2];
  const w3 = KS[s + 3];
  KS[d] = (w0 << 1) | (w1 >>> 31);
  KS[d + 1] = (w1 << 1) | (w2 >>> 31);
  KS[d + 2] = (w2 << 1) | (w3 >>> 31);
  KS[d + 3] = (w3 << 1) ^ ((w0 >> 31) & 0x87);
}

/** KS[d..d+3] = KS[a..a+3] ^ KS[b..b+3]. */
function xorInto(a: number, b: number, d: number): void {
  for (let i = 0; i < 4; i++) KS[d + i] = KS[a + i] ^ KS[b + i];
}

function setup(key: Uint8Array): void {
  for (let i = 0; i < 12; i++) RK[i] = load(key, 4 * i);
  for (let i = 0; i < 4; i++) {
    KS[I0 + i] = RK[i];
    KS[J0 + i] = RK[4 + i];
    KS[L0 + i] = 0;
    KS[L0 + 4 + i] = RK[8 + i];
  }
  dbl(I0, I1);
  dbl(J0, J1);
  dbl(J1, J2);
  const L = (k: number): number => L0 + 4 * k;
  dbl(L(1), L(2));
  xorInto(L(2), L(1), L(3));
  dbl(L(2), L(4));
  xorInto(L(4), L(1), L(5));
  dbl(L(3), L(6));
  xorInto(L(6), L(1), L(7));
}

// ---------------------------------------------------------------------------------------------
// Scratch.

/** The nonce hash (AEZ's Delta), then X, Y and S of AEZ-core, 4 words each. */
const V = new Int32Array(16);
const DELTA = 0;
const X = 4;
const Y = 8;
const S = 12;
/** A 16-byte block for fragments: padding, partial XOR. */
const PAD = new Uint8Array(16);
/** Pass 1's intermediate blocks, 8 words per 32-byte chunk; grown on demand up to SCRATCH_CAP. */
let chunks = new Int32Array(1024);
const SCRATCH_CAP = 1 << 16; // words: larger messages get a one-off buffer instead

function wipe(scratch: Int32Array, words: number): void {
  RK.fill(0);
  KS.fill(0);
  OUT.fill(0);
  V.fill(0);
  PAD.fill(0);
  scratch.fill(0, 0, words);
}

/**
 * AEZ-hash of a 16-byte nonce with tau = 0 and no associated data:
 * Delta = AES4(<tau>_128 ^ (J ^ 2J) ^ 2I ^ L) ^ AES4(N ^ 4J ^ 2I ^ L), with <0>_128 = 0.
 */
function hashNonce(nonce: Uint8Array): void {
  aes4(
    KS[J0] ^ KS[J1] ^ KS[I1] ^ KS[L0 + 4],
    KS[J0 + 1] ^ KS[J1 + 1] ^ KS[I1 + 1] ^ KS[L0 + 5],
    KS[J0 + 2] ^ KS[J1 + 2] ^ KS[I1 + 2] ^ KS[L0 + 6],
    KS[J0 + 3] ^ KS[J1 + 3] ^ KS[I1 + 3] ^ KS[L0 + 7],
  );
  const h0 = OUT[0];
  const h1 = OUT[1];
  const h2 = OUT[2];
  const h3 = OUT[3];
  aes4(
    load(nonce, 0) ^ KS[J2] ^ KS[I1] ^ KS[L0 + 4],
    load(nonce, 4) ^ KS[J2 + 1] ^ KS[I1 + 1] ^ KS[L0 + 5],
    load(nonce, 8) ^ KS[J2 + 2] ^ KS[I1 + 2] ^ KS[L0 + 6],
    load(nonce, 12) ^ KS[J2 + 3] ^ KS[I1 + 3] ^ KS[L0 + 7],
  );
  V[DELTA] = h0 ^ OUT[0];
  V[DELTA + 1] = h1 ^ OUT[1];
  V[DELTA + 2] = h2 ^ OUT[2];
  V[DELTA + 3] = h3 ^ OUT[3];
}

/** V[acc..] ^= AES4(block ^ 2I ^ L_k), block = the 16 words in PAD or at bytes p.. of `b`. */
function absorb(b: Uint8Array, p: number, k: number, acc: number): void {
  const l = L0 + 4 * k;
  aes4(
    load(b, p) ^ KS[I1] ^ KS[l],
    load(b, p + 4) ^ KS[I1 + 1] ^ KS[l + 1],
    load(b, p + 8) ^ KS[I1 + 2] ^ KS[l + 2],
    load(b, p + 12) ^ KS[I1 + 3] ^ KS[l + 3],
  );
  for (let i = 0; i < 4; i++) V[acc + i] ^= OUT[i];
}

/** PAD = the `len` (< 16) bytes at input[p..] followed by 0x80 and zeros. */
function padInto(input: Uint8Array, p: number, len: number): void {
  PAD.fill(0);
  for (let i = 0; i < len; i++) PAD[i] = input[p + i];
  PAD[len] = 0x80;
}

/** The fragment's X contribution (`len` = 1..31 bytes at input[p..]). */
function fragmentX(input: Uint8Array, p: number, len: number): void {
  if (len >= 16) {
    absorb(input, p, 4, X);
    padInto(input, p + 16, len - 16);
    absorb(PAD, 0, 5, X);
  } else {
    padInto(input, p, len);
    absorb(PAD, 0, 4, X);
  }
}

/** Enciphers `len` (< 16, may be 0) bytes at input[p..] into out[p..] with AES10(S ^ L_k), and absorbs the padded result into Y. */
function fragmentPartial(input: Uint8Array, out: Uint8Array, p: number, len: number, k: number): void {
  const l = L0 + 4 * k;
  aes10(V[S] ^ KS[l], V[S + 1] ^ KS[l + 1], V[S + 2] ^ KS[l + 2], V[S + 3] ^ KS[l + 3]);
  for (let i = 0; i < 4; i++) store(PAD, 4 * i, OUT[i]);
  for (let i = 0; i < len; i++) {
    const c = PAD[i] ^ input[p + i];
    out[p + i] = c;
    PAD[i] = c;
  }
  PAD.fill(0, len);
  PAD[len] = 0x80;
  absorb(PAD, 0, k, Y);
}

/** The fragment's encryption and Y contribution. */
function fragmentY(input: Uint8Array, out: Uint8Array, p: number, len: number): void {
  if (len >= 16) {
    const l = L0 + 16; // L_4
    aes10(V[S] ^ KS[l], V[S + 1] ^ KS[l + 1], V[S + 2] ^ KS[l + 2], V[S + 3] ^ KS[l + 3]);
    for (let i = 0; i < 4; i++) store(out, p + 4 * i, load(input, p + 4 * i) ^ OUT[i]);
    absorb(out, p, 4, Y);
    fragmentPartial(input, out, p + 16, len - 16, 5);
  } else {
    fragmentPartial(input, out, p, len, 4);
  }
}

/**
 * AEZ-core on `input` (>= 32 bytes) into `out` (same length, distinct): d = 0 enciphers,
 * d = 1 deciphers. Chunk j (1-based) of the first pass covers bytes 32(j-1)..32j of the body
 * (everything but the fragment and the last 32 bytes) and uses the offset 2^floor((j-1)/8)·2I ^ L_(j mod 8).
 */
/** AEZ-core's first pass over the body's 32-byte chunks: the W_j and X_j into `scratch`, X into V[X]. */
function firstPass(input: Uint8Array, count: number, scratch: Int32Array): void {
  // Constant offsets, kept in locals for the hot loop.
  const a0 = KS[I0], a1 = KS[I0 + 1], a2 = KS[I0 + 2], a3 = KS[I0 + 3];
  const ja0 = KS[J0], ja1 = KS[J0 + 1], ja2 = KS[J0 + 2], ja3 = KS[J0 + 3];
  // W_j = M_j ^ AES4(M'_j ^ J ^ I_j ^ L_j), X_j = M'_j ^ AES4(W_j ^ I); X = xor of X_j.
  let x0 = 0, x1 = 0, x2 = 0, x3 = 0;
  let i0 = KS[I1], i1 = KS[I1 + 1], i2 = KS[I1 + 2], i3 = KS[I1 + 3];
  for (let j = 1, p = 0, q = 0; j <= count; j++, p += 32, q += 8) {
    const l = L0 + ((j & 7) << 2);
    aes4(
      load(input, p + 16) ^ ja0 ^ i0 ^ KS[l],
      load(input, p + 20) ^ ja1 ^ i1 ^ KS[l + 1],
      load(input, p + 24) ^ ja2 ^ i2 ^ KS[l + 2],
      load(input, p + 28) ^ ja3 ^ i3 ^ KS[l + 3],
    );
    const w0 = load(input, p) ^ OUT[0];
    const w1 = load(input, p + 4) ^ OUT[1];
    const w2 = load(input, p + 8) ^ OUT[2];
    const w3 = load(input, p + 12) ^ OUT[3];
    aes4(w0 ^ a0, w1 ^ a1, w2 ^ a2, w3 ^ a3);
    const y0 = load(input, p + 16) ^ OUT[0];
    const y1 = load(input, p + 20) ^ OUT[1];
    const y2 = load(input, p + 24) ^ OUT[2];
    const y3 = load(input, p + 28) ^ OUT[3];
    scratch[q] = w0;
    scratch[q + 1] = w1;
    scratch[q + 2] = w2;
    scratch[q + 3] = w3;
    scratch[q + 4] = y0;
    scratch[q + 5] = y1;
    scratch[q + 6] = y2;
    scratch[q + 7] = y3;
    x0 ^= y0;
    x1 ^= y1;
    x2 ^= y2;
    x3 ^= y3;
    if ((j & 7) === 0) {
      const c = (i0 >> 31) & 0x87;
      i0 = (i0 << 1) | (i1 >>> 31);
      i1 = (i1 << 1) | (i2 >>> 31);
      i2 = (i2 << 1) | (i3 >>> 31);
      i3 = (i3 << 1) ^ c;
    }
  }
  V[X] = x0;
  V[X + 1] = x1;
  V[X + 2] = x2;
  V[X + 3] = x3;
}

/** AEZ-core's second pass: the output chunks from `scratch` and S (in V[S]); Y into V[Y]. */
function secondPass(out: Uint8Array, count: number, scratch: Int32Array): void {
  // Constant offsets, kept in locals for the hot loop.
  const a0 = KS[I0], a1 = KS[I0 + 1], a2 = KS[I0 + 2], a3 = KS[I0 + 3];
  const ja0 = KS[J0], ja1 = KS[J0 + 1], ja2 = KS[J0 + 2], ja3 = KS[J0 + 3];
  const jb0 = KS[J1], jb1 = KS[J1 + 1], jb2 = KS[J1 + 2], jb3 = KS[J1 + 3];
  const s0 = V[S], s1 = V[S + 1], s2 = V[S + 2], s3 = V[S + 3];
  // Pass 2: with T = AES4(S ^ 2J ^ I_j ^ L_j): W' = W ^ T, X' = X_j ^ T, Y = xor of W';
  // C'_j = W' ^ AES4(X' ^ I), C_j = X' ^ AES4(C'_j ^ J ^ I_j ^ L_j); output C_j | C'_j.
  let y0 = 0, y1 = 0, y2 = 0, y3 = 0;
  let i0 = KS[I1], i1 = KS[I1 + 1], i2 = KS[I1 + 2], i3 = KS[I1 + 3];
  for (let j = 1, p = 0, q = 0; j <= count; j++, p += 32, q += 8) {
    const l = L0 + ((j & 7) << 2);
    const o0 = i0 ^ KS[l], o1 = i1 ^ KS[l + 1], o2 = i2 ^ KS[l + 2], o3 = i3 ^ KS[l + 3];
    aes4(s0 ^ jb0 ^ o0, s1 ^ jb1 ^ o1, s2 ^ jb2 ^ o2, s3 ^ jb3 ^ o3);
    const t0 = OUT[0], t1 = OUT[1], t2 = OUT[2], t3 = OUT[3];
    let w0 = scratch[q] ^ t0;
    let w1 = scratch[q + 1] ^ t1;
    let w2 = scratch[q + 2] ^ t2;
    let w3 = scratch[q + 3] ^ t3;
    const z0 = scratch[q + 4] ^ t0;
    const z1 = scratch[q + 5] ^ t1;
    const z2 = scratch[q + 6] ^ t2;
    const z3 = scratch[q + 7] ^ t3;
    y0 ^= w0;
    y1 ^= w1;
    y2 ^= w2;
    y3 ^= w3;
    aes4(z0 ^ a0, z1 ^ a1, z2 ^ a2, z3 ^ a3);
    w0 ^= OUT[0];
    w1 ^= OUT[1];
    w2 ^= OUT[2];
    w3 ^= OUT[3];
    aes4(w0 ^ ja0 ^ o0, w1 ^ ja1 ^ o1, w2 ^ ja2 ^ o2, w3 ^ ja3 ^ o3);
    store(out, p, z0 ^ OUT[0]);
    store(out, p + 4, z1 ^ OUT[1]);
    store(out, p + 8, z2 ^ OUT[2]);
    store(out, p + 12, z3 ^ OUT[3]);
    store(out, p + 16, w0);
    store(out, p + 20, w1);
    store(out, p + 24, w2);
    store(out, p + 28, w3);
    if ((j & 7) === 0) {
      const c = (i0 >> 31) & 0x87;
      i0 = (i0 << 1) | (i1 >>> 31);
      i1 = (i1 << 1) | (i2 >>> 31);
      i2 = (i2 << 1) | (i3 >>> 31);
      i3 = (i3 << 1) ^ c;
    }
  }
  V[Y] = y0;
  V[Y + 1] = y1;
  V[Y + 2] = y2;
  V[Y + 3] = y3;
}

function core(input: Uint8Array, out: Uint8Array, d: number, scratch: Int32Array): void {
  const n = input.length;
  const frag = n & 31;
  const body = n - frag - 32;
  const count = body >>> 5;

  firstPass(input, count, scratch);
  if (frag > 0) fragmentX(input, body, frag);

  // The last 32 bytes (M_u, M_v): S_x = X ^ M_u ^ Delta ^ AES4(M_v ^ 2I ^ L_(1+d)),
  // S_y = M_v ^ AES10(S_x ^ L_(1+d)), S = S_x ^ S_y.
  const t = n - 32;
  const ls = L0 + 4 * (1 + d);
  const v0 = load(input, t + 16), v1 = load(input, t + 20), v2 = load(input, t + 24), v3 = load(input, t + 28);
  aes4(v0 ^ KS[I1] ^ KS[ls], v1 ^ KS[I1 + 1] ^ KS[ls + 1], v2 ^ KS[I1 + 2] ^ KS[ls + 2], v3 ^ KS[I1 + 3] ^ KS[ls + 3]);
  const sx0 = V[X] ^ load(input, t) ^ V[DELTA] ^ OUT[0];
  const sx1 = V[X + 1] ^ load(input, t + 4) ^ V[DELTA + 1] ^ OUT[1];
  const sx2 = V[X + 2] ^ load(input, t + 8) ^ V[DELTA + 2] ^ OUT[2];
  const sx3 = V[X + 3] ^ load(input, t + 12) ^ V[DELTA + 3] ^ OUT[3];
  aes10(sx0 ^ KS[ls], sx1 ^ KS[ls + 1], sx2 ^ KS[ls + 2], sx3 ^ KS[ls + 3]);
  const sy0 = v0 ^ OUT[0], sy1 = v1 ^ OUT[1], sy2 = v2 ^ OUT[2], sy3 = v3 ^ OUT[3];
  const s0 = sx0 ^ sy0, s1 = sx1 ^ sy1, s2 = sx2 ^ sy2, s3 = sx3 ^ sy3;
  V[S] = s0;
  V[S + 1] = s1;
  V[S + 2] = s2;
  V[S + 3] = s3;

  secondPass(out, count, scratch);
  if (frag > 0) fragmentY(input, out, body, frag);

  // Finish: S_x' = S_x ^ AES10(S_y ^ L_(2-d)), S_y' = S_y ^ Delta ^ Y ^ AES4(S_x' ^ 2I ^ L_(2-d));
  // the last 32 bytes are S_y' | S_x'.
  const lf = L0 + 4 * (2 - d);
  aes10(sy0 ^ KS[lf], sy1 ^ KS[lf + 1], sy2 ^ KS[lf + 2], sy3 ^ KS[lf + 3]);
  const fx0 = sx0 ^ OUT[0], fx1 = sx1 ^ OUT[1], fx2 = sx2 ^ OUT[2], fx3 = sx3 ^ OUT[3];
  aes4(fx0 ^ KS[I1] ^ KS[lf], fx1 ^ KS[I1 + 1] ^ KS[lf + 1], fx2 ^ KS[I1 + 2] ^ KS[lf + 2], fx3 ^ KS[I1 + 3] ^ KS[lf + 3]);
  store(out, t, sy0 ^ V[DELTA] ^ V[Y] ^ OUT[0]);
  store(out, t + 4, sy1 ^ V[DELTA + 1] ^ V[Y + 1] ^ OUT[1]);
  store(out, t + 8, sy2 ^ V[DELTA + 2] ^ V[Y + 2] ^ OUT[2]);
  store(out, t + 12, sy3 ^ V[DELTA + 3] ^ V[Y + 3] ^ OUT[3]);
  store(out, t + 16, fx0);
  store(out, t + 20, fx1);
  store(out, t + 24, fx2);
  store(out, t + 28, fx3);
}

function check(key: Uint8Array, nonce: Uint8Array, message: Uint8Array): void {
  requireLength('AEZ key', key, AEZ_KEY_LENGTH);
  requireLength('AEZ nonce', nonce, AEZ_NONCE_LENGTH);
  // AEZ's wide-block mode needs at least 32 bytes; shorter inputs use a different, tiny-block mode
  // that the Sphinx payload never needs.
  if (message.length < 32) throw new InvalidLengthError('AEZ message', '>= 32', message.length);
}

function run(key: Uint8Array, nonce: Uint8Array, input: Uint8Array, d: number): Uint8Array {
  check(key, nonce, input);
  const words = (input.length - (input.length & 31) - 32) >>> 2;
  let scratch = chunks;
  if (scratch.length < words) {
    scratch = new Int32Array(words);
    if (words <= SCRATCH_CAP) chunks = scratch;
  }
  const out = new Uint8Array(input.length);
  setup(key);
  hashNonce(nonce);
  core(input, out, d, scratch);
  wipe(scratch, words);
  return out;
}

export function aezSprpEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return run(key, nonce, plaintext, 0);
}

/** With tau = 0 there is no tag to verify, so deciphering cannot fail. */
export function aezSprpDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return run(key, nonce, ciphertext, 1);
}
