import type { ActiveAttacker, PacketView } from './attacker.js';
import { delayMs, exponential } from '../mixing/exponential.js';
import { epochAt } from '../pki/index.js';
import { fillSlot, PoissonStreams } from '../traffic/poisson.js';
import { nextPollAt } from '../traffic/poll-schedule.js';
import type { SimConfig } from './config.js';
import type { Delivered, SimRun } from './sim-run.js';
import { EventLog } from './event-log.js';
import { EventQueue } from './event-queue.js';
import { makeMixer, type Mixer } from './mixers.js';
import { DELAYED_HOPS, HOPS, PacketStore } from './packets.js';
import { simRandom, wordsDrawn, type SimRandom } from './random.js';
import { buildTopology, type SimTopology } from './topology.js';
import { Workload } from './workload.js';

/**
 * The discrete-event engine: clients emit their Poisson streams (src/traffic/poisson.ts, slots
 * filled by fillSlot), paths are Network.path's choice (uniform per layer here), every delaying hop holds packets in a mixer
 * (the real MixSchedule for exponential mixing), providers store what arrives and recipients fetch
 * it at their next poll (src/traffic/poll-schedule.ts). Sphinx is an identity transform: a packet
 * is a slot in the PacketStore that keeps its id; the log records what the links show (only inside
 * the configured log window, when there is one).
 *
 * Exponential mixing holds no per-node structure: a packet's release (its arrival time plus its
 * delay, capped at the maximum, as MixSchedule computes it) is a one-shot entry in the agenda, and
 * a node's pool is a count; ties leave in arrival order, as in MixSchedule. The batch strategies
 * hold packet slots in their mixer and the node is an actor of the agenda.
 */
export const REAL = 0;
export const LOOP = 1;
export const DROP = 2;
export type { Delivered, SimRun } from './sim-run.js';

/** The drop-cover slot's "packet" (fillSlot's makeCover): no message. */
const noPacket = (): number => -1;

interface ClientState {
  readonly streams: PoissonStreams;
  readonly drops: PoissonStreams | undefined;
  readonly queue: number[];
}

export function simulate(config: SimConfig, attacker?: ActiveAttacker): SimRun {
  return new Engine(config, attacker).run();
}

class Engine {
  private readonly random: SimRandom;
  private readonly topology: SimTopology;
  private readonly log = new EventLog();
  private readonly queue: EventQueue;
  private readonly mixers: Mixer<number>[];
  private readonly packets = new PacketStore();
  /** Exponential mixing: releases are agenda entries, pools are counts. */
  private readonly continuous: boolean;
  private readonly held: Float64Array;
  private readonly capacity: number;
  /** Agenda ids from here on are packet releases (id − releaseBase = the packet's slot). */
  private readonly releaseBase: number;
  private readonly logFrom: number;
  private readonly logUntil: number;
  private dropped = 0;
  private readonly clients: ClientState[] = [];
  /** Per client, what its streams' peek() last said: the next send-or-loop and the next drop (Infinity: none). */
  private readonly streamAt: Float64Array;
  private readonly dropAt: Float64Array;
  private readonly workload: Workload;
  private readonly arrivals: number[];
  private readonly departures: number[];
  private readonly inOrder: boolean[];
  private readonly delivered: Delivered[] = [];
  private readonly sent = { real: 0, loop: 0, drop: 0 };
  private readonly latencies = { endToEnd: [] as number[], network: [] as number[] };
  private readonly mailActor: number;
  /** Whether a packet whose whole life lies outside the log window may skip the agenda (see skipsAgenda). */
  private readonly fastPath: boolean;
  /** Mixes whose departures have all left in arrival order so far (the fast path waits for none). */
  private orderedMixes: number;
  /** Generator words route() takes: the mixes' uniform draws and the delays' bytes. */
  private readonly routeWords: number;
  private nextMailAt = Infinity;
  private mailsWritten = 0;

