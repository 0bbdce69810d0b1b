/**
 * A token bucket for one client address (docs/network.md, "Gateway"): `rate` tokens per second
 * up to `burst`; a packet takes one token or is refused. The time is a parameter (the node's clock).
 */
export class TokenBucket {
  private tokens = 0;
  private last: number | undefined;

  /** True when a token was available (and is now taken). */
  take(nowMs: number, rate: number, burst: number): boolean {
    if (this.last === undefined) {
      this.tokens = burst;
    } else {
      const elapsed = Math.max(0, nowMs - this.last);
      this.tokens = Math.min(burst, this.tokens + (elapsed * rate) / 1000);
    }
    this.last = Math.max(nowMs, this.last ?? nowMs);
    this.tokens = Math.min(this.tokens, burst);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The gateway's burst for a per-client rate: max(4, 2 × rate). */
export function gatewayBurst(rate: number): number {
  return Math.max(4, 2 * rate);
}

/**
 * One token bucket per source address (docs/nodes.md, "Gateway"): every connection from an address
 * draws on the same bucket, so opening more connections buys no more packets. A bucket outlives the
 * connections (reconnecting does not refill it) and is forgotten once it would be full again.
 */
export class AddressRateLimiter {
  private readonly buckets = new Map<string, { bucket: TokenBucket; lastMs: number }>();
  private nextSweepMs = 0;

  /** True when `address` may send one more packet at `nowMs`. */
  take(address: string, nowMs: number, rate: number, burst: number): boolean {
    this.sweep(nowMs, (burst / rate) * 1000);
    let entry = this.buckets.get(address);
    if (entry === undefined) {
      entry = { bucket: new TokenBucket(), lastMs: nowMs };
      this.buckets.set(address, entry);
    }
    entry.lastMs = Math.max(entry.lastMs, nowMs);
    return entry.bucket.take(nowMs, rate, burst);
  }

  /** Addresses with a bucket held. */
  get size(): number {
    return this.buckets.size;
  }

  /** Drops buckets untouched for `refillMs` (they would be full): at most once per `refillMs`. */
  private sweep(nowMs: number, refillMs: number): void {
    if (nowMs < this.nextSweepMs) return;
    this.nextSweepMs = nowMs + refillMs;
    for (const [address, entry] of this.buckets) if (nowMs - entry.lastMs >= refillMs) this.buckets.delete(address);
  }
}
