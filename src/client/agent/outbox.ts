import type { Ack } from '../../e2e/ack.js';
import { readAckReply } from '../../e2e/sphinx-link.js';
import { hexOf } from '../../codec/bytes.js';
import { onDeadline, onNack, onRecipientServer, shardSent, windowEndMs, type FailCause, type ResendPolicy } from '../../traffic/resend.js';
import { progressOf, recordSent, resendPolicyOf, resentState, restoredState, type OutgoingState, type QueuedShard, type ReadyPacket } from './outgoing-state.js';
import type { ClientCore } from '../directory.js';
import { describeError } from '../errors.js';
import type { SentMeta, SentStatus } from '../mail-store.js';
import { providerForServers, RouteError } from '../routes.js';
import { recipientsOf, withRecipientStatus } from '../sent-recipients.js';
import type { PacketBuilder } from './builder.js';
import { failedReason, waitingForAckReason, waitingForServerReason } from './delivery-reasons.js';
import type { SealedMail, SentCopy } from './compose.js';
import type { GatewayConnections } from './gateways.js';
import type { NetworkView } from './network-view.js';
import type { PacketFactory } from './packets.js';
import type { DeliveryTarget } from '../../e2e/relationship-address.js';
import type { NodeDescriptor } from '../../pki/index.js';
import type { ContactCard } from '../../e2e/card.js';
import type { Emit, Outbound, SendResult } from './types.js';

/** Packets built ahead of their slots: enough that a slot never waits for the builder. */
const LOOKAHEAD = 4;

/**
 * Sent messages until their ACK (docs/client.md, "Acknowledgements and resends"): the queue of
 * shards waiting for a send slot, each sealed with its ACK SURB inside as its packet is built by
 * the packet builder, off the event loop, a few packets ahead of the slots (a packet whose epoch or
 * gateway changed before its slot is built again); ACKs and NACKs applied, timeouts turned into
 * resends or failure (src/traffic/resend.ts). Every change is in the mail store before it matters.
 */
export class Outbox {
  /** Fragment packets that left. */
  sent = 0;
  private readonly messages = new Map<string, OutgoingState>();
  private queue: QueuedShard[] = [];
  private ready: ReadyPacket[] = [];
  /** Shards whose packet is with the builder. */
  private readonly building = new Set<QueuedShard>();
  private closed = false;

  constructor(
    private readonly core: ClientCore,
    private readonly view: NetworkView,
    private readonly packets: PacketFactory,
    private readonly gateways: GatewayConnections,
    private readonly builder: PacketBuilder,
    private readonly emit: Emit,
    /** Called when the last queued shard left or went stale. */
    private readonly onEmpty: () => void,
  ) {}

  get awaitingAck(): number {
    return this.messages.size;
  }

  /** Shards still to be sent. */
  get length(): number {
    const waiting = (item: QueuedShard) => this.messages.get(item.key)?.pending.has(item.shard) === true;
    return this.queue.filter(waiting).length + this.ready.filter((ready) => waiting(ready.item)).length + [...this.building].filter(waiting).length;
  }

  /** Records a mail in Sent (the sender's copy, one row with every recipient) and queues each recipient's envelope. */
  add(copy: SentCopy, envelopes: readonly SealedMail[], now: number): SendResult {
    const states = recordSent(this.core, copy, envelopes, now);
    for (const state of states) {
      this.messages.set(state.key, state);
      for (let shard = 0; shard < state.total; shard++) this.queue.push({ key: state.key, shard });
    }
    // A recipient whose servers are missing now: its envelope waits at once.
    for (const state of states) this.checkServer(state, now);
    this.pump();
    const recipients = envelopes.map(({ contact, field }, i) => ({ name: contact.card.name, key: contact.key, field, messageId: states[i].key, fragments: states[i].total }));
    const id = states[0].body.mailId;
    return { id, number: this.numberOf(id), messageId: states[0].key, fragments: states.reduce((sum, state) => sum + state.total, 0), recipients };
  }

  /** Messages awaiting their ACK, from the mail store: their unsent shards go back in the queue. */
  restore(now: number): void {
    for (const row of this.core.store.listOutgoing()) {
      const state = restoredState(row, now, (dataShards) => this.core.endpoint.totalFragments(dataShards), this.policy());
      if (state === undefined) continue;
      this.messages.set(state.key, state);
      if (state.waitingSinceMs !== undefined) continue; // checkServer() queues its shards once the server is back
      for (const shard of [...state.pending].sort((a, b) => a - b)) this.queue.push({ key: state.key, shard });
    }
    this.pump();
  }