  constructor(private readonly config: SimConfig, private readonly attacker?: ActiveAttacker) {
    this.random = simRandom(config.seed);
    this.topology = buildTopology(config.topology, config.network, config.epochMs);
    const nodes = this.topology.nodes.length;
    const { maxDelayMs } = config.network.mixing;
    this.mixers = this.topology.nodes.map(() => makeMixer<number>(config.strategy, maxDelayMs, this.random.uniform));
    this.continuous = config.strategy.kind === 'exponential';
    this.capacity = config.strategy.kind === 'exponential' ? (config.strategy.capacity ?? 1_000_000) : Infinity;
    this.held = new Float64Array(nodes);
    ({ from: this.logFrom, until: this.logUntil } = logWindow(config));
    this.arrivals = new Array<number>(nodes).fill(0);
    this.departures = new Array<number>(nodes).fill(0);
    this.inOrder = new Array<boolean>(nodes).fill(true);
    this.mailActor = config.users + nodes;
    this.releaseBase = config.users + nodes + 1;
    this.queue = new EventQueue(this.releaseBase);
    this.workload = new Workload(config.users, config.workload, this.random);
    this.streamAt = new Float64Array(config.users);
    this.dropAt = new Float64Array(config.users).fill(Infinity);
    const unbounded = config.strategy.kind === 'exponential' && config.strategy.capacity === undefined;
    this.fastPath = unbounded && attacker === undefined && config.logWindowMs !== undefined;
    this.orderedMixes = 3 * config.topology.mixesPerLayer;
    const delayWords = wordsDrawn((random) => delayMs(random, config.network.mixing.meanDelayMs, maxDelayMs));
    this.routeWords = (config.routing === 'cascade' ? 0 : 3) + (DELAYED_HOPS - 1) * delayWords;
  }

  run(): SimRun {
    const { traffic } = this.config.network;
    for (let c = 0; c < this.config.users; c++) {
      const streams = new PoissonStreams(this.random.bytes, { sendPerSecond: traffic.clientSendRate, loopPerSecond: traffic.loopRate }, 0);
      const drops = traffic.dropRate > 0 ? new PoissonStreams(this.random.bytes, { sendPerSecond: traffic.dropRate, loopPerSecond: 0 }, 0) : undefined;
      this.clients.push({ streams, drops, queue: [] });
      this.streamAt[c] = streams.peek().at;
      if (drops !== undefined) this.dropAt[c] = drops.peek().at;
      if (this.config.clientCover) this.queue.schedule(c, this.clientNext(c));
    }
    this.scheduleMail(0);
    const { users, durationMs } = this.config;
    let events = 0;
    for (;; events++) {
      const id = this.queue.pop();
      const at = this.queue.at;
      if (id < 0 || at > durationMs) break;
      if (id >= this.releaseBase) this.release(id - this.releaseBase, at);
      else if (id < users) this.clientEvent(id, at);
      else if (id === this.mailActor) this.mailEvent(at);
      else this.nodeEvent(id - users, at);
    }
    return {
      config: this.config,
      topology: this.topology,
      log: this.log,
      delivered: this.delivered,
      sent: this.sent,
      latencies: this.latencies,
      keepsOrder: this.inOrder.map((ordered, i) => ordered && this.departures[i] >= 10),
      mailsWritten: this.mailsWritten,
      dropped: this.dropped,
      agendaEvents: events,
    };
  }

  /** A new transmission in the log, or −1 outside the log window. */
  private transmission(client: number, now: number): number {
    return now >= this.logFrom && now <= this.logUntil ? this.log.transmission(client) : -1;
  }

  private clientNext(c: number): number {
    return Math.min(this.streamAt[c], this.dropAt[c]);
  }

  private scheduleMail(now: number): void {
    const perMs = (this.config.users * this.config.workload.mailsPerUserPerDay) / 86_400_000;
    this.nextMailAt = perMs > 0 ? now + exponential(this.random.bytes, 1 / perMs) : Infinity;
    this.queue.schedule(this.mailActor, this.nextMailAt);
  }

  private mailEvent(now: number): void {
    const message = this.workload.write(now);
    const sender = this.workload.senderOf(message);
    this.mailsWritten++;
    if (this.config.clientCover) this.clients[sender].queue.push(message);
    else this.send(sender, REAL, message, now);
    this.scheduleMail(now);
  }

  private clientEvent(c: number, now: number): void {
    const client = this.clients[c];
    if (client.drops !== undefined && this.dropAt[c] <= this.streamAt[c]) {
      client.drops.take();
      this.dropAt[c] = client.drops.peek().at;
      this.send(c, DROP, -1, now);
    } else {
      const kind = client.streams.take().kind;
      this.streamAt[c] = client.streams.peek().at;
      if (kind === 'loop') {
        this.send(c, LOOP, -1, now);
      } else {
        const slot = fillSlot(client.queue, noPacket);
        this.send(c, slot.real ? REAL : DROP, slot.packet, now);
      }
    }
    this.queue.schedule(c, this.clientNext(c));
  }

