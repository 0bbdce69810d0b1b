import { delayMs, exponential } from '../mixing/exponential.js';
import { epochAt } from '../pki/index.js';
import { fillSlot, PoissonStreams } from '../traffic/poisson.js';
import { nextPollAt } from '../traffic/poll-schedule.js';
import type { SimConfig } from './config.js';
import { EventLog } from './event-log.js';
import { EventQueue } from './event-queue.js';
import { makeMixer, type Mixer } from './mixers.js';
import { simRandom, type SimRandom } from './random.js';
import { buildTopology, type SimTopology } from './topology.js';
import { Workload } from './workload.js';

/**
 * The discrete-event engine: clients emit their Poisson streams (src/traffic/poisson.ts, slots
 * filled by fillSlot), paths come from Network.path, every delaying hop holds packets in a mixer
 * (the real MixSchedule for exponential mixing), providers store what arrives and recipients fetch
 * it at their next poll (src/traffic/poll-schedule.ts). Sphinx is an identity transform: a packet
 * is an object that keeps its id; the log records what the links show.
 */
export const REAL = 0;
export const LOOP = 1;
export const DROP = 2;

/**
 * A packet as an active attacker at a node's input sees it (with the ground truth it needs to
 * score itself). Read it during the call only: keep its fields (firstTx names the packet), not it.
 */
export interface PacketView {
  readonly kind: number;
  readonly message: number;
  readonly client: number;
  /** Node indices: gateway, mix 1, mix 2, mix 3, provider. */
  readonly hops: readonly number[];
  /** The hop it is arriving at (0: the gateway, just sent; 4: the provider). */
  readonly hop: number;
  /** The per-hop delays its sender chose (gateway, mixes 1–3). */
  readonly delays: readonly number[];
  /** The transmission that carries it into this hop. */
  readonly tx: number;
  /** The transmission that left the client: the packet's name for its whole path. */
  readonly firstTx: number;
  readonly sentAt: number;
}

/**
 * An active attacker on the links into the nodes: `admit` is asked about every packet arriving at
 * every hop (the gateway's arrival is the moment a client sends); false drops the packet there.
 */
export interface ActiveAttacker {
  admit(node: number, packet: PacketView, now: number): boolean;
}

interface Packet {
  readonly kind: number;
  readonly message: number;
  readonly client: number;
  /** Node indices: gateway, mix 1, mix 2, mix 3, provider. */
  readonly hops: readonly number[];
  readonly delays: readonly number[];
  hop: number;
  tx: number;
  readonly firstTx: number;
  arrivalIndex: number;
  readonly sentAt: number;
}

interface ClientState {
  readonly streams: PoissonStreams;
  readonly drops: PoissonStreams | undefined;
  readonly queue: number[];
}

/** A delivered packet the analysis may measure. */
export interface Delivered {
  readonly kind: number;
  readonly message: number;
  readonly client: number;
  /** The recipient user (the sender itself for a loop; −1 for drop cover). */
  readonly recipient: number;
  readonly provider: number;
  readonly deliveryTx: number;
  readonly firstTx: number;
  readonly sentAt: number;
  readonly deliveredAt: number;
}

export interface SimRun {
  readonly config: SimConfig;
  readonly topology: SimTopology;
  readonly log: EventLog;
  readonly delivered: Delivered[];
  readonly sent: { real: number; loop: number; drop: number };
  /** End-to-end (written → fetched at the recipient's poll) and network (left client → stored) latencies of real mail, ms. */
  readonly latencies: { endToEnd: number[]; network: number[] };
  /** Per node: every departure left in arrival order (a node whose order the adversary learns). */
  readonly keepsOrder: boolean[];
  readonly mailsWritten: number;
}

export function simulate(config: SimConfig, attacker?: ActiveAttacker): SimRun {
  return new Engine(config, attacker).run();
}

class Engine {
  private readonly random: SimRandom;
  private readonly topology: SimTopology;
  private readonly log = new EventLog();
  private readonly queue: EventQueue;
  private readonly mixers: Mixer<Packet>[];
  private readonly clients: ClientState[] = [];
  private readonly workload: Workload;
  private readonly arrivals: number[];
  private readonly departures: number[];
  private readonly inOrder: boolean[];
  private readonly delivered: Delivered[] = [];
  private readonly sent = { real: 0, loop: 0, drop: 0 };
  private readonly latencies = { endToEnd: [] as number[], network: [] as number[] };
  private readonly mailActor: number;
  private nextMailAt = Infinity;
  private mailsWritten = 0;

  constructor(private readonly config: SimConfig, private readonly attacker?: ActiveAttacker) {
    this.random = simRandom(config.seed);
    this.topology = buildTopology(config.topology, config.network, config.epochMs);
    const nodes = this.topology.nodes.length;
    const { maxDelayMs } = config.network.mixing;
    this.mixers = this.topology.nodes.map(() => makeMixer<Packet>(config.strategy, maxDelayMs, this.random.uniform));
    this.arrivals = new Array<number>(nodes).fill(0);
    this.departures = new Array<number>(nodes).fill(0);
    this.inOrder = new Array<boolean>(nodes).fill(true);
    this.mailActor = config.users + nodes;
    this.queue = new EventQueue(config.users + nodes + 1);
    this.workload = new Workload(config.users, config.workload, this.random);
  }

