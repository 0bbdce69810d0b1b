import { concatBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Ack } from '../e2e/ack.js';
import type { ContactCard } from '../e2e/card.js';
import { E2eError } from '../e2e/errors.js';
import { openFragment } from '../e2e/fragment.js';
import type { Outgoing } from '../e2e/mail-endpoint.js';
import { mailboxAddress } from '../e2e/mailbox-address.js';
import { ackReplyPacket, fragmentParamsFor, readAckReply } from '../e2e/sphinx-link.js';
import { epochAt, epochStart, GATEWAY_LAYER, hexOf, type ConsensusDocument, type NodeDescriptor } from '../pki/index.js';
import { makeSuite, Sphinx, SURB_ID_LENGTH } from '../sphinx/index.js';
import { bucketOf, MAX_BUCKETS } from '../store/mailbox.js';
import { fillSlot, PoissonStreams } from '../traffic/poisson.js';
import { ClientCore, LocalClient, fetchCurrentConsensus, resolveContact, type Client, type ClientDeps } from './client.js';
import { systemClientClock, type ClientClock } from './clock.js';
import { ClientError, describeError } from './errors.js';
import { buildMail, parseMail, SYNTHETIC_DOMAIN, syntheticAddress, type Attachment } from './mail-format.js';
import type { InboxMeta, SentMeta, SentStatus } from './mail-store.js';
import {
  decodeOutgoingBody,
  decodeOutgoingProgress,
  encodeOutgoingBody,
  encodeOutgoingProgress,
  type OutgoingBody,
} from './outgoing-record.js';
import { GatewayConnection as GatewayLink } from './gateway-connection.js';
import { MailboxFetcher as ProviderLink, PROVIDER_EPOCH_NOT_HELD, PROVIDER_TOO_LARGE } from './mailbox-fetcher.js';
import { RequestRefusal as ProviderRefusal, type WebSocketConnector } from '../net/request-channel.js';
import { parseStoredCiphertext } from '../wire/stored-ciphertext.js';
import type { StoredItem } from '../wire/retrieval.js';
import { PirRetrieval, type PirMismatch } from './pir-retrieval.js';
import { pirPartner } from '../wire/pir-partner.js';
import { Network, nodeKey, pick, providerForServers, RouteError } from './routes.js';

/**
 * The running client agent (docs/client.md): Poisson send, loop and drop streams over a gateway
 * WebSocket; mailbox polls at fixed offsets of every epoch over the own provider's WebSocket;
 * sending, ACK bookkeeping, resends; receiving, reassembly, ACKs and NACKs through the senders'
 * SURBs. Every change is persisted before it can matter (keystore for ratchet steps, the mail store
 * for mails, outgoing messages and ACK SURBs).
 */
export interface StartOptions extends ClientDeps {
  /** Default: the wall clock and Node timers. */
  readonly clock?: ClientClock;
  /** Everything notable that happens (mail received, status changes, loops, polls, errors). */
  readonly onEvent?: (event: ClientEvent) => void;
  /** Real-time limit for connecting and for one provider request (default 10 s). */
  readonly requestTimeoutMs?: number;
  /** Opens the WebSockets of PIR retrieval (default connectWebSocket; tests wrap it to tamper with answers). */
  readonly connectWebSocket?: WebSocketConnector;
}

export type ClientEvent =
  | { readonly type: 'received'; readonly id: number; readonly from: string; readonly fromKey: string; readonly subject: string; readonly newContact: boolean }
  | { readonly type: 'status'; readonly id: number; readonly messageId: string; readonly status: SentStatus; readonly reason?: string }
  | { readonly type: 'resend'; readonly id: number; readonly messageId: string; readonly shards: number; readonly cause: 'timeout' | 'nack' }
  | { readonly type: 'loop'; readonly rttMs: number }
  | { readonly type: 'poll'; readonly epoch: number; readonly startedMs: number; readonly items: number; readonly error?: string }
  | { readonly type: 'consensus'; readonly epoch: number }
  /** PIR: the two servers' answers decoded to a row that does not verify (nothing of it is read). */
  | { readonly type: 'integrity'; readonly epoch: number; readonly provider: string; readonly partner: string; readonly snapshot: string; readonly message: string }
  | { readonly type: 'error'; readonly where: string; readonly message: string };

export interface SendRequest {
  /** A contact's name, or its key in hex (a unique prefix of at least 8 digits will do). */
  readonly to: string;
  readonly subject: string;
  readonly body: string;
  readonly attachments?: readonly Attachment[];
}

export interface SendResult {
  /** The sent mail's id in the local store (sent(), read(id)). */
  readonly id: number;
  /** Hex of the end-to-end message ID. */
  readonly messageId: string;
  /** Sphinx packets one copy of the message takes. */
  readonly fragments: number;
}

export interface PollReport {
  readonly epoch: number;
  /** When the poll began (clock time). */
  readonly startedMs: number;
  /** Bucket fetches made. */
  readonly fetches: number;
  /** Stored ciphertexts under this user's addresses not seen before. */
  readonly items: number;
  readonly received: number;
  readonly acks: number;
  readonly loops: number;
  /** PIR: rows that did not verify in this poll (reported, nothing of them read). */
  readonly mismatches?: number;
  /** PIR: items of the fetched buckets left for a later snapshot (overflow). */
  readonly more?: number;
  readonly error?: string;
}

export interface AgentStatus {
  readonly nowMs: number;
  readonly epoch: number;
  readonly consensusEpoch: number;
  readonly gateway: { readonly name: string; readonly connected: boolean };
  readonly provider: { readonly name: string; readonly connected: boolean };
  readonly rates: { readonly sendPerSecond: number; readonly loopPerSecond: number; readonly dropPerSecond: number };
  /** Real packets waiting for a send slot (fragments and ACK/NACK replies). */
  readonly queue: number;
  /** Sent messages not yet acknowledged or failed. */
  readonly awaitingAck: number;
  readonly packets: {
    readonly real: number;
    readonly replies: number;
    readonly cover: number;
    readonly loops: number;
    readonly drops: number;
    /** Send-stream events that found no open gateway connection or no usable consensus. */
    readonly missedSlots: number;
  };
  readonly loops: {
    readonly sent: number;
    readonly returned: number;
    readonly lost: number;
    readonly lastRttMs?: number;
    readonly meanRttMs?: number;
    /** The latest round trips, oldest first (at most 64). */
    readonly rttsMs: readonly number[];
  };
  readonly polls: { readonly done: number; readonly failed: number; readonly lastMs?: number; readonly lastError?: string };
  /** How the mailbox is fetched (the consensus's `retrieval`), and PIR's counts. */
  readonly retrieval: {
    readonly mode: 'bucket' | 'download' | 'pir';
    /** PIR: the second server. */
    readonly partner?: string;
    readonly pirQueries: number;
    /** PIR rows that did not verify (a server answered wrongly). */
    readonly mismatches: number;
    readonly lastMismatch?: string;
  };
  readonly inbox: { readonly total: number; readonly unread: number };
}

