import type { RandomSource } from '../../crypto/seeded-random.js';
import type { ConsensusDocument } from '../../pki/index.js';
import { alertRates } from '../../traffic/loop-alert.js';
import { fillSlot, PoissonStreams } from '../../traffic/poisson.js';
import type { Clock } from '../../net/clock.js';
import { describeError } from '../errors.js';
import { RouteError } from '../routes.js';
import type { GatewayConnections } from './gateways.js';
import type { LoopTracker } from './loops.js';
import type { NetworkView } from './network-view.js';
import type { Outbox } from './outbox.js';
import type { PacketFactory } from './packets.js';
import type { ReplyQueue } from './replies.js';
import type { Emit, Outbound } from './types.js';

/**
 * How late a slot may be and still leave (docs/client.md, "Missed slots"): a busy machine's timers
 * fire a few milliseconds late (p99 9–14 ms measured on a loaded 2-core machine), and dropping
 * every slot they overran cost about a fifth of the packets there, a rate that followed the
 * machine's load. A stall longer than this still drops what it overran.
 */
export const LATE_SLOT_GRACE_MS = 25;

/**
 * The client's packet streams on its one gateway connection (docs/client.md, "Traffic"): a Poisson send
 * stream whose every event carries a real packet (a reply first, else a fragment) or drop cover, a
 * Poisson loop stream, and an independent drop stream. Rates come from the consensus (loop and drop
 * raised on high alert). An event that
 * finds no open gateway connection or no usable consensus is a missed slot: dropped, never caught up.
 */
export class SendStream {
  cover = 0;
  drops = 0;
  missedSlots = 0;
  private streams!: PoissonStreams;
  private dropStream!: PoissonStreams;
  private rateKey = '';
  private traffic!: ConsensusDocument['traffic'];
  private high = false;
  private timer: unknown;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly view: NetworkView,
    private readonly gateways: GatewayConnections,
    private readonly packets: PacketFactory,
    private readonly parts: { readonly replies: ReplyQueue; readonly outbox: Outbox; readonly loops: LoopTracker },
    private readonly emit: Emit,
    /** Called after a send slot's packet left (the queues may have emptied). */
    private readonly afterSlot: () => void,
  ) {}

  /** Takes the consensus's rates; the streams restart only when they changed. */
  onConsensus(traffic: ConsensusDocument['traffic'], first: boolean): void {
    this.traffic = traffic;
    this.restart(!first);
  }

  /** High alert raises the loop and drop rates within their budget (alertRates; docs/network.md, "Alerts"). */
  setHighAlert(high: boolean): void {
    if (high === this.high) return;
    this.high = high;
    this.restart(true);
  }

  /** The rates in use: the consensus's, raised on high alert. */
  get rates(): { sendPerSecond: number; loopPerSecond: number; dropPerSecond: number } {
    const { loopRate, dropRate } = this.high ? alertRates(this.traffic) : this.traffic;
    return { sendPerSecond: this.traffic.clientSendRate, loopPerSecond: loopRate, dropPerSecond: dropRate };
  }

  private restart(reschedule: boolean): void {
    const { sendPerSecond, loopPerSecond, dropPerSecond } = this.rates;
    const rateKey = `${sendPerSecond}/${loopPerSecond}/${dropPerSecond}`;
    if (rateKey === this.rateKey) return;
    this.rateKey = rateKey;
    const now = this.view.now();
    this.streams = new PoissonStreams(this.random, { sendPerSecond, loopPerSecond }, now);
    this.dropStream = new PoissonStreams(this.random, { sendPerSecond: dropPerSecond, loopPerSecond: 0 }, now);
    if (reschedule) this.schedule();
  }

  schedule(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.closed) return;
    const next = Math.min(this.streams.peek().at, this.dropStream.peek().at);
    if (!Number.isFinite(next)) return;
    this.timer = this.clock.setTimer(() => this.onTimer(), Math.max(0, next - this.clock.now()));
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = this.clock.now(); // unrounded: event times are fractional
    // Slots a few milliseconds late (a busy machine) are sent late; slots that a stall made overdue
    // for longer are dropped, never caught up (src/traffic/poisson.ts, takeDue), so a stall never
    // ends in a burst of packets.
    const due = this.streams.takeDue(now, LATE_SLOT_GRACE_MS);
    const drop = this.dropStream.takeDue(now, LATE_SLOT_GRACE_MS);
    this.missedSlots += due.skipped + drop.skipped;
    const events = [...due.events.map((event) => ({ at: event.at, kind: event.kind as 'send' | 'loop' | 'drop' })), ...drop.events.map((event) => ({ at: event.at, kind: 'drop' as const }))];
    events.sort((a, b) => a.at - b.at);
    for (const event of events) {
      if (event.kind === 'send') this.guard('send', () => this.sendSlot());
      else if (event.kind === 'loop') this.guard('send', () => this.sendLoop());
      else this.guard('drop', () => this.sendDrop());
    }
    this.schedule();
  }

  private guard(where: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.emit({ type: 'error', where, message: describeError(error) });
    }
  }

  /** One event of the send stream: the oldest ready real packet, else drop cover. */
  private sendSlot(): void {
    const now = this.view.now();
    const main = this.gateways.main;
    if (!main.ready) {
      this.missedSlots++;
      void main.ensure();
      return;
    }
    const real = this.parts.replies.next(now) ?? this.parts.outbox.next(now);
    const slot = fillSlot<Outbound | undefined>(real === undefined ? [] : [real], () => this.coverOutbound(now));
    const outbound = slot.packet;
    if (outbound === undefined) {
      this.missedSlots++;
      return;
    }
    if (!main.send(outbound.frame)) {
      outbound.abort();
      this.missedSlots++;
      return;
    }
    outbound.commit();
    this.afterSlot();
  }

  private coverOutbound(now: number): Outbound | undefined {
    try {
      return { frame: this.packets.cover(now, this.gateways.main.node), commit: () => this.cover++, abort: () => undefined };
    } catch (error) {
      if (error instanceof RouteError) return undefined;
      throw error;
    }
  }

  /**
   * For tests only (StartOptions.plantedLeakForTests 'burst-on-send'): every queued real packet
   * goes out now, back to back, outside the Poisson stream, as fast as the builder makes
   * them. A deliberate leak.
   */
  async plantedBurstForTests(): Promise<void> {
    for (let guard = 0; guard < 10_000 && this.parts.outbox.length > 0; guard++) {
      const outbound = this.parts.outbox.next(this.view.now());
      if (outbound === undefined) {
        await new Promise((resolve) => setImmediate(resolve)); // the builder is still at it
        continue;
      }
      if (!this.gateways.main.send(outbound.frame)) {
        outbound.abort();
        break;
      }
      outbound.commit();
    }
    this.afterSlot();
  }

  /** One event of the loop stream: a SURB reply to oneself through every layer. */
  private sendLoop(): void {
    const now = this.view.now();
    const main = this.gateways.main;
    if (!main.ready) {
      void main.ensure();
      return;
    }
    let loop;
    try {
      loop = this.packets.loop(now, main.node);
    } catch (error) {
      if (error instanceof RouteError) return;
      throw error;
    }
    if (main.send(loop)) this.parts.loops.left(loop.surbId, now, loop.decryptionToken, loop.route);
  }

  /** One event of the drop stream: a cover packet, independent of the send stream. */
  private sendDrop(): void {
    const main = this.gateways.main;
    if (!main.ready) {
      void main.ensure();
      return;
    }
    const cover = this.coverOutbound(this.view.now());
    if (cover !== undefined && main.send(cover.frame)) this.drops++;
  }
}