  /**
   * Gateway: the sender's guard, which forwards at once (no Sphinx hop: delay 0, no mixing); provider: `toUser`'s; mixes: one per layer, uniform (what
   * Network.path chooses when, as here, every node is its own operator: test/sim/engine.test.ts
   * checks the two agree), or the sender's cascade. Delays: the sender's per-hop draw (delayMs).
   */
  private route(p: number, c: number, toUser: number): void {
    const { gateways, providers, mixesPerLayer } = this.config.topology;
    const { meanDelayMs, maxDelayMs } = this.config.network.mixing;
    const { hops, delays } = this.packets;
    const chain = c % mixesPerLayer;
    hops[p * HOPS] = c % gateways;
    for (let l = 0; l < 3; l++) {
      const mix = this.config.routing === 'cascade' ? chain : Math.floor(this.random.uniform() * mixesPerLayer);
      hops[p * HOPS + 1 + l] = gateways + l * mixesPerLayer + mix;
    }
    hops[p * HOPS + 4] = gateways + 3 * mixesPerLayer + (toUser % providers);
    delays[p * DELAYED_HOPS] = 0; // the gateway forwards at once
    for (let h = 1; h < DELAYED_HOPS; h++) delays[p * DELAYED_HOPS + h] = delayMs(this.random.bytes, meanDelayMs, maxDelayMs);
  }

  private send(c: number, kind: number, message: number, now: number): void {
    if (kind !== REAL && this.fastPath && this.orderedMixes === 0 && now > this.logUntil) {
      this.coverAfterWindow(c, kind);
      return;
    }
    const toUser = kind === REAL ? this.workload.recipientOf(message) : kind === LOOP ? c : Math.floor(this.random.uniform() * this.config.users);
    const packets = this.packets;
    const p = packets.allocate();
    this.route(p, c, toUser);
    this.sent[kind === REAL ? 'real' : kind === LOOP ? 'loop' : 'drop']++;
    const tx = this.transmission(c, now);
    packets.kind[p] = kind;
    packets.message[p] = message;
    packets.client[p] = c;
    packets.hop[p] = 0;
    packets.tx[p] = tx;
    packets.firstTx[p] = tx;
    packets.sentAt[p] = now;
    if (this.skipsAgenda(p, now)) packets.release(p);
    else this.arrive(p, now);
  }

  /** How long an exponential mix holds a packet whose drawn delay is `delay` (MixSchedule's rule). */
  private holdMs(delay: number): number {
    return Number.isFinite(delay) && delay > 0 ? Math.min(delay, this.config.network.mixing.maxDelayMs) : 0;
  }

  /**
   * Exponential mixing with no capacity and no attacker: a packet's path and delays are fixed when
   * it is sent, so its departures and delivery are known at once. When all of them fall before the
   * log window, or it is sent after the window, nothing it does is logged, and it changes no pool
   * the log reads (every packet a node holds at a logged moment lives into the window, so takes the
   * agenda); its delivery is recorded now and it never enters the agenda. The gateway's counts are
   * kept (its order is what the adversary learns); the fast path waits until every mix has let a
   * packet overtake another, after which a mix's counts no longer matter. The run is otherwise the
   * same: no random draw depends on a release, and ties in the agenda leave in push order.
   */
  private skipsAgenda(p: number, now: number): boolean {
    if (!this.fastPath || this.orderedMixes > 0 || (now >= this.logFrom && now <= this.logUntil)) return false;
    const packets = this.packets;
    let at = now;
    for (let h = 1; h < DELAYED_HOPS; h++) at += this.holdMs(packets.delays[p * DELAYED_HOPS + h]);
    if (now < this.logFrom && at >= this.logFrom) return false;
    const gateway = packets.hops[p * HOPS];
    this.arrivals[gateway]++;
    this.departures[gateway]++;
    if (at <= this.config.durationMs && packets.kind[p] === REAL) this.recordLatency(packets.message[p], now, at);
    return true;
  }

  /**
   * Cover sent after the log window, on the fast path: no figure reads its path or delays (only
   * real mail's latency is recorded), so they are not computed; the generator is advanced past the
   * words their draws take (a drop's recipient, one mix per layer, three delays), so that every
   * later draw is the one the full path would have made. The gateway's counts are kept.
   */
  private coverAfterWindow(c: number, kind: number): void {
    this.random.skip((kind === DROP ? 1 : 0) + this.routeWords);
    this.sent[kind === LOOP ? 'loop' : 'drop']++;
    const gateway = c % this.config.topology.gateways;
    this.arrivals[gateway]++;
    this.departures[gateway]++;
  }

  /** The attacker's view of slot `p` (built per call: the attacker keeps fields, not the view). */
  private viewOf(p: number): PacketView {
    const packets = this.packets;
    return {
      kind: packets.kind[p],
      message: packets.message[p],
      client: packets.client[p],
      hops: Array.from(packets.hops.subarray(p * HOPS, (p + 1) * HOPS)),
      hop: packets.hop[p],
      delays: Array.from(packets.delays.subarray(p * DELAYED_HOPS, (p + 1) * DELAYED_HOPS)),
      tx: packets.tx[p],
      firstTx: packets.firstTx[p],
      sentAt: packets.sentAt[p],
    };
  }