  /**
   * The first built packet that can still go (this epoch's keys, the SURB epoch a packet leaving now
   * gets, the main gateway), or undefined: the slot then carries cover. Packets built for another
   * epoch, SURB epoch or gateway go back to be built again. (A packet built early in an epoch with
   * SURBs of that epoch, leaving so late that it will be read only in the next, would have its ACK
   * dropped by the recipient, and the mail would wait for a resend.)
   */
  next(now: number): Outbound | undefined {
    const epoch = this.view.epochAt(now);
    const rebuild: QueuedShard[] = [];
    let found: ReadyPacket | undefined;
    while (found === undefined && this.ready.length > 0) {
      const ready = this.ready.shift()!;
      if (this.messages.get(ready.item.key) !== ready.state || !ready.state.pending.has(ready.item.shard)) continue; // stale
      const stale = ready.epoch !== epoch || ready.surbEpoch !== this.packets.surbEpoch(now, ready.state.resends);
      if (stale || ready.gateway !== this.gateways.main) rebuild.push(ready.item);
      else found = ready;
    }
    this.queue.unshift(...rebuild);
    if (found === undefined) {
      this.pump();
      return undefined;
    }
    const { item, state } = found;
    return {
      frame: { firstHop: found.firstHop, packet: found.packet },
      commit: () => {
        this.sent++;
        state.fresh.delete(item.shard);
        this.core.store.transaction(() => {
          this.core.store.putSurb(found.surbId, state.body.messageId, now, found.decryptionToken);
          if (shardSent(state, item.shard, now, this.policy())) this.setStatus(state, 'sending');
          this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
        });
        this.pump();
      },
      abort: () => this.ready.unshift(found),
    };
  }

  /** Stops building (the agent closes): jobs still with the builder are dropped. */
  close(): void {
    this.closed = true;
  }

  /**
   * Keeps up to LOOKAHEAD packets built or being built, in queue order: seals a message's pending
   * fragments first (one 'fragments' job), then asks for each shard's packet ('fragment-packet').
   */
  private pump(): void {
    while (!this.closed && this.ready.length + this.building.size < LOOKAHEAD) {
      const item = this.queue[0];
      if (item === undefined) return;
      const state = this.messages.get(item.key);
      if (state === undefined || !state.pending.has(item.shard)) {
        this.queue.shift(); // delivered, failed or sent
        continue;
      }
      const recipient = this.recipientOf(state);
      if (recipient === undefined) continue; // the message failed: its shards left the queue
      if (!state.fresh.has(item.shard)) {
        this.code(state);
        return; // the coding's answer pumps again
      }
      let built;
      try {
        const { recipient: key, messageId, senderTag, dataShards } = state.outgoing;
        const shard = { params: this.core.endpoint.params, recipient: key, messageId, senderTag, dataShards, shardIndex: item.shard, chunk: state.fresh.get(item.shard)! };
        built = this.packets.fragmentJob(this.view.now(), this.gateways.main.node, recipient, shard, state.resends);
      } catch (error) {
        if (error instanceof RouteError) return; // the next slot tries again (a newer consensus may help)
        this.finish(state, 'failed', `the message could not be sent: ${describeError(error)}`);
        continue;
      }
      this.queue.shift();
      this.building.add(item);
      const gateway = this.gateways.main;
      this.builder.run(built.job).then(
        (result) => {
          this.building.delete(item);
          if (this.closed) return;
          this.ready.push({ item, state, epoch: built.epoch, surbEpoch: built.surbEpoch, gateway, firstHop: built.firstHop, packet: result.packet, surbId: built.surbId, decryptionToken: result.decryptionToken });
          this.pump();
        },
        (error: unknown) => {
          this.building.delete(item);
          if (this.closed || this.messages.get(state.key) !== state) return;
          this.finish(state, 'failed', `the message could not be sent: ${describeError(error)}`);
          this.pump();
        },
      );
    }
  }

