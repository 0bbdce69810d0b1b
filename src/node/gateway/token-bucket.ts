/**
 * A token bucket for one client connection (docs/network.md, "Gateway"): `rate` tokens per second
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
