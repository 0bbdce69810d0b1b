import { hexOf } from '../../codec/bytes.js';
import type { Sphinx } from '../../sphinx/index.js';
import type { Emit } from './types.js';

const MAX_RTTS = 64;
const MAX_LOOPS_OUTSTANDING = 4096;

/**
 * The client's loops in flight (docs/client.md, "Loops"): each loop's SURB id and decryption token
 * until it comes back through the own mailbox (its round trip is recorded) or is given up as lost.
 */
export class LoopTracker {
  sent = 0;
  returned = 0;
  lost = 0;
  /** The latest round trips, oldest first. */
  readonly rtts: number[] = [];
  private readonly outstanding = new Map<string, { sentMs: number; token: Uint8Array }>();

  constructor(private readonly emit: Emit) {}

  /** A loop left at `sentMs`. */
  left(surbId: Uint8Array, sentMs: number, token: Uint8Array): void {
    this.sent++;
    if (this.outstanding.size >= MAX_LOOPS_OUTSTANDING) {
      this.outstanding.delete(this.outstanding.keys().next().value as string);
      this.lost++;
    }
    this.outstanding.set(hexOf(surbId), { sentMs, token });
  }

  /**
   * A stored item arrived under `surbId`: 'loop' when it was one of ours that came back, 'other'
   * when the ID is a loop's but the item does not decrypt (the loop stays outstanding: only its
   * own return uses it up), undefined when it is no loop of ours.
   */
  returnOf(surbId: Uint8Array, payload: Uint8Array, now: number, sphinx: Sphinx): 'loop' | 'other' | undefined {
    const key = hexOf(surbId);
    const loop = this.outstanding.get(key);
    if (loop === undefined) return undefined;
    try {
      sphinx.decryptSurbPayload(payload, loop.token);
    } catch {
      return 'other';
    }
    this.outstanding.delete(key);
    const rtt = Math.max(0, now - loop.sentMs);
    this.returned++;
    this.rtts.push(rtt);
    if (this.rtts.length > MAX_RTTS) this.rtts.shift();
    this.emit({ type: 'loop', rttMs: rtt });
    return 'loop';
  }

  /** Loops sent before `cutoffMs` can no longer come back (their mailbox is no longer read): lost. */
  expire(cutoffMs: number): void {
    for (const [key, loop] of this.outstanding) {
      if (loop.sentMs >= cutoffMs) continue;
      this.outstanding.delete(key);
      this.lost++;
    }
  }
}
