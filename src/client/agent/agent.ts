import { epochStart, type ConsensusDocument } from '../../pki/index.js';
import { ClientCore } from '../directory.js';
import { recipientsOf } from '../sent-recipients.js';
import { LocalClient } from '../local-client.js';
import { keepAliveSystemClock, type Clock } from '../../net/clock.js';
import { ClientError, describeError } from '../errors.js';
import { makeBuilder, type PacketBuilder } from './builder.js';
import { copyFor, draftMail, prepareEnvelope, type PreparedEnvelope, type Recipient, type SealedMail } from './compose.js';
import type { BuildJob, EnvelopesJob } from './build-protocol.js';
import { GatewayConnections, guardStoreIn } from './gateways.js';
import { Inbox } from './inbox.js';
import { LoopTracker } from './loops.js';
import { NetworkView } from './network-view.js';
import { Outbox } from './outbox.js';
import { PacketFactory } from './packets.js';
import { Poller } from './poller.js';
import { ReplyQueue } from './replies.js';
import { retrievalFor, type MailboxRetrieval } from './retrieval.js';
import { SendStream } from './send-stream.js';
import { agentStatus } from './status.js';
import type { AgentStatus, ClientAgent, ClientEvent, Emit, PollReport, SendRequest, SendResult, StartOptions } from './types.js';

/**
 * The running client agent (docs/client.md; docs/mail-path.md walks one mail through it). It
 * composes its parts and hands each new consensus to them:
 *   network-view  the consensus, Sphinx and the own provider     gateways  the connections to gateways
 *   builder       a mail's bytes, fragments and packets, built off the event loop (a worker thread)
 *   send-stream   Poisson send, loop and drop streams             packets   fragment, cover, loop packets
 *   outbox        sent mail until its ACK, resends                replies   ACKs/NACKs back through SURBs, in send slots
 *   poller        mailbox polls and what follows them             inbox     fragments into mails
 *   retrieval     how a poll reads the mailbox (pir, bucket, download)       loops     loops in flight
 */
/** At start, how many later epochs' documents are tried for one that lists the user's provider. */
const FIRST_CONSENSUS_RETRIES = 2;
/** ... each only when it is at most this far away. */
const FIRST_CONSENSUS_WAIT_MS = 60_000;
/** How long after an epoch starts its document is asked for. */
const NEXT_DOCUMENT_MARGIN_MS = 250;

class Agent extends LocalClient implements ClientAgent {
  private readonly clock: Clock;
  private readonly emit: Emit;
  private readonly view: NetworkView;
  private readonly gateways: GatewayConnections;
  private readonly replies: ReplyQueue;
  private readonly outbox: Outbox;
  private readonly loops: LoopTracker;
  private readonly incoming: Inbox;
  private readonly stream: SendStream;
  private readonly poller: Poller;
  private readonly builder: PacketBuilder;
  private retrieval!: MailboxRetrieval;
  private drainWaiters: (() => void)[] = [];
  private readonly listeners = new Set<(event: ClientEvent) => void>();
  private closing = false;

  constructor(core: ClientCore, private readonly options: StartOptions) {
    super(core);
    this.clock = options.clock ?? keepAliveSystemClock;
    const onEvent = options.onEvent;
    this.emit = (event) => {
      for (const listener of [onEvent, ...this.listeners]) {
        try {
          listener?.(event);
        } catch {
          // a listener's failure is not the agent's
        }
      }
    };
    const timeoutMs = this.timeoutMs;
    this.view = new NetworkView(core, this.clock, timeoutMs);
    this.gateways = new GatewayConnections(this.clock, core.random, timeoutMs, this.emit, guardStoreIn(core.store), options.connectWebSocket);
    // A seeded agent (tests, simulations) seeds each job from its random source, so it stays deterministic.
    const seedFrom = options.random === undefined ? undefined : () => core.random(32);
    this.builder = makeBuilder(options.builder ?? (options.clock === undefined ? 'worker' : 'inline'), seedFrom);
    this.loops = new LoopTracker(this.emit, (high) => this.stream.setHighAlert(high));
    const packets = new PacketFactory(this.view, core.crypto, core.random, (epoch) => core.endpoint.ownAddress(epoch), (epoch) => this.loops.alerts.avoided(epoch), core.settings.pollsPerEpoch);
    this.replies = new ReplyQueue(this.view, this.gateways, core.random, options.plantedReplyLeak === true);
    this.outbox = new Outbox(core, this.view, packets, this.gateways, this.builder, this.emit, () => this.wakeIfDrained());
    this.incoming = new Inbox(core, this.view, this.replies, this.emit);
    const parts = { replies: this.replies, outbox: this.outbox, loops: this.loops, inbox: this.incoming };
    this.stream = new SendStream(this.clock, core.random, this.view, this.gateways, packets, parts, this.emit, () => this.wakeIfDrained());
    this.poller = new Poller(core, this.clock, this.view, () => this.retrieval, parts, () => this.refreshConsensus(), this.emit);
  }