  run(): SimRun {
    const { traffic } = this.config.network;
    for (let c = 0; c < this.config.users; c++) {
      const streams = new PoissonStreams(this.random.bytes, { sendPerSecond: traffic.clientSendRate, loopPerSecond: traffic.loopRate }, 0);
      const drops = traffic.dropRate > 0 ? new PoissonStreams(this.random.bytes, { sendPerSecond: traffic.dropRate, loopPerSecond: 0 }, 0) : undefined;
      this.clients.push({ streams, drops, queue: [] });
      if (this.config.clientCover) this.queue.schedule(c, this.clientNext(c));
    }
    this.scheduleMail(0);
    for (;;) {
      const next = this.queue.pop();
      if (next === undefined || next.at > this.config.durationMs) break;
      if (next.actor < this.config.users) this.clientEvent(next.actor, next.at);
      else if (next.actor === this.mailActor) this.mailEvent(next.at);
      else this.nodeEvent(next.actor - this.config.users, next.at);
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
    };
  }

  private clientNext(c: number): number {
    const { streams, drops } = this.clients[c];
    return Math.min(streams.peek().at, drops?.peek().at ?? Infinity);
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
    if (client.drops !== undefined && client.drops.peek().at <= client.streams.peek().at) {
      client.drops.take();
      this.send(c, DROP, -1, now);
    } else if (client.streams.take().kind === 'loop') {
      this.send(c, LOOP, -1, now);
    } else {
      const slot = fillSlot(client.queue, () => -1);
      this.send(c, slot.real ? REAL : DROP, slot.packet, now);
    }
    this.queue.schedule(c, this.clientNext(c));
  }

  /** Gateway: the sender's guard; provider: `toUser`'s; mixes: Network.path (or the sender's cascade). */
  private route(c: number, toUser: number): { hops: number[]; delays: number[] } {
    const { nodes, network } = this.topology;
    const { gateways, providers, mixesPerLayer } = this.config.topology;
    const gateway = nodes[c % gateways];
    const provider = nodes[gateways + 3 * mixesPerLayer + (toUser % providers)];
    if (this.config.routing === 'cascade') {
      const chain = c % mixesPerLayer;
      const { meanDelayMs, maxDelayMs } = this.config.network.mixing;
      const hops = [gateway.index, ...[0, 1, 2].map((l) => gateways + l * mixesPerLayer + chain), provider.index];
      return { hops, delays: [0, 1, 2, 3].map(() => delayMs(this.random.bytes, meanDelayMs, maxDelayMs)) };
    }
    const path = network.path(this.random.bytes, 0, gateway.descriptor, provider.descriptor, []);
    const hops = path.map((hop) => new DataView(hop.id.buffer, hop.id.byteOffset).getUint32(0));
    const delays = path.slice(0, 4).map((hop) => {
      const command = hop.commands[0];
      return command !== undefined && command.type === 'delay' ? command.delayMs : 0;
    });
    return { hops, delays };
  }

  private send(c: number, kind: number, message: number, now: number): void {
    const toUser = kind === REAL ? this.workload.recipientOf(message) : kind === LOOP ? c : Math.floor(this.random.uniform() * this.config.users);
    const { hops, delays } = this.route(c, toUser);
    this.sent[kind === REAL ? 'real' : kind === LOOP ? 'loop' : 'drop']++;
    const tx = this.log.transmission(c);
    const packet: Packet = { kind, message, client: c, hops, delays, hop: 0, tx, firstTx: tx, arrivalIndex: 0, sentAt: now };
    this.arrive(packet, now);
  }

  private arrive(packet: Packet, now: number): void {
    const node = packet.hops[packet.hop];
    if (this.attacker !== undefined && !this.attacker.admit(node, packet, now)) return;
    if (packet.hop === 4) {
      this.log.delivery(node, packet.tx);
      this.deliver(packet, node, now);
      return;
    }
    this.log.arrival(node, packet.tx);
    packet.arrivalIndex = this.arrivals[node]++;
    const mixer = this.mixers[node];
    mixer.hold(now, packet.delays[packet.hop], packet);
    const actor = this.config.users + node;
    const at = Math.max(now, mixer.nextRelease());
    if (at < this.queue.scheduledAt(actor)) this.queue.schedule(actor, at);
  }

  private nodeEvent(node: number, now: number): void {
    const mixer = this.mixers[node];
    const out = mixer.due(now);
    let pool = mixer.size + out.length;
    for (const packet of out) {
      if (packet.arrivalIndex !== this.departures[node]) this.inOrder[node] = false;
      this.departures[node]++;
      const inTx = packet.tx;
      packet.tx = this.log.transmission(-1);
      this.log.departure(node, packet.tx, pool--, inTx);
      packet.hop++;
      this.arrive(packet, now);
    }
    const next = mixer.nextRelease();
    if (next < Infinity) this.queue.schedule(this.config.users + node, Math.max(now, next));
  }

  private deliver(packet: Packet, provider: number, now: number): void {
    const recipient = packet.kind === REAL ? this.workload.recipientOf(packet.message) : packet.kind === LOOP ? packet.client : -1;
    const written = packet.kind === REAL ? this.workload.writtenAt(packet.message) : packet.sentAt;
    if (packet.kind === REAL) {
      const timing = { genesisMs: 0, epochMs: this.config.epochMs };
      const fetched = nextPollAt(now, epochAt(now, timing), timing, this.config.pollsPerEpoch);
      this.latencies.endToEnd.push(fetched - written);
      this.latencies.network.push(now - packet.sentAt);
    }
    this.delivered.push({
      kind: packet.kind,
      message: packet.message,
      client: packet.client,
      recipient,
      provider,
      deliveryTx: packet.tx,
      firstTx: packet.firstTx,
      sentAt: packet.sentAt,
      deliveredAt: now,
    });
  }
}