export interface ClientAgent extends Client {
  /** Builds, seals and queues a mail; its fragments replace cover packets in the send stream. */
  send(request: SendRequest): SendResult;
  /** Fetches the mailbox now (also runs by itself at fixed offsets of every epoch). */
  poll(): Promise<PollReport>;
  status(): AgentStatus;
  /** Resolves once no real packet waits in the send queue (or the agent closes). */
  drained(): Promise<void>;
}

/** Polls without a new fragment before a partial message is NACKed through one of its SURBs. */
const NACK_AFTER_POLLS = 2;
const MAX_NACKS_PER_MESSAGE = 3;
/** SURBs kept per partial message (the newest). */
const MAX_SURBS_PER_MESSAGE = 8;
const MAX_INBOUND_MESSAGES = 256;
const MAX_PROCESSED_PER_EPOCH = 65_536;
const MAX_RTTS = 64;
const MAX_LOOPS_OUTSTANDING = 4096;

function hex(bytes: Uint8Array): string {
  return hexOf(bytes);
}

interface OutgoingState {
  readonly body: OutgoingBody;
  readonly key: string;
  readonly total: number;
  readonly outgoing: Outgoing;
  /** Shards of the current attempt still to be sent. */
  pending: Set<number>;
  /** Sealed fragments ready to go, by shard. */
  readonly fresh: Map<number, Uint8Array>;
  resends: number;
  nackResends: number;
  deadlineMs: number | undefined;
  started: boolean;
}

interface FragmentItem {
  readonly key: string;
  readonly shard: number;
}

interface ReplyItem {
  readonly gateway: string;
  readonly packet: Uint8Array;
}

interface Outbound {
  readonly link: GatewayLink;
  readonly packet: Uint8Array;
  readonly commit: () => void;
  readonly abort: () => void;
}

interface InboundMessage {
  readonly messageId: Uint8Array;
  surbs: { surb: Uint8Array; epoch: number }[];
  progressPoll: number;
  nacks: number;
}

class Agent extends LocalClient implements ClientAgent {
  private readonly crypto: Crypto;
  private readonly random: RandomSource;
  private readonly clock: ClientClock;
  private readonly timeoutMs: number;
  private readonly emit: (event: ClientEvent) => void;
  private readonly connect: WebSocketConnector | undefined;
  private pir: PirRetrieval | undefined;
  /** Why PIR cannot be used with the consensus held (no partner), if so. */
  private pirProblem: string | undefined;

  private network!: Network;
  private sphinx!: Sphinx;
  private ownProvider!: NodeDescriptor;
  private provider!: ProviderLink;
  private mainLink!: GatewayLink;
  private readonly extraLinks = new Map<string, GatewayLink>();

  private streams!: PoissonStreams;
  private dropStream!: PoissonStreams;
  private rateKey = '';
  private trafficTimer: unknown;
  private pollTimer: unknown;

  private readonly outgoing = new Map<string, OutgoingState>();
  private fragmentQueue: FragmentItem[] = [];
  private replyQueue: ReplyItem[] = [];
  private readonly loopsOut = new Map<string, { sentMs: number; token: Uint8Array }>();
  private readonly inbound = new Map<string, InboundMessage>();
  private readonly ackedInPoll = new Map<string, number>();
  private readonly processed = new Map<number, Set<string>>();
  private drainWaiters: (() => void)[] = [];

  private pollChain: Promise<unknown> = Promise.resolve();
  private pollRunning = false;
  private pollNumber = 0;
  private closing = false;

  private readonly stats = {
    real: 0, replies: 0, cover: 0, loops: 0, drops: 0, missedSlots: 0,
    loopsReturned: 0, loopsLost: 0, rtts: [] as number[],
    polls: 0, pollsFailed: 0, lastPollMs: undefined as number | undefined, lastPollError: undefined as string | undefined,
    pirQueries: 0, mismatches: 0, lastMismatch: undefined as string | undefined,
  };

  constructor(core: ClientCore, options: StartOptions) {
    super(core);
    this.crypto = core.crypto;
    this.random = core.random;
    this.clock = options.clock ?? systemClientClock;
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.connect = options.connectWebSocket;
    const onEvent = options.onEvent;
    this.emit = (event) => {
      try {
        onEvent?.(event);
      } catch {
        // a listener's failure is not the agent's
      }
    };
  }

  // --- start, consensus, schedule ----------------------------------------------------------

  async start(): Promise<void> {
    const doc = await fetchCurrentConsensus(this.crypto, this.settings.authority, this.now(), this.settings.verifyDescriptors);
    this.applyConsensus(doc, true);
    this.restoreOutgoing();
    await this.mainLink.ensure();
    this.scheduleTraffic();
    await this.poll(); // once right after start (a failed fetch is reported, not thrown)
    this.schedulePoll();
  }

