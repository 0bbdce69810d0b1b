import { performance } from 'node:perf_hooks';
import { MixSchedule } from '../../mixing/schedule.js';
import { MAX_DELAY_MS } from '../../pki/index.js';
import { SphinxError, type ForwardResult, type ReplayFilter, type Sphinx, type UnwrapResult } from '../../sphinx/index.js';
import type { Clock } from '../../net/clock.js';
import type { ConsensusTracker } from './consensus.js';
import type { EpochKey, SphinxKeyring } from './keyring.js';
import type { NodeMetrics } from './metrics.js';
import type { PacketRecorder } from './packet-record.js';
import type { Peers } from './peers.js';

/**
 * One Sphinx hop, as every gateway, mix and provider performs it (docs/nodes.md, "Packets"): the
 * packet is unwrapped under the current epoch's key, or, during the grace period, the previous
 * epoch's (a bad MAC under one key may be the other epoch's packet), each key with its own replay
 * filter. Whatever Sphinx refuses is dropped and counted under its error code.
 */
export interface UnwrapContext {
  readonly sphinx: Sphinx;
  readonly keyring: SphinxKeyring;
  readonly clock: Clock;
  readonly metrics: NodeMetrics;
}

export function unwrapPacket(ctx: UnwrapContext, packet: Uint8Array): UnwrapResult | undefined {
  const { sphinx, keyring, clock, metrics } = ctx;
  if (packet.length !== sphinx.geometry.packetLength) {
    metrics.drop('wrong-size');
    return undefined;
  }
  const keys = keyring.candidates(clock.now());
  if (keys.length === 0) {
    metrics.drop('no-key');
    return undefined;
  }
  return settleOutcome(keys, unwrapWithSecrets(sphinx, keys.map((key) => key.secret), packet), metrics);
}

/**
 * What unwrapping one packet under the candidate secrets gave, before the replay check: the
 * result, or the Sphinx error code; `keyIndex` is the secret whose MAC verified (the first one
 * tried when none did) and `replayTag` the packet's tag under it, when the MAC verified.
 */
export type UnwrapOutcome =
  | { readonly ok: true; readonly keyIndex: number; readonly result: UnwrapResult; readonly seconds: number }
  | { readonly ok: false; readonly keyIndex: number; readonly code: string; readonly replayTag: Uint8Array | undefined; readonly seconds: number };

/** A filter that only remembers the tag it was given: the replay check is settleOutcome's. */
class TagRecorder implements ReplayFilter {
  tag: Uint8Array | undefined;
  readonly size = 0;
  testAndSet(tag: Uint8Array): boolean {
    this.tag = tag.slice();
    return false;
  }
}

/**
 * The cryptographic part of a hop, with no replay filter: run inline or on an unwrap worker
 * (src/node/mix/unwrap-pool.ts). Each secret is tried in order while the MAC fails under it.
 */
export function unwrapWithSecrets(sphinx: Sphinx, secrets: readonly Uint8Array[], packet: Uint8Array): UnwrapOutcome {
  const started = performance.now();
  let code = 'internal';
  let keyIndex = 0;
  for (let i = 0; i < secrets.length; i++) {
    const recorder = new TagRecorder();
    try {
      const result = sphinx.unwrap(secrets[i], packet, recorder);
      return { ok: true, keyIndex: i, result, seconds: (performance.now() - started) / 1000 };
    } catch (error) {
      if (!(error instanceof SphinxError)) break;
      code = error.code;
      keyIndex = i;
      // Only a MAC failure can mean "another epoch's key"; everything else is about the packet.
      if (error.code !== 'bad-mac') {
        return { ok: false, keyIndex, code, replayTag: recorder.tag, seconds: (performance.now() - started) / 1000 };
      }
    }
  }
  return { ok: false, keyIndex, code, replayTag: undefined, seconds: (performance.now() - started) / 1000 };
}

/**
 * The one place where a node's replay filters are consulted: a packet whose MAC verified under a
 * key has its tag recorded in that key's filter (even when it failed later, as inline unwrapping
 * always did), and a tag seen before drops it as 'replay'. Drops are counted.
 */