  private arrive(p: number, now: number): void {
    const packets = this.packets;
    const hop = packets.hop[p];
    const node = packets.hops[p * HOPS + hop];
    const tx = packets.tx[p];
    if (this.attacker !== undefined && !this.attacker.admit(node, this.viewOf(p), now)) {
      packets.release(p);
      return;
    }
    if (hop === HOPS - 1) {
      if (tx >= 0) this.log.delivery(node, tx);
      this.deliver(p, node, now);
      packets.release(p);
      return;
    }
    if (hop === 0) {
      // The gateway forwards each packet the moment it arrives, in order: it is no Sphinx hop.
      if (tx >= 0) this.log.arrival(node, tx);
      packets.arrivalIndex[p] = this.arrivals[node]++;
      this.depart(p, node, 1, now);
      return;
    }
    const delay = packets.delays[p * DELAYED_HOPS + hop];
    if (this.continuous) {
      if (this.held[node] >= this.capacity) {
        this.dropped++;
        packets.release(p);
        return;
      }
      this.held[node]++;
      this.queue.push(this.releaseBase + p, now + this.holdMs(delay));
    } else {
      const mixer = this.mixers[node];
      mixer.hold(now, delay, p);
      const actor = this.config.users + node;
      const at = Math.max(now, mixer.nextRelease());
      if (at < this.queue.scheduledAt(actor)) this.queue.schedule(actor, at);
    }
    if (tx >= 0) this.log.arrival(node, tx);
    packets.arrivalIndex[p] = this.arrivals[node]++;
  }

  /** Exponential mixing: packet `p`'s delay at its current hop is over. */
  private release(p: number, now: number): void {
    const node = this.packets.hops[p * HOPS + this.packets.hop[p]];
    const pool = this.held[node]--;
    this.depart(p, node, pool, now);
  }

  private nodeEvent(node: number, now: number): void {
    const mixer = this.mixers[node];
    const out = mixer.due(now);
    let pool = mixer.size + out.length;
    for (const p of out) this.depart(p, node, pool--, now);
    const next = mixer.nextRelease();
    if (next < Infinity) this.queue.schedule(this.config.users + node, Math.max(now, next));
  }

  /** Packet `p` leaves `node`, whose pool held `pool` packets just before, for its next hop. */
  private depart(p: number, node: number, pool: number, now: number): void {
    const packets = this.packets;
    if (packets.arrivalIndex[p] !== this.departures[node] && this.inOrder[node]) {
      this.inOrder[node] = false; // only a mix can let a packet overtake another
      this.orderedMixes--;
    }
    this.departures[node]++;
    const inTx = packets.tx[p];
    const tx = this.transmission(-1, now);
    packets.tx[p] = tx;
    if (tx >= 0) this.log.departure(node, tx, pool, inTx);
    packets.hop[p]++;
    this.arrive(p, now);
  }

  private deliver(p: number, provider: number, now: number): void {
    const packets = this.packets;
    const kind = packets.kind[p];
    const message = packets.message[p];
    const sentAt = packets.sentAt[p];
    if (kind === REAL) this.recordLatency(message, sentAt, now);
    const deliveryTx = packets.tx[p];
    if (deliveryTx < 0 || packets.firstTx[p] < 0) return;
    this.delivered.push({
      kind,
      message,
      client: packets.client[p],
      recipient: kind === REAL ? this.workload.recipientOf(message) : kind === LOOP ? packets.client[p] : -1,
      provider,
      deliveryTx,
      firstTx: packets.firstTx[p],
      sentAt,
      deliveredAt: now,
    });
  }

  /** Real mail stored at its provider at `at`: its network latency and when its recipient fetches it. */
  private recordLatency(message: number, sentAt: number, at: number): void {
    const timing = { genesisMs: 0, epochMs: this.config.epochMs };
    const fetched = nextPollAt(at, epochAt(at, timing), timing, this.config.pollsPerEpoch);
    this.latencies.endToEnd.push(fetched - this.workload.writtenAt(message));
    this.latencies.network.push(at - sentAt);
  }
}

/** The stretch of simulated time the log keeps: all of it, or the window around the measured messages. */
export function logWindow(config: SimConfig): { from: number; until: number; measureUntil: number } {
  const window = config.logWindowMs;
  if (window === undefined) return { from: -Infinity, until: Infinity, measureUntil: Infinity };
  return { from: Math.max(0, config.warmupMs - window / 2), until: config.warmupMs + window, measureUntil: config.warmupMs + window / 2 };
}