  private applyConsensus(doc: ConsensusDocument, first: boolean): void {
    if (!doc.geometry.withSurb) throw new ClientError('unsupported-network', 'the network carries no SURBs in forward packets: messages could not be acknowledged');
    const network = new Network(doc);
    const ownProvider = providerForServers(doc, this.core.endpoint.identity.servers);
    if (ownProvider === undefined) {
      const message = `none of this user's servers (${this.core.endpoint.identity.servers.join(', ')}) is a provider of the consensus of epoch ${doc.epoch}`;
      if (first) throw new ClientError('no-provider', message);
      this.emit({ type: 'error', where: 'consensus', message });
      return;
    }
    const geometryChanged = first || JSON.stringify(doc.geometry) !== JSON.stringify(this.network.doc.geometry) || doc.suite !== this.network.doc.suite;
    if (geometryChanged) {
      this.sphinx = new Sphinx(makeSuite(doc.suite, this.crypto), doc.geometry);
      this.core.useFragmentParams(fragmentParamsFor(this.sphinx.geometry));
    }
    this.network = network;
    if (first || ownProvider.addresses.ws !== this.provider.node.addresses.ws) {
      if (!first) this.provider.close();
      this.provider = new ProviderLink(ownProvider, this.timeoutMs, this.sphinx.geometry.packetLength + 1);
    }
    this.ownProvider = ownProvider;
    this.updateRetrieval(doc, ownProvider);
    // Links keep their connection while their gateway stays at its address, and take its new
    // descriptor (the new epoch's keys); a gateway gone or moved is replaced.
    const current = first ? undefined : network.findById(this.mainLink.node.nodeId);
    if (current !== undefined && current.addresses.ws === this.mainLink.node.addresses.ws) {
      this.mainLink.node = current;
    } else {
      if (!first) this.mainLink.close();
      this.mainLink = this.newLink(pick(this.random, network.gateways));
      if (!first) void this.mainLink.ensure();
    }
    for (const [key, link] of this.extraLinks) {
      const node = network.findByKey(key);
      if (node !== undefined && node.addresses.ws === link.node.addresses.ws) {
        link.node = node;
        continue;
      }
      link.close();
      this.extraLinks.delete(key);
    }
    const { clientSendRate, loopRate, dropRate } = doc.traffic;
    const rateKey = `${clientSendRate}/${loopRate}/${dropRate}`;
    if (rateKey !== this.rateKey) {
      this.rateKey = rateKey;
      const now = this.now();
      this.streams = new PoissonStreams(this.random, { sendPerSecond: clientSendRate, loopPerSecond: loopRate }, now);
      this.dropStream = new PoissonStreams(this.random, { sendPerSecond: dropRate, loopPerSecond: 0 }, now);
      if (!first) this.scheduleTraffic();
    }
    this.emit({ type: 'consensus', epoch: doc.epoch });
  }

  /** In PIR mode: the two servers, the own provider and its partner in this consensus. */
  private updateRetrieval(doc: ConsensusDocument, ownProvider: NodeDescriptor): void {
    const partner = doc.retrieval === 'pir' ? pirPartner(doc, ownProvider.nodeId) : undefined;
    if (partner !== undefined && this.pir?.serves(ownProvider, partner) === true) return;
    this.pir?.close();
    this.pir = undefined;
    this.pirProblem = doc.retrieval === 'pir' && partner === undefined
      ? `PIR retrieval needs a second provider, and the consensus of epoch ${doc.epoch} has no partner for ${ownProvider.name}`
      : undefined;
    if (partner === undefined) return;
    this.pir = new PirRetrieval({
      crypto: this.crypto, provider: ownProvider, partner, timeoutMs: this.timeoutMs,
      ...(this.connect === undefined ? {} : { connect: this.connect }),
    });
  }

  private newLink(node: NodeDescriptor): GatewayLink {
    return new GatewayLink(node, this.clock, this.timeoutMs, (message) => this.emit({ type: 'error', where: 'gateway', message }));
  }

  /** Fetches a newer consensus when the current one is for an earlier epoch. */
  private async refreshConsensus(): Promise<void> {
    const now = this.now();
    if (this.network.doc.epoch >= this.epochAt(now)) return;
    try {
      const doc = await fetchCurrentConsensus(this.crypto, this.settings.authority, now, this.settings.verifyDescriptors);
      if (this.closing || doc.epoch <= this.network.doc.epoch) return;
      this.applyConsensus(doc, false);
    } catch (error) {
      this.emit({ type: 'error', where: 'consensus', message: describeError(error) });
    }
  }

  /** Whole milliseconds (a fake clock may stand between two). */
  private now(): number {
    return Math.floor(this.clock.now());
  }

  /** The epoch of `now` (epoch 0 before genesis: a network about to start). */
  private epochAt(now: number): number {
    return now < this.network.doc.genesisMs ? 0 : epochAt(now, this.network.doc);
  }

  private scheduleTraffic(): void {
    if (this.trafficTimer !== undefined) this.clock.clearTimer(this.trafficTimer);
    this.trafficTimer = undefined;
    if (this.closing) return;
    const next = Math.min(this.streams.peek().at, this.dropStream.peek().at);
    if (!Number.isFinite(next)) return;
    this.trafficTimer = this.clock.setTimer(() => this.onTraffic(), Math.max(0, next - this.clock.now()));
  }

  private onTraffic(): void {
    this.trafficTimer = undefined;
    if (this.closing) return;
    const now = this.clock.now(); // unrounded: event times are fractional
    for (let guard = 0; guard < 10_000; guard++) {
      const send = this.streams.peek();
      const drop = this.dropStream.peek();
      if (send.at > now && drop.at > now) break;
      if (send.at <= drop.at) {
        this.streams.take();
        this.guard('send', () => (send.kind === 'send' ? this.sendSlot() : this.sendLoop()));
      } else {
        this.dropStream.take();
        this.guard('drop', () => this.sendDrop());
      }
    }
    this.scheduleTraffic();
  }

