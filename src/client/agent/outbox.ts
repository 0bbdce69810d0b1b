import type { Ack } from '../../e2e/ack.js';
import type { Outgoing } from '../../e2e/mail-endpoint.js';
import { readAckReply } from '../../e2e/sphinx-link.js';
import { hexOf } from '../../codec/bytes.js';
import { onDeadline, onNack, shardSent, type ResendPolicy, type ResendState } from '../../traffic/resend.js';
import type { ClientCore } from '../directory.js';
import { describeError } from '../errors.js';
import { parseMail } from '../mail-format.js';
import type { SentMeta, SentStatus } from '../mail-store.js';
import { decodeOutgoingBody, decodeOutgoingProgress, encodeOutgoingBody, encodeOutgoingProgress, type OutgoingBody } from '../outgoing-record.js';
import { providerForServers, RouteError } from '../routes.js';
import type { SealedMail } from './compose.js';
import type { GatewayConnections } from './gateways.js';
import type { NetworkView } from './network-view.js';
import type { PacketFactory } from './packets.js';
import type { Emit, Outbound, SendResult } from './types.js';

interface OutgoingState extends ResendState {
  readonly body: OutgoingBody;
  /** Hex of the message ID. */
  readonly key: string;
  readonly total: number;
  readonly outgoing: Outgoing;
  /** Erasure-coded chunks ready to be sealed as they leave (each with its own SURB), by shard. */
  readonly fresh: Map<number, Uint8Array>;
}

interface QueuedShard {
  readonly key: string;
  readonly shard: number;
}

/**
 * Sent messages until their ACK (docs/client.md, "Acknowledgements and resends"): the queue of
 * shards waiting for a send slot, the packet of each built when its slot comes, ACKs and NACKs
 * applied, timeouts turned into resends or failure (the decisions are src/traffic/resend.ts). Every
 * change is in the mail store before it matters, so a restart resumes where the agent stopped.
 */
export class Outbox {
  /** Fragment packets that left. */
  sent = 0;
  private readonly messages = new Map<string, OutgoingState>();
  private queue: QueuedShard[] = [];

  constructor(
    private readonly core: ClientCore,
    private readonly view: NetworkView,
    private readonly packets: PacketFactory,
    private readonly gateways: GatewayConnections,
    private readonly emit: Emit,
    /** Called when the last queued shard left or went stale. */
    private readonly onEmpty: () => void,
  ) {}

  get awaitingAck(): number {
    return this.messages.size;
  }

  /** Shards still to be sent. */
  get length(): number {
    return this.queue.filter((item) => this.messages.get(item.key)?.pending.has(item.shard) === true).length;
  }

  /** Records a sealed message in the Sent folder and queues its fragments. */
  add(sealed: SealedMail, now: number): SendResult {
    const { contact, mail, outgoing } = sealed;
    const total = this.core.endpoint.totalFragments(outgoing.dataShards);
    const key = hexOf(outgoing.messageId);
    const mailId = this.core.store.addSent(
      {
        messageId: key, toKey: contact.key, toName: contact.card.name, createdMs: now, status: 'queued', statusMs: now,
        subject: parseMail(mail).subject, size: mail.length, fragments: total, attempts: 1,
      },
      mail,
    );
    const body: OutgoingBody = {
      messageId: outgoing.messageId, recipient: outgoing.recipient, senderTag: outgoing.senderTag,
      dataShards: outgoing.dataShards, frame: outgoing.frame, mailId, addressKey: outgoing.addressKey,
    };
    const state: OutgoingState = {
      body, key, total, outgoing,
      pending: new Set(Array.from({ length: total }, (_, i) => i)),
      fresh: new Map(),
      resends: 0, nackResends: 0, deadlineMs: undefined, started: false,
    };
    this.core.store.putOutgoing(outgoing.messageId, encodeOutgoingBody(body), progressOf(state));
    this.messages.set(key, state);
    for (let shard = 0; shard < total; shard++) this.queue.push({ key, shard });
    return { id: mailId, messageId: key, fragments: total };
  }