  protected override now(): number {
    return this.clock.now();
  }

  private get timeoutMs(): number {
    return this.options.requestTimeoutMs ?? 10_000;
  }

  async start(): Promise<void> {
    this.builder.start();
    this.core.store.checkpointOffThread();
    await this.adoptFirstConsensus();
    this.outbox.restore(this.view.now());
    await this.gateways.main.ensure();
    this.stream.schedule();
    await this.poll(); // once right after start (a failed fetch is reported, not thrown)
    this.poller.schedule();
  }

  /**
   * The first consensus, which must list the user's provider. A provider missing from one document
   * is usually a passing state (restarted, or its descriptor late for the vote): the agent says so
   * and takes the next epoch's document, up to FIRST_CONSENSUS_RETRIES times when that is at most
   * FIRST_CONSENSUS_WAIT_MS away; after that, or with longer epochs, start fails ('no-provider').
   */
  private async adoptFirstConsensus(): Promise<void> {
    for (let retry = 0; ; retry++) {
      const doc = await this.view.fetch(this.view.now());
      try {
        this.applyConsensus(doc, true);
        return;
      } catch (error) {
        const waitMs = epochStart(doc.epoch + 1, doc) + NEXT_DOCUMENT_MARGIN_MS - this.view.now();
        if (!(error instanceof ClientError && error.code === 'no-provider') || retry >= FIRST_CONSENSUS_RETRIES || waitMs > FIRST_CONSENSUS_WAIT_MS) throw error;
        this.emit({ type: 'error', where: 'consensus', message: `${error.message}; trying the next epoch's` });
        await new Promise<void>((resolve) => this.clock.setTimer(resolve, Math.max(0, waitMs)));
      }
    }
  }

  private applyConsensus(doc: ConsensusDocument, first: boolean): void {
    const problem = this.view.adopt(doc, first);
    if (problem !== undefined) {
      this.emit({ type: 'error', where: 'consensus', message: problem });
      return;
    }
    this.retrieval = retrievalFor(doc, this.view.ownProvider, first ? undefined : this.retrieval, {
      crypto: this.core.crypto,
      timeoutMs: this.timeoutMs,
      buckets: this.settings.buckets,
      maxBuckets: this.settings.maxBuckets,
      maxCiphertextBytes: this.view.sphinx.geometry.packetLength + 1,
      ...(this.options.connectWebSocket === undefined ? {} : { connect: this.options.connectWebSocket }),
    });
    this.gateways.onConsensus(this.view.network, first);
    this.stream.onConsensus(doc.traffic, first);
    if (!first) this.outbox.onConsensus(); // mail waiting for a server that is back goes at once
    this.emit({ type: 'consensus', epoch: doc.epoch });
  }

  /** Fetches a newer consensus when the current one is for an earlier epoch. */
  private async refreshConsensus(): Promise<void> {
    const now = this.view.now();
    if (!this.view.stale(now)) return;
    try {
      const doc = await this.view.fetch(now);
      if (this.closing || doc.epoch <= this.view.doc.epoch) return;
      this.applyConsensus(doc, false);
    } catch (error) {
      if (error instanceof ClientError && (error.code === 'consensus-refused' || error.code === 'consensus-mismatch')) {
        // The previous consensus stays in use; the refusal is reported and shown in status().
        this.view.refused(error);
        this.emit({ type: 'consensus-refused', code: error.code, message: error.message });
        return;
      }
      this.emit({ type: 'error', where: 'consensus', message: describeError(error) });
    }
  }

