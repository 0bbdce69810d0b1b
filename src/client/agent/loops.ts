import { hexOf } from '../../codec/bytes.js';
import type { Sphinx } from '../../sphinx/index.js';
import { LoopAlerts, type Alert } from '../../traffic/loop-alert.js';
import type { LoopFate } from '../../traffic/loop-attribution.js';
import type { Emit } from './types.js';

/** Where a loop went: the epoch it left in, its nodes (gateway, mixes, provider), when it is due back. */
export interface LoopRoute {
  readonly epoch: number;
  readonly hops: LoopFate['hops'];
  /** When it reaches the own provider: sent + the per-hop delays its sender drew. */
  readonly dueMs: number;
}

const MAX_RTTS = 64;
const MAX_LOOPS_OUTSTANDING = 4096;
/** Returned loops needed before a loop is given up by its deadline (before, only by expiry). */
const MIN_CALIBRATION = 8;

/**
 * The client's loops in flight (docs/client.md, "Loops"): each loop's SURB id, decryption token and
 * route until it comes back through the own mailbox (its round trip is recorded) or is given up as
 * lost: at the first successful poll that began past its deadline (overdue), or when its mailbox
 * is no longer read. Each fate is attributed to the loop's nodes (`alerts`, docs/network.md, "Alerts"),
 * from the first whole epoch after the agent's first loop on: the agent started during that epoch,
 * so it holds only a part of that epoch's loops, too few to tell apart two mixes they all crossed.
 */
export class LoopTracker {
  sent = 0;
  returned = 0;
  lost = 0;
  /** Alerts raised so far. */
  alarms = 0;
  /** The latest round trips, oldest first. */
  readonly rtts: number[] = [];
  private readonly outstanding = new Map<string, { sentMs: number; token: Uint8Array; route: LoopRoute; missedAt?: number }>();
  /** How long after it was due each of the latest returned loops was still missing from a poll (0 when never missed). */
  private readonly lags: number[] = [];
  readonly alerts = new LoopAlerts();
  /** The first epoch whose loops are judged: the one after the epoch of the first loop sent. */
  private judgedFrom: number | undefined;

  constructor(
    private readonly emit: Emit,
    /** Told after each judgement whether the current epoch is on high alert. */
    private readonly onHighAlert: (high: boolean) => void = () => undefined,
  ) {}

  /** A loop left at `sentMs` on `route`. */
  left(surbId: Uint8Array, sentMs: number, token: Uint8Array, route: LoopRoute): void {
    this.sent++;
    this.judgedFrom ??= route.epoch + 1;
    if (this.outstanding.size >= MAX_LOOPS_OUTSTANDING) {
      const oldest = this.outstanding.keys().next().value as string;
      this.giveUp(oldest);
    }
    this.outstanding.set(hexOf(surbId), { sentMs, token, route });
  }

  private giveUp(key: string): void {
    const loop = this.outstanding.get(key);
    if (loop === undefined) return;
    this.outstanding.delete(key);
    this.lost++;
    this.recordFate(loop.route, true);
  }

  private recordFate(route: LoopRoute, lost: boolean): void {
    if (this.judgedFrom !== undefined && route.epoch >= this.judgedFrom) this.alerts.record(route.epoch, { hops: route.hops, lost });
  }

  /**
   * A poll that began at `pollStartedMs` read the mailbox. A loop not back is lost once it is later
   * than twice the worst lag of the latest returned loops (how long a loop that did come back was
   * still missing from polls after it was due), and at least `minSlackMs`; until MIN_CALIBRATION
   * loops came back, only expiry gives loops up. So a slow mailbox (a loaded server, a slow PIR
   * snapshot) lengthens the deadline instead of raising alarms.
   */
  overdue(pollStartedMs: number, minSlackMs: number): void {
    const slackMs = this.slackMs(minSlackMs);
    for (const [key, loop] of this.outstanding) {
      if (loop.route.dueMs > pollStartedMs) continue;
      if (slackMs !== undefined && loop.route.dueMs + slackMs <= pollStartedMs) this.giveUp(key);
      else loop.missedAt = pollStartedMs;
    }
  }

  /** The current deadline after a loop's due time (undefined while too few loops came back). */
  slackMs(minSlackMs: number): number | undefined {
    if (this.lags.length < MIN_CALIBRATION) return undefined;
    return Math.max(minSlackMs, 2 * Math.max(...this.lags));
  }

  /**
   * Judges the loops' fates recorded since the last judgement: the new alerts (also emitted as
   * 'alert' events, nodes by `nameOf`: public names only), and whether `epoch` is on high alert.
   */
  judge(epoch: number, nameOf: (node: string) => string): Alert[] {
    const alerts = this.alerts.judge();
    this.alarms += alerts.length;
    for (const alert of alerts) {
      this.emit({
        type: 'alert', epoch: alert.epoch,
        suspects: alert.suspects.map((s) => ({ scope: s.scope, ...(s.node === undefined ? {} : { node: nameOf(s.node), layer: s.layer }), loops: s.loops, lost: s.lost, pValue: s.pValue })),
      });
    }
    this.onHighAlert(this.alerts.high(epoch));
    return alerts;
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
    this.recordFate(loop.route, false);
    this.lags.push(loop.missedAt === undefined ? 0 : Math.max(0, loop.missedAt - loop.route.dueMs));
    if (this.lags.length > MAX_RTTS) this.lags.shift();
    const rtt = Math.max(0, now - loop.sentMs);
    this.returned++;
    this.rtts.push(rtt);
    if (this.rtts.length > MAX_RTTS) this.rtts.shift();
    this.emit({ type: 'loop', rttMs: rtt });
    return 'loop';
  }

  /** Loops sent before `cutoffMs` can no longer come back (their mailbox is no longer read): lost. */
  expire(cutoffMs: number): void {
    for (const [key, loop] of this.outstanding) if (loop.sentMs < cutoffMs) this.giveUp(key);
  }
}