  /** Messages awaiting their ACK, from the mail store: their unsent shards go back in the queue. */
  restore(now: number): void {
    for (const row of this.core.store.listOutgoing()) {
      const body = decodeOutgoingBody(row.body);
      const progress = decodeOutgoingProgress(row.state);
      const total = this.core.endpoint.totalFragments(body.dataShards);
      const key = hexOf(body.messageId);
      const pending = new Set(progress.pending.filter((shard) => Number.isInteger(shard) && shard < total));
      const state: OutgoingState = {
        body, key, total, outgoing: { ...body, fragments: [] }, pending, fresh: new Map(),
        resends: progress.resends, nackResends: progress.nackResends, deadlineMs: progress.deadlineMs, started: progress.started,
      };
      // Everything sent but no deadline recorded: wait one timeout from now.
      if (pending.size === 0 && state.deadlineMs === undefined) state.deadlineMs = now + this.policy().ackTimeoutMs;
      this.messages.set(key, state);
      for (const shard of [...pending].sort((a, b) => a - b)) this.queue.push({ key, shard });
    }
  }

  /**
   * The packet of the first queued shard, built now (this epoch's keys and addresses, a fresh ACK
   * SURB sealed inside the fragment); undefined when none can go (nothing queued, or no packet can
   * be built with the consensus held: the shard then stays first in the queue).
   */
  next(now: number): Outbound | undefined {
    for (;;) {
      const item = this.queue.shift();
      if (item === undefined) return undefined;
      const built = this.build(item, now);
      if (built === 'stop') return undefined;
      if (built !== 'skip') return built;
    }
  }

  private build(item: QueuedShard, now: number): Outbound | 'skip' | 'stop' {
    const state = this.messages.get(item.key);
    if (state === undefined || !state.pending.has(item.shard)) return 'skip'; // delivered, failed or sent
    const card = this.core.endpoint.contactList().find((contact) => contact.key === hexOf(state.body.recipient))?.card;
    if (card === undefined) {
      this.finish(state, 'failed', 'the recipient is no longer a contact');
      return 'skip';
    }
    const provider = providerForServers(this.view.doc, card.servers);
    if (provider === undefined) {
      this.finish(state, 'failed', `none of ${card.name}'s servers (${card.servers.join(', ') || 'none'}) is a provider of the network`);
      return 'skip';
    }
    const gateway = this.gateways.main;
    let built;
    try {
      if (!state.fresh.has(item.shard)) this.codePending(state);
      const chunk = state.fresh.get(item.shard)!;
      const target = { addressKey: state.body.addressKey, recipient: state.body.recipient, cardMailboxSecret: card.mailboxSecret };
      // Sealed now, with this packet's SURB inside: no one but the recipient can reply through it.
      built = this.packets.fragment(now, gateway.node, { provider, target }, (surb) =>
        this.core.endpoint.sealShard(state.outgoing, item.shard, chunk, surb));
      this.core.store.putSurb(built.surbId, state.body.messageId, now, built.decryptionToken);
    } catch (error) {
      if (error instanceof RouteError) {
        this.queue.unshift(item);
        return 'stop';
      }
      // Never let one message block the queue (and the slots' cover): it fails, with the reason.
      this.finish(state, 'failed', `the message could not be sent: ${describeError(error)}`);
      return 'skip';
    }
    return {
      gateway,
      packet: built.packet,
      commit: () => {
        this.sent++;
        state.fresh.delete(item.shard);
        if (shardSent(state, item.shard, now, this.policy())) this.setStatus(state, 'sending');
        this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
      },
      abort: () => this.queue.unshift(item),
    };
  }

  /** Erasure-codes once the chunks of every pending shard that has none ready. */
  private codePending(state: OutgoingState): void {
    const shards = [...state.pending].filter((shard) => !state.fresh.has(shard)).sort((a, b) => a - b);
    const chunks = this.core.endpoint.shards(state.outgoing, shards);
    shards.forEach((shard, i) => state.fresh.set(shard, chunks[i]));
  }