  /** The recipient's provider and mailbox secret; undefined when the message fails or waits (its shards left the queue). */
  private recipientOf(state: OutgoingState): { provider: NodeDescriptor; target: DeliveryTarget } | undefined {
    const card = this.cardOf(state);
    if (card === undefined) return void this.finish(state, 'failed', 'the recipient is no longer a contact');
    const provider = providerForServers(this.view.doc, card.servers);
    if (provider === undefined) {
      this.checkServer(state, this.view.now());
      this.unqueue(state.key); // it waits (or failed): shards a NACK queued meanwhile leave too
      return undefined;
    }
    return { provider, target: { addressKey: state.body.addressKey, recipient: state.body.recipient, cardMailboxSecret: card.mailboxSecret } };
  }

  private cardOf(state: OutgoingState): ContactCard | undefined {
    return this.core.endpoint.contactList().find((contact) => contact.key === hexOf(state.body.recipient))?.card;
  }

  /**
   * Whether the recipient's server is in the consensus now (src/traffic/resend.ts, onRecipientServer):
   * a missing one makes the message wait (its shards leave the queue); its return queues them again;
   * the end of the window fails the message. False when the message waits or failed.
   */
  private checkServer(state: OutgoingState, now: number): boolean {
    const card = this.cardOf(state);
    if (card === undefined) {
      this.finish(state, 'failed', 'the recipient is no longer a contact');
      return false;
    }
    const present = providerForServers(this.view.doc, card.servers) !== undefined;
    const name = card.name;
    const decision = onRecipientServer(state, present, now, this.policy());
    switch (decision.kind) {
      case 'none':
        return state.waitingSinceMs === undefined;
      case 'fail':
        this.fail(state, name, decision.cause, decision.attempts);
        return false;
      case 'wait':
        this.unqueue(state.key);
        this.core.store.transaction(() => {
          this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
          this.setStatus(state, 'waiting', waitingForServerReason(name, card.servers, windowEndMs(state, this.policy())));
        });
        this.onEmpty();
        return false;
      case 'resume':
        this.core.store.transaction(() => {
          this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
          this.setStatus(state, state.started ? 'sending' : 'queued');
        });
        this.enqueue(state, decision.shards);
        return true;
    }
  }

  /** After a new consensus: messages waiting for a server that is back go again at once. */
  onConsensus(): void {
    const now = this.view.now();
    for (const state of [...this.messages.values()]) if (state.waitingSinceMs !== undefined) this.checkServer(state, now);
  }

  /**
   * Erasure-codes, with the builder, the chunks of every pending shard that has none ready; each is
   * sealed with its own SURB inside as its packet is built ('fragment-packet').
   */
  private code(state: OutgoingState): void {
    if (state.coding) return;
    state.coding = true;
    const generation = state.generation;
    const shards = [...state.pending].filter((shard) => !state.fresh.has(shard)).sort((a, b) => a - b);
    const { frame, dataShards } = state.outgoing;
    this.builder.run({ kind: 'fragments', params: this.core.endpoint.params, frame, dataShards, shards }).then(
      ({ chunks }) => {
        state.coding = false;
        if (this.closed) return;
        if (state.generation === generation) shards.forEach((shard, i) => state.fresh.set(shard, chunks[i]));
        this.pump();
      },
      (error: unknown) => {
        state.coding = false;
        if (this.closed || this.messages.get(state.key) !== state) return;
        this.finish(state, 'failed', `the message could not be sealed: ${describeError(error)}`);
        this.pump();
      },
    );
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
    this.forgetSeals(state);
    this.enqueue(state, shards);
    this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
    if (shards.length > 0) this.emit({ type: 'resend', id: state.body.mailId, number: this.numberOf(state.body.mailId), messageId: state.key, shards: shards.length, cause: 'nack' });
    return 'ack';
  }

  /** Messages whose ACK is overdue are sent again whole, or fail after the last allowed copy. */
  checkTimeouts(now: number): void {
    for (const state of [...this.messages.values()]) {
      if (!this.checkServer(state, now)) continue; // waiting for the recipient's server, or failed
      const decision = onDeadline(state, now, state.total, this.policy());
      if (decision.kind === 'wait') continue;
      const name = this.cardOf(state)?.name ?? 'the recipient';
      if (decision.kind === 'fail') {
        this.fail(state, name, decision.cause, decision.attempts);
        continue;
      }
      this.forgetSeals(state);
      this.enqueue(state, decision.shards);
      this.core.store.transaction(() => {
        this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
        this.setStatus(state, 'waiting', waitingForAckReason(name, state.resends, windowEndMs(state, this.policy())));
      });
      this.emit({ type: 'resend', id: state.body.mailId, number: this.numberOf(state.body.mailId), messageId: state.key, shards: decision.shards.length, cause: 'timeout' });
    }
  }