  private guard(where: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.emit({ type: 'error', where, message: describeError(error) });
    }
  }

  /** The next poll time: polls sit at (i + ½)·epoch/k into every epoch. */
  private nextPollAt(now: number): number {
    const doc = this.network.doc;
    const epoch = this.epochAt(now);
    const step = doc.epochMs / this.settings.pollsPerEpoch;
    const base = epochStart(epoch, doc);
    if (now < base) return Math.ceil(base + step / 2);
    let at = base + Math.floor((now - base) / step) * step + step / 2;
    if (at <= now) at += step;
    return Math.ceil(at);
  }

  private schedulePoll(): void {
    if (this.closing) return;
    const now = this.now();
    this.pollTimer = this.clock.setTimer(() => {
      this.pollTimer = undefined;
      if (this.closing) return;
      if (!this.pollRunning) void this.poll().catch(() => undefined);
      this.schedulePoll();
    }, this.nextPollAt(now) - now);
  }

  // --- sending -------------------------------------------------------------------------------

  send(request: SendRequest): SendResult {
    this.live();
    if (typeof request !== 'object' || request === null) throw new ClientError('bad-options', 'send needs { to, subject, body }');
    const contact = resolveContact(this.core.endpoint.contactList(), String(request.to ?? ''));
    if (providerForServers(this.network.doc, contact.card.servers) === undefined) {
      throw new ClientError('no-provider', `none of ${contact.card.name}'s servers (${contact.card.servers.join(', ') || 'none'}) is a provider of the current network`);
    }
    const now = this.now();
    const own = this.core.endpoint.card;
    const mail = buildMail({
      from: { name: own.name, address: syntheticAddress(own.name) },
      to: [{ name: contact.card.name, address: syntheticAddress(contact.card.name) }],
      subject: String(request.subject ?? ''),
      body: String(request.body ?? ''),
      attachments: request.attachments ?? [],
      dateMs: now,
      messageId: `${hex(this.random(16))}@${SYNTHETIC_DOMAIN}`,
      boundary: `umbra-${hex(this.random(12))}`,
    });
    let outgoing: Outgoing;
    try {
      outgoing = this.core.endpoint.seal(contact.card, mail);
    } catch (error) {
      if (error instanceof E2eError && (error.code === 'too-large' || error.code === 'limit-exceeded')) {
        throw new ClientError('too-large', `the mail is too large to send (${mail.length} bytes)`);
      }
      throw error;
    }
    // The ratchet stepped: the keystore is written before anything of the message can leave.
    this.core.persist();
    const total = outgoing.fragments.length;
    const messageId = hex(outgoing.messageId);
    const subject = parseMail(mail).subject;
    const mailId = this.core.store.addSent(
      {
        messageId, toKey: contact.key, toName: contact.card.name, createdMs: now, status: 'queued', statusMs: now,
        subject, size: mail.length, fragments: total, attempts: 1,
      },
      mail,
    );
    const body: OutgoingBody = {
      messageId: outgoing.messageId, recipient: outgoing.recipient, senderTag: outgoing.senderTag,
      dataShards: outgoing.dataShards, frame: outgoing.frame, mailId,
    };
    const state: OutgoingState = {
      body, key: messageId, total, outgoing,
      pending: new Set(outgoing.fragments.map((_, i) => i)),
      fresh: new Map(outgoing.fragments.map((fragment, i) => [i, fragment])),
      resends: 0, nackResends: 0, deadlineMs: undefined, started: false,
    };
    this.core.store.putOutgoing(outgoing.messageId, encodeOutgoingBody(body), this.progressOf(state));
    this.outgoing.set(messageId, state);
    for (let shard = 0; shard < total; shard++) this.fragmentQueue.push({ key: messageId, shard });
    return { id: mailId, messageId, fragments: total };
  }

  private progressOf(state: OutgoingState): Uint8Array {
    return encodeOutgoingProgress({
      pending: [...state.pending].sort((a, b) => a - b),
      resends: state.resends,
      nackResends: state.nackResends,
      deadlineMs: state.deadlineMs,
      started: state.started,
    });
  }

  /** Messages awaiting their ACK, from the mail store: their unsent shards go back in the queue. */
  private restoreOutgoing(): void {
    for (const row of this.core.store.listOutgoing()) {
      const body = decodeOutgoingBody(row.body);
      const progress = decodeOutgoingProgress(row.state);
      const total = this.core.endpoint.totalFragments(body.dataShards);
      const outgoing: Outgoing = { ...body, fragments: [] };
      const key = hex(body.messageId);
      const pending = new Set(progress.pending.filter((shard) => Number.isInteger(shard) && shard < total));
      const state: OutgoingState = {
        body, key, total, outgoing, pending, fresh: new Map(),
        resends: progress.resends, nackResends: progress.nackResends, deadlineMs: progress.deadlineMs, started: progress.started,
      };
      // Everything sent but no deadline recorded: wait one timeout from now.
      if (pending.size === 0 && state.deadlineMs === undefined) state.deadlineMs = this.now() + this.ackTimeoutMs();
      this.outgoing.set(key, state);
      for (const shard of [...pending].sort((a, b) => a - b)) this.fragmentQueue.push({ key, shard });
    }
  }

  private contactCard(key: string): ContactCard | undefined {
    return this.core.endpoint.contactList().find((contact) => contact.key === key)?.card;
  }

  private ackTimeoutMs(): number {
    return Math.ceil(this.settings.ackTimeoutEpochs * this.network.doc.epochMs);
  }

  /** One event of the send stream: the oldest ready real packet, else drop cover. */
  private sendSlot(): void {
    const now = this.now();
    if (!this.mainLink.ready) {
      this.stats.missedSlots++;
      void this.mainLink.ensure();
      return;
    }
    let real: Outbound | undefined;
    for (;;) {
      const item = this.takeReady();
      if (item === undefined) break;
      const built = 'packet' in item ? this.replyOutbound(item) : this.fragmentOutbound(item, now);
      if (built === 'stop') break;
      if (built !== 'skip') {
        real = built;
        break;
      }
    }
    const slot = fillSlot<Outbound | undefined>(real === undefined ? [] : [real], () => this.coverOutbound(now));
    const outbound = slot.packet;
    if (outbound === undefined) {
      this.stats.missedSlots++;
      return;
    }
    if (!outbound.link.send(outbound.packet)) {
      outbound.abort();
      this.stats.missedSlots++;
      return;
    }
    outbound.commit();
    if (this.queueLength() === 0) this.wakeDrainWaiters();
  }

  /** The first reply whose gateway is connected, else the first fragment. */
  private takeReady(): FragmentItem | ReplyItem | undefined {
    for (let i = 0; i < this.replyQueue.length; i++) {
      const link = this.linkFor(this.replyQueue[i].gateway);
      if (link === undefined) {
        this.replyQueue.splice(i--, 1); // its gateway left the network: the reply cannot go
        continue;
      }
      if (link.ready) return this.replyQueue.splice(i, 1)[0];
      void link.ensure();
    }
    return this.fragmentQueue.shift();
  }

  private linkFor(gatewayKey: string): GatewayLink | undefined {
    if (gatewayKey === nodeKey(this.mainLink.node)) return this.mainLink;
    const existing = this.extraLinks.get(gatewayKey);
    if (existing !== undefined) return existing;
    const node = this.network.findByKey(gatewayKey);
    if (node === undefined || node.layer !== GATEWAY_LAYER) return undefined;
    const link = this.newLink(node);
    this.extraLinks.set(gatewayKey, link);
    return link;
  }

  private replyOutbound(item: ReplyItem): Outbound | 'skip' {
    const link = this.linkFor(item.gateway);
    if (link === undefined) return 'skip';
    return {
      link,
      packet: item.packet,
      commit: () => {
        this.stats.replies++;
        if (link !== this.mainLink && !this.replyQueue.some((other) => other.gateway === item.gateway)) {
          link.close();
          this.extraLinks.delete(item.gateway);
        }
      },
      abort: () => this.replyQueue.unshift(item),
    };
  }

  /**
   * The packet of a queued fragment, built now (this epoch's keys and addresses, a fresh ACK SURB).
   * 'skip': the item is stale or its message just failed; 'stop': no packet can be built with the
   * consensus held (the item stays first in the queue).
   */
  private fragmentOutbound(item: FragmentItem, now: number): Outbound | 'skip' | 'stop' {
    const state = this.outgoing.get(item.key);
    if (state === undefined || !state.pending.has(item.shard)) return 'skip'; // delivered, failed or sent
    const card = this.contactCard(hex(state.body.recipient));
    if (card === undefined) {
      this.finish(state, 'failed', 'the recipient is no longer a contact');
      return 'skip';
    }
    const provider = providerForServers(this.network.doc, card.servers);
    if (provider === undefined) {
      this.finish(state, 'failed', `none of ${card.name}'s servers (${card.servers.join(', ') || 'none'}) is a provider of the network`);
      return 'skip';
    }
    let packet: Uint8Array;
    const surbId = this.random(SURB_ID_LENGTH);
    try {
      let fragment = state.fresh.get(item.shard);
      if (fragment === undefined) {
        this.sealPending(state);
        fragment = state.fresh.get(item.shard)!;
      }
      const epoch = this.epochAt(now);
      const own = this.core.endpoint.identity;
      const surbPath = this.network.path(this.random, epoch, pick(this.random, this.network.gateways), this.ownProvider, [
        { type: 'recipient', recipient: mailboxAddress(this.crypto, own.mailboxSecret, epoch) },
        { type: 'surb-reply', surbId },
      ]);
      const { surb, decryptionToken } = this.sphinx.newSurb(surbPath, this.random);
      const path = this.network.path(this.random, epoch, this.mainLink.node, provider, [
        { type: 'recipient', recipient: mailboxAddress(this.crypto, card.mailboxSecret, epoch) },
      ]);
      packet = this.sphinx.newPacket(path, fragment, this.random, surb);
      this.core.store.putSurb(surbId, state.body.messageId, now, decryptionToken);
    } catch (error) {
      if (error instanceof RouteError) {
        this.fragmentQueue.unshift(item);
        return 'stop';
      }
      // Never let one message block the queue (and the slots' cover): it fails, with the reason.
      this.finish(state, 'failed', `the message could not be sent: ${describeError(error)}`);
      return 'skip';
    }
    return {
      link: this.mainLink,
      packet,
      commit: () => {
        this.stats.real++;
        state.fresh.delete(item.shard);
        state.pending.delete(item.shard);
        if (!state.started) {
          state.started = true;
          this.setStatus(state, 'sending');
        }
        if (state.pending.size === 0) state.deadlineMs = now + this.ackTimeoutMs();
        this.core.store.updateOutgoingState(state.body.messageId, this.progressOf(state));
      },
      abort: () => this.fragmentQueue.unshift(item),
    };
  }

  /** Seals every pending shard that has no fragment ready (fresh ephemeral keys: MailEndpoint.resend). */
  private sealPending(state: OutgoingState): void {
    const shards = [...state.pending].filter((shard) => !state.fresh.has(shard)).sort((a, b) => a - b);
    const fragments = this.core.endpoint.resend(state.outgoing, shards);
    shards.forEach((shard, i) => state.fresh.set(shard, fragments[i]));
  }

  private coverOutbound(now: number): Outbound | undefined {
    try {
      const epoch = this.epochAt(now);
      const path = this.network.path(this.random, epoch, this.mainLink.node, pick(this.random, this.network.providers), [
        { type: 'recipient', recipient: new Uint8Array(32) },
      ]);
      // The geometry carries a SURB in every forward packet; cover's is random bytes nobody reads.
      const packet = this.sphinx.newPacket(path, new Uint8Array(0), this.random, this.random(this.sphinx.geometry.surbLength));
      return { link: this.mainLink, packet, commit: () => this.stats.cover++, abort: () => undefined };
    } catch (error) {
      if (error instanceof RouteError) return undefined;
      throw error;
    }
  }

  /** One event of the loop stream: a SURB reply to oneself through every layer. */
  private sendLoop(): void {
    const now = this.now();
    if (!this.mainLink.ready) {
      void this.mainLink.ensure();
      return;
    }
    let packet: Uint8Array;
    const surbId = this.random(SURB_ID_LENGTH);
    let token: Uint8Array;
    try {
      const epoch = this.epochAt(now);
      const path = this.network.path(this.random, epoch, this.mainLink.node, this.ownProvider, [
        { type: 'recipient', recipient: mailboxAddress(this.crypto, this.core.endpoint.identity.mailboxSecret, epoch) },
        { type: 'surb-reply', surbId },
      ]);
      const surb = this.sphinx.newSurb(path, this.random);
      token = surb.decryptionToken;
      packet = this.sphinx.newPacketFromSurb(surb.surb, new Uint8Array(0)).packet;
    } catch (error) {
      if (error instanceof RouteError) return;
      throw error;
    }
    if (!this.mainLink.send(packet)) return;
    this.stats.loops++;
    if (this.loopsOut.size >= MAX_LOOPS_OUTSTANDING) {
      this.loopsOut.delete(this.loopsOut.keys().next().value as string);
      this.stats.loopsLost++;
    }
    this.loopsOut.set(hex(surbId), { sentMs: now, token });
  }

  /** One event of the drop stream: a cover packet, independent of the send stream. */
  private sendDrop(): void {
    if (!this.mainLink.ready) {
      void this.mainLink.ensure();
      return;
    }
    const cover = this.coverOutbound(this.now());
    if (cover !== undefined && cover.link.send(cover.packet)) this.stats.drops++;
  }

  private setStatus(state: OutgoingState, status: SentStatus, reason?: string): void {
    const now = this.now();
    this.core.store.updateMeta<SentMeta>(state.body.mailId, (meta) => ({
      ...meta, status, statusMs: now, attempts: state.resends + 1, ...(reason === undefined ? {} : { reason }),
    }));
    this.emit({ type: 'status', id: state.body.mailId, messageId: state.key, status, ...(reason === undefined ? {} : { reason }) });
  }

  /** Delivered or failed: the message's record and SURBs are dropped, its queued shards go stale. */
  private finish(state: OutgoingState, status: 'delivered' | 'failed', reason?: string): void {
    this.outgoing.delete(state.key);
    state.pending.clear();
    state.fresh.clear();
    this.core.store.transaction(() => {
      this.core.store.deleteOutgoing(state.body.messageId);
      this.core.store.deleteSurbsOf(state.body.messageId);
      this.setStatus(state, status, reason);
    });
    this.fragmentQueue = this.fragmentQueue.filter((item) => item.key !== state.key);
    if (this.queueLength() === 0) this.wakeDrainWaiters();
  }

  /** Queues shards of a message again (all of them after a timeout, the named ones after a NACK). */
  private requeue(state: OutgoingState, shards: readonly number[]): number {
    let added = 0;
    for (const shard of shards) {
      if (state.pending.has(shard)) continue;
      state.pending.add(shard);
      this.fragmentQueue.push({ key: state.key, shard });
      added++;
    }
    if (added > 0) state.deadlineMs = undefined;
    return added;
  }

  private checkTimeouts(now: number): void {
    for (const state of [...this.outgoing.values()]) {
      if (state.deadlineMs === undefined || now < state.deadlineMs) continue;
      if (state.resends >= this.settings.maxResends) {
        const attempts = state.resends + 1;
        this.finish(state, 'failed', `no acknowledgement after ${attempts} ${attempts === 1 ? 'copy' : 'copies'} of the message (the recipient may be offline)`);
        continue;
      }
      state.resends++;
      state.fresh.clear();
      const shards = this.requeue(state, Array.from({ length: state.total }, (_, i) => i));
      this.core.store.transaction(() => {
        this.core.store.updateOutgoingState(state.body.messageId, this.progressOf(state));
        this.setStatus(state, 'sending');
      });
      this.emit({ type: 'resend', id: state.body.mailId, messageId: state.key, shards, cause: 'timeout' });
    }
  }

  // --- receiving -----------------------------------------------------------------------------

  poll(): Promise<PollReport> {
    const run = this.pollChain.then(() => this.runPoll());
    this.pollChain = run.catch(() => undefined);
    return run;
  }

  private async runPoll(): Promise<PollReport> {
    this.live();
    this.pollRunning = true;
    try {
      return await this.doPoll();
    } finally {
      this.pollRunning = false;
    }
  }

  private async doPoll(): Promise<PollReport> {
    const started = this.now();
    await this.refreshConsensus();
    const epoch = this.epochAt(this.now());
    const poll = ++this.pollNumber;
    const epochs = epoch > 0 ? [epoch, epoch - 1] : [epoch];
    const secret = this.core.endpoint.identity.mailboxSecret;
    const own = epochs.map((e) => mailboxAddress(this.crypto, secret, e));
    const addresses = new Set(own.map((address) => hex(address)));
    // Always the same fetches (current and previous epoch × current and previous address), even
    // when two of them name the same bucket.
    const fetches: [number, Uint8Array][] = [];
    for (const e of epochs) for (const address of own) fetches.push([e, address]);
    let results: StoredItem[][];
    let mismatches: PirMismatch[] = [];
    let more = 0;
    try {
      ({ results, mismatches, more } = await this.fetchAll(fetches));
    } catch (error) {
      const message = describeError(error);
      this.stats.pollsFailed++;
      this.stats.lastPollError = message;
      this.emit({ type: 'poll', epoch, startedMs: started, items: 0, error: message });
      this.afterPoll(this.now(), poll);
      return { epoch, startedMs: started, fetches: fetches.length, items: 0, received: 0, acks: 0, loops: 0, error: message };
    }
    if (this.closing) return { epoch, startedMs: started, fetches: fetches.length, items: 0, received: 0, acks: 0, loops: 0, error: 'closed' };
    const now = this.now();
    const report = { items: 0, received: 0, acks: 0, loops: 0 };
    let endpointChanged = false;
    for (let i = 0; i < fetches.length; i++) {
      const fetchedEpoch = fetches[i][0];
      for (const item of results[i]) {
        if (!addresses.has(hex(item.address))) continue; // someone else's mail in the same bucket
        if (!this.firstSight(fetchedEpoch, item)) continue;
        report.items++;
        const outcome = this.guardValue('receive', () => this.handleStored(item, fetchedEpoch, now, poll));
        if (outcome === 'received') {
          report.received++;
          endpointChanged = true;
        } else if (outcome === 'ack') report.acks++;
        else if (outcome === 'loop') report.loops++;
      }
    }
    // Mails are in the store already: a crash before this write re-reads them (deduplicated).
    if (endpointChanged) this.core.persist();
    // A row that did not verify was not read; the poll is reported failed (the verified rows were read).
    const integrityError = this.reportMismatches(mismatches);
    if (integrityError === undefined) {
      this.stats.polls++;
      this.stats.lastPollMs = now;
      this.stats.lastPollError = undefined;
    } else {
      this.stats.pollsFailed++;
      this.stats.lastPollError = integrityError;
    }
    this.afterPoll(now, poll);
    const error = integrityError === undefined ? {} : { error: integrityError };
    const pirCounts = this.network.doc.retrieval === 'pir' ? { mismatches: mismatches.length, more } : {};
    this.emit({ type: 'poll', epoch, startedMs: started, items: report.items, ...error });
    return { epoch, startedMs: started, fetches: fetches.length, ...report, ...pirCounts, ...error };
  }

  /** The fetches of a poll in the consensus's retrieval mode (docs/network.md, "Mailbox addresses and epochs"). */
  private async fetchAll(fetches: readonly [number, Uint8Array][]): Promise<{ results: StoredItem[][]; mismatches: PirMismatch[]; more: number }> {
    const mode = this.network.doc.retrieval;
    if (mode === 'pir') {
      if (this.pir === undefined) throw new Error(this.pirProblem ?? 'PIR retrieval is not available');
      const fetched = await this.pir.fetch(fetches);
      this.stats.pirQueries += fetched.queries;
      return fetched;
    }
    if (mode === 'download') {
      // The whole epoch, once per epoch; both addresses of an epoch read the same list.
      const byEpoch = new Map<number, Promise<StoredItem[]>>();
      for (const [e] of fetches) {
        if (byEpoch.has(e)) continue;
        byEpoch.set(e, this.provider.fetchEpoch(e).catch((error: unknown) => {
          if (error instanceof ProviderRefusal && error.code === PROVIDER_EPOCH_NOT_HELD) return [];
          throw error;
        }));
      }
      return { results: await Promise.all(fetches.map(([e]) => byEpoch.get(e)!)), mismatches: [], more: 0 };
    }
    return { results: await Promise.all(fetches.map(([e, address]) => this.fetchOwn(e, address))), mismatches: [], more: 0 };
  }

  /** Emits and counts rows that did not verify; the poll's error message, or undefined when there is none. */
  private reportMismatches(mismatches: readonly PirMismatch[]): string | undefined {
    if (mismatches.length === 0) return undefined;
    for (const m of mismatches) {
      const message = `a PIR answer from ${m.provider} or ${m.partner} for epoch ${m.epoch} does not verify (${m.reason}); nothing of it was read`;
      this.stats.mismatches++;
      this.stats.lastMismatch = message;
      this.emit({ type: 'integrity', epoch: m.epoch, provider: m.provider, partner: m.partner, snapshot: m.snapshot, message });
      this.emit({ type: 'error', where: 'pir', message });
    }
    return `${mismatches.length} PIR ${mismatches.length === 1 ? 'answer' : 'answers'} did not verify: ${this.stats.lastMismatch}`;
  }

  /**
   * The bucket of `address` in `epoch`. A provider that finds the bucket too large for one response
   * is asked again with 16 times the buckets (a sixteenth of the bucket, still holding the address);
   * an epoch it does not hold has nothing for us.
   */
  private async fetchOwn(epoch: number, address: Uint8Array): Promise<StoredItem[]> {
    let buckets = this.settings.buckets;
    for (;;) {
      try {
        return await this.provider.fetchBucket(epoch, bucketOf(address, epoch, buckets), buckets);
      } catch (error) {
        if (error instanceof ProviderRefusal && error.code === PROVIDER_EPOCH_NOT_HELD) return [];
        if (error instanceof ProviderRefusal && error.code === PROVIDER_TOO_LARGE && buckets * 16 <= MAX_BUCKETS) {
          buckets *= 16;
          continue;
        }
        throw error;
      }
    }
  }

  private guardValue<T>(where: string, work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      this.emit({ type: 'error', where, message: describeError(error) });
      return undefined;
    }
  }

  /** True the first time a stored ciphertext is seen in an epoch (a re-fetch skips it). */
  private firstSight(epoch: number, item: StoredItem): boolean {
    const digest = hex(this.crypto.blake2b(16, concatBytes(item.address, item.ciphertext)));
    let seen = this.processed.get(epoch);
    if (seen === undefined) {
      seen = new Set();
      this.processed.set(epoch, seen);
    }
    if (seen.has(digest)) return false;
    seen.add(digest);
    if (seen.size > MAX_PROCESSED_PER_EPOCH) seen.delete(seen.values().next().value as string);
    return true;
  }

  private handleStored(item: StoredItem, epoch: number, now: number, poll: number): 'received' | 'ack' | 'loop' | 'other' {
    const stored = parseStoredCiphertext(item.ciphertext);
    if (stored === undefined) return 'other';
    if (stored.kind === 'forward') return this.handleForward(stored.payload, epoch, now, poll);
    return this.handleSurbReply(stored.surbId, stored.payload, now);
  }

  private handleForward(payload: Uint8Array, epoch: number, now: number, poll: number): 'received' | 'other' {
    if (payload.length !== this.sphinx.geometry.forwardPayloadLength) return 'other';
    const { surb, message } = this.sphinx.splitForwardPayload(payload);
    if (surb === undefined) return 'other';
    const endpoint = this.core.endpoint;
    let messageId: Uint8Array;
    try {
      messageId = openFragment(this.crypto, endpoint.params, endpoint.identity.x25519Secret, endpoint.identity.x25519Public, message).messageId;
    } catch (error) {
      if (error instanceof E2eError) return 'other'; // not for this user, or damaged
      throw error;
    }
    const key = hex(messageId);
    if (this.core.store.hasInbox(messageId)) {
      // A copy of a message we have: its ACK was lost or is late; answer once per poll.
      this.ackOnce(key, messageId, surb, poll);
      return 'other';
    }
    let delivery;
    try {
      delivery = endpoint.receive(message, now);
    } catch (error) {
      if (error instanceof E2eError) return 'other';
      throw error;
    }
    if (delivery.status === 'delivered') {
      const parsed = parseMail(delivery.mail);
      const fromKey = hex(delivery.from.x25519Public);
      const id = this.core.store.addInbox(
        {
          messageId: key, fromKey, fromName: delivery.from.name, receivedMs: now, read: false,
          subject: parsed.subject, date: parsed.date, size: delivery.mail.length, attachments: parsed.attachments.length,
        },
        messageId,
        delivery.mail,
      );
      this.inbound.delete(key);
      this.ackOnce(key, messageId, surb, poll);
      if (id !== undefined) {
        this.emit({ type: 'received', id, from: delivery.from.name, fromKey, subject: parsed.subject, newContact: delivery.newContact });
      }
      return 'received';
    }
    if (delivery.status === 'already-complete') {
      this.ackOnce(key, messageId, surb, poll);
      return 'other';
    }
    let entry = this.inbound.get(key);
    if (entry === undefined) {
      if (this.inbound.size >= MAX_INBOUND_MESSAGES) this.inbound.delete(this.inbound.keys().next().value as string);
      entry = { messageId, surbs: [], progressPoll: poll, nacks: 0 };
      this.inbound.set(key, entry);
    }
    if (delivery.status === 'pending') entry.progressPoll = poll;
    entry.surbs.push({ surb: surb.slice(), epoch });
    if (entry.surbs.length > MAX_SURBS_PER_MESSAGE) entry.surbs.shift();
    return 'other';
  }

  private ackOnce(key: string, messageId: Uint8Array, surb: Uint8Array, poll: number): void {
    if (this.ackedInPoll.get(key) === poll) return;
    this.ackedInPoll.set(key, poll);
    if (this.ackedInPoll.size > MAX_INBOUND_MESSAGES * 4) this.ackedInPoll.delete(this.ackedInPoll.keys().next().value as string);
    this.queueReply(surb, { messageId, kind: 'ack', missing: [] });
  }

  /** An ACK or NACK through a sender's SURB, to the gateway the SURB starts at. */
  private queueReply(surb: Uint8Array, ack: Ack): void {
    let reply: { firstHop: Uint8Array; packet: Uint8Array };
    try {
      reply = ackReplyPacket(this.sphinx, surb, ack);
    } catch {
      return; // a SURB that is not one (damaged, or another suite): nothing can go back
    }
    const { firstHop, packet } = reply;
    const gateway = this.network.findById(firstHop);
    if (gateway === undefined || gateway.layer !== GATEWAY_LAYER) return; // not a gateway we can reach
    const key = nodeKey(gateway);
    this.replyQueue.push({ gateway: key, packet });
    void this.linkFor(key)?.ensure();
  }

  private handleSurbReply(surbId: Uint8Array, payload: Uint8Array, now: number): 'ack' | 'loop' | 'other' {
    const key = hex(surbId);
    const loop = this.loopsOut.get(key);
    if (loop !== undefined) {
      this.loopsOut.delete(key);
      try {
        this.sphinx.decryptSurbPayload(payload, loop.token);
      } catch {
        this.stats.loopsLost++;
        return 'other';
      }
      const rtt = Math.max(0, now - loop.sentMs);
      this.stats.loopsReturned++;
      this.stats.rtts.push(rtt);
      if (this.stats.rtts.length > MAX_RTTS) this.stats.rtts.shift();
      this.emit({ type: 'loop', rttMs: rtt });
      return 'loop';
    }
    const record = this.core.store.takeSurb(surbId);
    if (record === undefined) return 'other';
    let ack;
    try {
      ack = readAckReply(this.sphinx, payload, record.token);
    } catch {
      return 'other';
    }
    if (hex(ack.messageId) !== hex(record.messageId)) return 'other';
    const state = this.outgoing.get(hex(record.messageId));
    if (state === undefined) return 'other'; // delivered or failed already
    if (ack.kind === 'ack') {
      this.finish(state, 'delivered');
      return 'ack';
    }
    const limit = 2 * (this.settings.maxResends + 1);
    const shards = ack.missing.filter((shard) => shard < state.body.dataShards);
    if (state.nackResends >= limit || shards.length === 0) return 'other';
    state.nackResends++;
    state.fresh.clear();
    const added = this.requeue(state, shards);
    this.core.store.updateOutgoingState(state.body.messageId, this.progressOf(state));
    if (added > 0) this.emit({ type: 'resend', id: state.body.mailId, messageId: state.key, shards: added, cause: 'nack' });
    return 'ack';
  }

  /** After every poll: NACKs for stalled partial messages, timeouts, expiry of what is too old to use. */
  private afterPoll(now: number, poll: number): void {
    if (this.closing) return;
    const epoch = this.epochAt(now);
    this.guard('nack', () => {
      for (const [key, entry] of this.inbound) {
        entry.surbs = entry.surbs.filter((s) => s.epoch >= epoch - 1); // older SURBs' keys are gone
        if (entry.surbs.length === 0) {
          this.inbound.delete(key);
          continue;
        }
        if (poll - entry.progressPoll < NACK_AFTER_POLLS || entry.nacks >= MAX_NACKS_PER_MESSAGE) continue;
        const ack = this.core.endpoint.acknowledgement(entry.messageId);
        if (ack.kind !== 'nack' || ack.missing.length === 0) continue;
        this.queueReply(entry.surbs.pop()!.surb, ack);
        entry.nacks++;
        entry.progressPoll = poll;
      }
    });
    this.guard('timeouts', () => this.checkTimeouts(now));
    this.core.endpoint.expire(now);
    for (const e of this.processed.keys()) if (e < epoch - 1) this.processed.delete(e);
    // A SURB made before the previous epoch points at an address no longer fetched.
    this.guard('expiry', () => this.core.store.deleteSurbsBefore(epochStart(Math.max(0, epoch - 1), this.network.doc)));
    const loopCutoff = epochStart(Math.max(0, epoch - 1), this.network.doc);
    for (const [key, loop] of this.loopsOut) {
      if (loop.sentMs >= loopCutoff) continue;
      this.loopsOut.delete(key);
      this.stats.loopsLost++;
    }
  }

  // --- status, lifecycle ---------------------------------------------------------------------

  private queueLength(): number {
    return this.replyQueue.length + this.fragmentQueue.filter((item) => this.outgoing.get(item.key)?.pending.has(item.shard) === true).length;
  }

  private wakeDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  drained(): Promise<void> {
    if (this.closing || this.queueLength() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  status(): AgentStatus {
    const now = this.now();
    const rtts = [...this.stats.rtts];
    const inbox = this.inbox();
    const { clientSendRate, loopRate, dropRate } = this.network.doc.traffic;
    return {
      nowMs: now,
      epoch: this.epochAt(now),
      consensusEpoch: this.network.doc.epoch,
      gateway: { name: this.mainLink.node.name, connected: this.mainLink.ready },
      provider: { name: this.provider.node.name, connected: this.provider.connected || this.pir?.connected === true },
      rates: { sendPerSecond: clientSendRate, loopPerSecond: loopRate, dropPerSecond: dropRate },
      queue: this.queueLength(),
      awaitingAck: this.outgoing.size,
      packets: {
        real: this.stats.real, replies: this.stats.replies, cover: this.stats.cover,
        loops: this.stats.loops, drops: this.stats.drops, missedSlots: this.stats.missedSlots,
      },
      loops: {
        sent: this.stats.loops,
        returned: this.stats.loopsReturned,
        lost: this.stats.loopsLost,
        ...(rtts.length === 0 ? {} : { lastRttMs: rtts[rtts.length - 1], meanRttMs: rtts.reduce((a, b) => a + b, 0) / rtts.length }),
        rttsMs: rtts,
      },
      polls: {
        done: this.stats.polls,
        failed: this.stats.pollsFailed,
        ...(this.stats.lastPollMs === undefined ? {} : { lastMs: this.stats.lastPollMs }),
        ...(this.stats.lastPollError === undefined ? {} : { lastError: this.stats.lastPollError }),
      },
      retrieval: {
        mode: this.network.doc.retrieval,
        ...(this.pir === undefined ? {} : { partner: this.pir.partner.name }),
        pirQueries: this.stats.pirQueries,
        mismatches: this.stats.mismatches,
        ...(this.stats.lastMismatch === undefined ? {} : { lastMismatch: this.stats.lastMismatch }),
      },
      inbox: { total: inbox.length, unread: inbox.filter((mail) => !(mail as InboxMeta).read).length },
    };
  }

  private live(): void {
    if (this.closing || this.core.isClosed) throw new ClientError('closed', 'the client agent is closed');
  }

  override async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.trafficTimer !== undefined) this.clock.clearTimer(this.trafficTimer);
    if (this.pollTimer !== undefined) this.clock.clearTimer(this.pollTimer);
    this.trafficTimer = undefined;
    this.pollTimer = undefined;
    this.provider?.close();
    this.pir?.close();
    await this.pollChain.catch(() => undefined);
    this.mainLink?.close();
    for (const link of this.extraLinks.values()) link.close();
    this.extraLinks.clear();
    this.wakeDrainWaiters();
    this.core.close();
  }
}

/**
 * Opens the client directory and runs the agent: fetches and verifies the consensus ('no-consensus'),
 * finds the user's provider ('no-provider'), connects to a gateway, starts the traffic streams and
 * the poll schedule (and polls once at once), and resends what was waiting at the last close.
 */
export async function startClient(dir: string, passphrase: string, options: StartOptions = {}): Promise<ClientAgent> {
  const core = await ClientCore.open(dir, passphrase, options);
  const agent = new Agent(core, options);
  try {
    await agent.start();
  } catch (error) {
    await agent.close().catch(() => undefined);
    throw error;
  }
  return agent;
}