  /**
   * A SURB reply to one of our fragments' SURBs: an ACK delivers the message, a NACK queues the
   * shards it names. 'ack' when it was a verified reply, 'other' otherwise. Only a reply that
   * decrypts under the SURB's token and names its message uses the SURB up: a forged reply sent
   * first through a copied SURB leaves it for the real one.
   */
  onReply(surbId: Uint8Array, payload: Uint8Array): 'ack' | 'other' {
    const record = this.core.store.getSurb(surbId);
    if (record === undefined) return 'other';
    let ack: Ack;
    try {
      ack = readAckReply(this.view.sphinx, payload, record.token);
    } catch {
      return 'other';
    }
    if (hexOf(ack.messageId) !== hexOf(record.messageId)) return 'other';
    this.core.store.deleteSurb(surbId);
    const state = this.messages.get(hexOf(record.messageId));
    if (state === undefined) return 'other'; // delivered or failed already
    if (ack.kind === 'ack') {
      this.finish(state, 'delivered');
      return 'ack';
    }
    const shards = onNack(state, ack.missing, state.body.dataShards, this.policy());
    if (shards === undefined) return 'other';
    state.fresh.clear();
    this.enqueue(state, shards);
    this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
    if (shards.length > 0) this.emit({ type: 'resend', id: state.body.mailId, messageId: state.key, shards: shards.length, cause: 'nack' });
    return 'ack';
  }

  /** Messages whose ACK is overdue are sent again whole, or fail after the last allowed copy. */
  checkTimeouts(now: number): void {
    for (const state of [...this.messages.values()]) {
      const decision = onDeadline(state, now, state.total, this.policy());
      if (decision.kind === 'wait') continue;
      if (decision.kind === 'fail') {
        const copies = decision.attempts === 1 ? 'copy' : 'copies';
        this.finish(state, 'failed', `no acknowledgement after ${decision.attempts} ${copies} of the message (the recipient may be offline)`);
        continue;
      }
      state.fresh.clear();
      this.enqueue(state, decision.shards);
      this.core.store.transaction(() => {
        this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
        this.setStatus(state, 'sending');
      });
      this.emit({ type: 'resend', id: state.body.mailId, messageId: state.key, shards: decision.shards.length, cause: 'timeout' });
    }
  }

  private enqueue(state: OutgoingState, shards: readonly number[]): void {
    for (const shard of shards) this.queue.push({ key: state.key, shard });
  }

  private policy(): ResendPolicy {
    return { maxResends: this.core.settings.maxResends, ackTimeoutMs: Math.ceil(this.core.settings.ackTimeoutEpochs * this.view.doc.epochMs) };
  }

  private setStatus(state: OutgoingState, status: SentStatus, reason?: string): void {
    const now = this.view.now();
    this.core.store.updateMeta<SentMeta>(state.body.mailId, (meta) => ({
      ...meta, status, statusMs: now, attempts: state.resends + 1, ...(reason === undefined ? {} : { reason }),
    }));
    this.emit({ type: 'status', id: state.body.mailId, messageId: state.key, status, ...(reason === undefined ? {} : { reason }) });
  }

  /** Delivered or failed: the message's record and SURBs are dropped, its queued shards go stale. */
  private finish(state: OutgoingState, status: 'delivered' | 'failed', reason?: string): void {
    this.messages.delete(state.key);
    state.pending.clear();
    state.fresh.clear();
    this.core.store.transaction(() => {
      this.core.store.deleteOutgoing(state.body.messageId);
      this.core.store.deleteSurbsOf(state.body.messageId);
      this.setStatus(state, status, reason);
    });
    this.queue = this.queue.filter((item) => item.key !== state.key);
    this.onEmpty();
  }
}

function progressOf(state: OutgoingState): Uint8Array {
  return encodeOutgoingProgress({
    pending: [...state.pending].sort((a, b) => a - b),
    resends: state.resends,
    nackResends: state.nackResends,
    deadlineMs: state.deadlineMs,
    started: state.started,
  });
}
