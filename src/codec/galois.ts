/**
 * Arithmetic in GF(2^8) with the reducing polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11d), whose
 * root 2 generates the multiplicative group. Addition is XOR. Used by the Reed–Solomon erasure
 * code (reed-solomon.ts).
 *
 * Tables, built once at load:
 * - GF_EXP[i] = 2^i for i in 0 .. 509 (doubled so that GF_EXP[log a + log b] needs no reduction);
 * - GF_LOG[a] = log_2 a for a in 1 .. 255 (GF_LOG[0] is unused);
 * - GF_MUL[(c << 8) | x] = c · x: 256 rows of 256 bytes (64 KiB). Row c is the multiplication
 *   table of the coefficient c, which the codec's inner loops index by data byte.
 */
export const GF_POLYNOMIAL = 0x11d;

export const GF_EXP = new Uint8Array(510);
export const GF_LOG = new Uint8Array(256);
export const GF_MUL = new Uint8Array(256 * 256);

{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    GF_EXP[i] = x;
    GF_EXP[i + 255] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= GF_POLYNOMIAL;
  }
  for (let a = 1; a < 256; a++) {
    const logA = GF_LOG[a];
    const row = a << 8;
    for (let b = 1; b < 256; b++) GF_MUL[row | b] = GF_EXP[logA + GF_LOG[b]];
  }
}

export function gfAdd(a: number, b: number): number {
  return a ^ b;
}

export function gfMul(a: number, b: number): number {
  return GF_MUL[(a << 8) | b];
}

/** The multiplicative inverse of a non-zero element; RangeError for 0. */
export function gfInv(a: number): number {
  if (a === 0) throw new RangeError('GF(2^8): 0 has no inverse');
  return GF_EXP[255 - GF_LOG[a]];
}

/** a / b for b ≠ 0; RangeError for division by 0. */
export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('GF(2^8): division by 0');
  if (a === 0) return 0;
  return GF_EXP[GF_LOG[a] + 255 - GF_LOG[b]];
}

/** a^n for an integer n ≥ 0 (0^0 = 1). */
export function gfPow(a: number, n: number): number {
  if (n === 0) return 1;
  if (a === 0) return 0;
  return GF_EXP[(GF_LOG[a] * n) % 255];
}

/** The 256-byte multiplication table of coefficient c: row[x] = c · x (a view, not a copy). */
export function gfMulRow(c: number): Uint8Array {
  return GF_MUL.subarray(c << 8, (c << 8) + 256);
}

/**
 * Inverts an n × n matrix (row-major, n² bytes) by Gauss–Jordan elimination. Returns undefined
 * when it is singular. The input is not modified.
 */
export function gfInvertMatrix(matrix: Uint8Array, n: number): Uint8Array | undefined {
  const a = matrix.slice();
  const inv = new Uint8Array(n * n);
  for (let i = 0; i < n; i++) inv[i * n + i] = 1;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    while (pivot < n && a[pivot * n + col] === 0) pivot++;
    if (pivot === n) return undefined;
    if (pivot !== col) {
      for (let j = 0; j < n; j++) {
        let t = a[col * n + j]; a[col * n + j] = a[pivot * n + j]; a[pivot * n + j] = t;
        t = inv[col * n + j]; inv[col * n + j] = inv[pivot * n + j]; inv[pivot * n + j] = t;
      }
    }
    const scale = gfInv(a[col * n + col]);
    if (scale !== 1) {
      for (let j = 0; j < n; j++) {
        a[col * n + j] = gfMul(scale, a[col * n + j]);
        inv[col * n + j] = gfMul(scale, inv[col * n + j]);
      }
    }
    for (let row = 0; row < n; row++) {
      const factor = row === col ? 0 : a[row * n + col];
      if (factor === 0) continue;
      for (let j = 0; j < n; j++) {
        a[row * n + j] ^= gfMul(factor, a[col * n + j]);
        inv[row * n + j] ^= gfMul(factor, inv[col * n + j]);
      }
    }
  }
  return inv;
}