  /**
   * Composes, seals and queues a mail without holding the event loop (docs/client.md, "Sending"):
   * the mail's bytes, its frames, their erasure coding and the store's sealed values are the
   * builder's work; here only each recipient's ratchet step (a header, and a first contact's
   * handshake: no pass over the mail), beginning the keystore write (synced off the event loop),
   * the store's large values in 64 KiB pieces and one small store transaction, each in its own
   * turn. Each recipient gets an envelope of its own, over its own session.
   */
  async send(request: SendRequest): Promise<SendResult> {
    this.live();
    const now = this.view.now();
    const { recipients, draft } = draftMail(this.core, this.core.random, request, now);
    const build = async <J extends BuildJob>(job: J, transfer?: ArrayBuffer[]) => {
      const built = await this.builder.run(job, transfer).catch((error: unknown) => {
        this.live(); // a builder closed under the send: 'closed'
        throw error;
      });
      this.live();
      return built;
    };
    // The sender's copy lists every Bcc recipient; To and Cc recipients share one copy without them.
    const own = await build({ kind: 'mail', draft });
    const copies: { mail: Uint8Array; recipients: Recipient[] }[] = [];
    const open = recipients.filter((r) => r.field !== 'bcc');
    if (open.length > 0) copies.push({ mail: (await build({ kind: 'mail', draft: copyFor(draft, { ...open[0], field: 'to' }) })).mail, recipients: open });
    for (const recipient of recipients.filter((r) => r.field === 'bcc')) copies.push({ mail: (await build({ kind: 'mail', draft: copyFor(draft, recipient) })).mail, recipients: [recipient] });
    const prepared: PreparedEnvelope[][] = [];
    for (const copy of copies) {
      const made: PreparedEnvelope[] = [];
      for (const recipient of copy.recipients) {
        made.push(prepareEnvelope(this.core, recipient, copy.mail.length));
        // The ratchet stepped: the keystore is written before anything of the message can leave (and
        // by close() if the agent closes first). Each step in its own turn of the event loop.
        await nextTurn();
        this.live();
      }
      prepared.push(made);
    }
    await this.core.persistInBackground(); // written and synced off the event loop
    this.live();
    const sent = this.core.store.prepareSent();
    const job: EnvelopesJob = {
      kind: 'envelopes', backend: this.core.crypto.name, params: this.core.endpoint.params, mailId: sent.mailId,
      sent: { mail: own.mail, seal: sent.seal },
      copies: copies.map((copy, i) => ({ mail: copy.mail, envelopes: prepared[i].map(({ recipe }) => ({ recipe, bodySeal: this.core.store.outgoingBodySeal(recipe.messageId) })) })),
    };
    const size = own.mail.length;
    // The mails' bytes go to the builder without a copy: nothing here reads them again.
    const sealed = await build(job, ownedBuffers([own.mail, ...copies.map((copy) => copy.mail)]));
    const stored = await this.stageSealed(sent.rid, sealed.sentRaw, prepared.flat().map(({ recipe }, i) => ({ messageId: recipe.messageId, body: sealed.envelopes[i].body })));
    const envelopes: SealedMail[] = prepared.flat().map(({ contact, field, recipe }, i) => {
      const { frame, chunks } = sealed.envelopes[i];
      const { messageId, recipient, senderTag, dataShards, addressKey } = recipe;
      return { contact, field, sealed: { messageId, recipient, senderTag, dataShards, frame, addressKey }, chunks, sealedBody: stored.bodies[i] };
    });
    const result = this.outbox.add({ subject: own.subject, size, rid: sent.rid, sealedRaw: stored.sentRaw, mailId: sent.mailId }, envelopes, now);
    if (this.options.plantedLeakForTests === 'burst-on-send') await this.stream.plantedBurstForTests();
    return result;
  }