export function settleOutcome(keys: readonly EpochKey[], outcome: UnwrapOutcome, metrics: NodeMetrics): UnwrapResult | undefined {
  metrics.unwrapSeconds(outcome.seconds);
  const key = keys[outcome.keyIndex];
  const tag = outcome.ok ? outcome.result.replayTag : outcome.replayTag;
  if (key !== undefined && tag !== undefined && key.filter.testAndSet(tag)) {
    metrics.drop('replay');
    return undefined;
  }
  if (!outcome.ok) {
    metrics.drop(outcome.code);
    return undefined;
  }
  if (outcome.keyIndex > 0) metrics.count('node_unwrap_previous_key_total');
  return outcome.result;
}

interface Held {
  readonly packet: Uint8Array;
  readonly next: string;
  /** The recorder's hash of the packet as it arrived (test networks only). */
  readonly input?: string;
}

export interface ForwarderOptions {
  readonly clock: Clock;
  readonly peers: Peers;
  readonly consensus: ConsensusTracker;
  readonly metrics: NodeMetrics;
  readonly capacity: number;
  /** Test networks only: records each departure (src/node/runtime/packet-record.ts). */
  readonly recorder?: PacketRecorder;
}

/**
 * The hold-and-release part of a gateway or mix: a forward result waits in the MixSchedule (a
 * floor-2 core) for the delay its sender chose, capped at the consensus's `mixing.maxDelayMs`, and
 * is then handed to the LinkDialer of its next hop. A next hop that is not on the next layer of a
 * document held, a full schedule or a full link queue drops the packet (counted).
 */
export class Forwarder {
  private readonly schedule: MixSchedule<Held>;
  private timer: unknown;
  private timerAt: number | undefined;
  private closed = false;

  constructor(private readonly options: ForwarderOptions) {
    this.schedule = new MixSchedule<Held>(options.capacity, MAX_DELAY_MS);
  }

  /** Packets held. */
  get depth(): number {
    return this.schedule.size;
  }

  /** Holds `result` for its delay; `input` is the recorder's hash of the packet it came from. */
  forward(result: ForwardResult, input?: string): void {
    const { clock, peers, consensus, metrics } = this.options;
    if (this.closed) return metrics.drop('shutdown');
    const next = peers.nextHop(result.nextHop);
    if (next === undefined) return metrics.drop('unknown-next-hop');
    const now = clock.now();
    const maxDelay = consensus.active(now)?.mixing.maxDelayMs ?? 0;
    const delay = Math.min(result.delayMs ?? 0, maxDelay);
    if (!this.schedule.hold(now, delay, { packet: result.packet, next, ...(input === undefined ? {} : { input }) })) return metrics.drop('schedule-full');
    this.release();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
    const held = this.schedule.due(Number.MAX_SAFE_INTEGER).length;
    if (held > 0) this.options.metrics.drop('shutdown', held);
  }

  /** Sends everything due, then arms the timer for the next release. */
  private release(): void {
    const { clock, peers, metrics, recorder } = this.options;
    if (this.closed) return;
    const due = this.schedule.due(clock.now());
    // What the node held just before each departure, the departing packet included.
    let pool = this.schedule.size + due.length;
    for (const item of due) {
      try {
        const dialer = peers.dialer(item.next);
        if (dialer === undefined) metrics.drop('unknown-next-hop');
        else if (dialer.send(item.packet)) {
          metrics.count('node_packets_out_total');
          recorder?.departure(item.packet, pool, item.input ?? '-');
        } else metrics.drop(dialer.state === 'closed' ? 'link-closed' : 'link-queue-full');
      } catch {
        metrics.drop('internal'); // a bug: one packet lost, the schedule goes on
      }
      pool--;
    }
    this.arm();
  }

  private arm(): void {
    const { clock } = this.options;
    const next = this.schedule.nextRelease();
    if (next === this.timerAt) return;
    if (this.timer !== undefined) clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === undefined) return;
    this.timer = clock.setTimer(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.release();
    }, next - clock.now());
  }
}