  private enqueue(state: OutgoingState, shards: readonly number[]): void {
    for (const shard of shards) this.queue.push({ key: state.key, shard });
    this.pump();
  }

  /** A resend codes its shards again (each is sealed afresh as it leaves: no byte in common with an earlier copy). */
  private forgetSeals(state: OutgoingState): void {
    state.fresh.clear();
    state.generation++;
  }

  private policy(): ResendPolicy {
    return resendPolicyOf(this.view.doc, this.core.settings);
  }

  private fail(state: OutgoingState, name: string, cause: FailCause, attempts: number): void {
    this.finish(state, 'failed', failedReason(name, cause, attempts, this.policy().windowMs, this.numberOf(state.body.mailId)));
  }

  /** A sent mail's number in the Sent folder (0 once the user deleted it). */
  private numberOf(mailId: number): number {
    return this.core.store.numberOf(mailId) ?? 0;
  }

  /** The message's shards leave the queue and the packets built ahead (they are still pending). */
  private unqueue(key: string): void {
    this.queue = this.queue.filter((item) => item.key !== key);
    this.ready = this.ready.filter((ready) => ready.item.key !== key);
  }

  /** The envelope's status, in its recipient's entry of the Sent row; the event carries the mail's too. */
  private setStatus(state: OutgoingState, status: SentStatus, reason?: string): void {
    const now = this.view.now();
    const change = { status, statusMs: now, attempts: state.resends + 1, ...(reason === undefined ? {} : { reason }) };
    const row = this.core.store.updateMeta<SentMeta>(state.body.mailId, (meta) => withRecipientStatus(meta, state.key, change));
    const mail = row?.folder === 'sent' ? row : undefined;
    const entry = mail === undefined ? undefined : recipientsOf(mail).find((r) => r.messageId === state.key);
    this.emit({
      type: 'status', id: state.body.mailId, number: row?.number ?? this.numberOf(state.body.mailId), messageId: state.key, status: mail?.status ?? status,
      ...(mail === undefined ? (reason === undefined ? {} : { reason }) : mail.reason === undefined ? {} : { reason: mail.reason }),
      ...(entry === undefined ? {} : { recipient: { name: entry.name, key: entry.key, field: entry.field, status, ...(reason === undefined ? {} : { reason }) } }),
    });
  }

  /** Delivered or failed: the message's record and SURBs are dropped, its queued shards go stale. */
  private finish(state: OutgoingState, status: 'delivered' | 'failed', reason?: string): void {
    this.messages.delete(state.key);
    state.pending.clear();
    this.forgetSeals(state);
    this.core.store.transaction(() => {
      // A failed envelope's record stays, marked, for a resend; a delivered one goes.
      if (status === 'failed') this.core.store.updateOutgoingState(state.body.messageId, progressOf(state, true));
      else this.core.store.deleteOutgoing(state.body.messageId);
      this.core.store.deleteSurbsOf(state.body.messageId);
      this.setStatus(state, status, reason);
    });
    this.unqueue(state.key);
    this.onEmpty();
  }

  /** Sends the failed envelopes of mail `mailId` again, the same frames with a new window (docs/client.md, "Resending a failed mail"). */
  resendFailed(mailId: number, now: number): { messageId: string; fragments: number }[] {
    const states = this.core.store.listOutgoing().flatMap((row) => resentState(row, mailId, now, (dataShards) => this.core.endpoint.totalFragments(dataShards)) ?? []);
    for (const state of states) {
      this.core.store.transaction(() => {
        this.core.store.updateOutgoingState(state.body.messageId, progressOf(state));
        this.setStatus(state, 'queued');
      });
      this.messages.set(state.key, state);
      for (let shard = 0; shard < state.total; shard++) this.queue.push({ key: state.key, shard });
      this.checkServer(state, now);
    }
    this.pump();
    return states.map((state) => ({ messageId: state.key, fragments: state.total }));
  }
}