  /**
   * Writes a send's large sealed values (the Sent row's bytes, each outgoing body) to the store
   * ahead of their rows, in small transactions, one per turn of the event loop (store-pieces.ts):
   * the one transaction that then records the mail (Outbox.add) is small. What each row's column
   * takes is returned. A send stopped here leaves no pieces behind (nor does a crash: the next open
   * drops pieces no row names).
   */
  private async stageSealed(rid: Uint8Array, sentRaw: Uint8Array, bodies: readonly { messageId: Uint8Array; body: Uint8Array }[]): Promise<{ sentRaw: Uint8Array; bodies: Uint8Array[] }> {
    const store = this.core.store;
    try {
      const raw = await store.stageSealed('mails.raw', rid, sentRaw);
      const staged: Uint8Array[] = [];
      for (const { messageId, body } of bodies) staged.push(await store.stageSealed('outgoing.body', messageId, body));
      this.live();
      return { sentRaw: raw, bodies: staged };
    } catch (error) {
      store.dropStaged('mails.raw', rid);
      for (const { messageId } of bodies) store.dropStaged('outgoing.body', messageId);
      this.live(); // closed under the send: 'closed'
      throw error;
    }
  }

  async resend(id: number): Promise<SendResult> {
    this.live();
    const found = this.core.store.get(id);
    if (found === undefined) throw new ClientError('unknown-mail', `no mail with id ${id}`);
    const { record } = found;
    if (record.folder !== 'sent') throw new ClientError('not-failed', `inbox mail #${record.number} is a received mail: only a failed sent mail is sent again`);
    if (record.status !== 'failed') throw new ClientError('not-failed', `sent mail #${record.number} is ${record.status}, not failed: only a failed mail is sent again`);
    const failed = recipientsOf(record).filter((r) => r.status === 'failed');
    const gone = failed.find((r) => !this.core.endpoint.contactList().some((c) => c.key === r.key));
    if (gone !== undefined) throw new ClientError('unknown-contact', `${gone.name} is no longer a contact: the mail cannot be sent again`);
    const resent = this.outbox.resendFailed(id, this.view.now());
    if (resent.length === 0) throw new ClientError('not-failed', `sent mail #${record.number} failed before failed mail was kept for a resend: send it anew`);
    const recipients = resent.map(({ messageId, fragments }) => {
      const r = failed.find((entry) => entry.messageId === messageId) ?? recipientsOf(record)[0];
      return { name: r.name, key: r.key, field: r.field, messageId, fragments };
    });
    return { id, number: record.number, messageId: resent[0].messageId, fragments: resent.reduce((sum, r) => sum + r.fragments, 0), recipients };
  }

  poll(): Promise<PollReport> {
    this.live();
    return this.poller.poll();
  }

  status(): AgentStatus {
    const { view, gateways, retrieval, stream, outbox, replies, loops, poller } = this;
    return agentStatus({ view, gateways, retrieval, stream, outbox, replies, loops, poller, inbox: this.inbox() });
  }

  drained(): Promise<void> {
    if (this.closing || this.queueLength() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private queueLength(): number {
    return this.replies.length + this.outbox.length;
  }

  private wakeIfDrained(): void {
    if (this.queueLength() > 0) return;
    this.wakeAll();
  }

  subscribe(listener: (event: ClientEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private wakeAll(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private live(): void {
    if (this.closing || this.core.isClosed) throw new ClientError('closed', 'the client agent is closed');
  }

  override async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stream.close();
    this.outbox.close();
    await this.builder.close();
    this.retrieval?.close();
    await this.poller.close();
    this.gateways.close();
    this.wakeAll();
    this.core.close();
  }
}

/** The distinct buffers the arrays fill entirely (those can be transferred). */
function ownedBuffers(arrays: readonly Uint8Array[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const array of arrays) {
    if (array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength) buffers.add(array.buffer);
  }
  return [...buffers];
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Opens the client directory and runs the agent: fetches and verifies the consensus ('no-consensus'),
 * checks it against the minimums ('consensus-refused') and the mirrors ('consensus-mismatch'), finds the user's provider ('no-provider'), connects to a gateway, starts the traffic streams and
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
