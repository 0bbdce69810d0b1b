import type { ReplayFilter } from '../sphinx/replay.js';

/**
 * A replay filter of fixed memory for one Sphinx key (one epoch): a Bloom filter over the replay
 * tags. Tags are already uniform (a PRF of the shared secret), so k bit positions are read straight
 * from the tag's bytes. A false positive drops an honest packet (the client's acknowledgements
 * resend it); the rate for n tags in m bits with k probes is about (1 − e^(−kn/m))^k. It only
 * grows with n, so a key's filter is a RotatingReplayFilter of such generations, each capped at the
 * capacity replay-sizing.ts computes.
 */
export class BloomReplayFilter implements ReplayFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private count = 0;

  constructor(readonly log2Bits: number, readonly probes = 6) {
    if (!Number.isInteger(log2Bits) || log2Bits < 10 || log2Bits > 32) throw new RangeError(`bloom: 2^${log2Bits} bits`);
    if (!Number.isInteger(probes) || probes < 1 || probes > 8) throw new RangeError(`bloom: ${probes} probes`);
    this.bits = new Uint32Array(2 ** (log2Bits - 5));
    this.mask = 2 ** log2Bits - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Memory the filter holds, in bytes. */
  get bytes(): number {
    return this.bits.byteLength;
  }

  /** Whether every probe of `tag` is set (nothing is recorded). */
  has(tag: Uint8Array): boolean {
    this.check(tag);
    for (let i = 0; i < this.probes; i++) {
      const position = probeAt(tag, i) & this.mask;
      if ((this.bits[position >>> 5] & (1 << (position & 31))) === 0) return false;
    }
    return true;
  }

  testAndSet(tag: Uint8Array): boolean {
    this.check(tag);
    let seen = true;
    for (let i = 0; i < this.probes; i++) {
      const position = probeAt(tag, i) & this.mask;
      const word = position >>> 5;
      const bit = 1 << (position & 31);
      if ((this.bits[word] & bit) === 0) {
        seen = false;
        this.bits[word] |= bit;
      }
    }
    if (!seen) this.count++;
    return seen;
  }

  private check(tag: Uint8Array): void {
    if (tag.length < 4 * this.probes) throw new RangeError('bloom: replay tag too short');
  }
}

/** Probe i's position: the tag's little-endian u32 at 4 i (read without a DataView, made per tag before). */
function probeAt(tag: Uint8Array, i: number): number {
  const at = 4 * i;
  return (tag[at] | (tag[at + 1] << 8) | (tag[at + 2] << 16) | (tag[at + 3] << 24)) >>> 0;
}
