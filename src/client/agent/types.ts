import type { WebSocketConnector } from '../../net/request-channel.js';
import type { ClientDeps } from '../directory.js';
import type { Client } from '../local-client.js';
import type { Clock } from '../../net/clock.js';
import type { GatewayFrame } from '../../wire/gateway-frame.js';
import type { Attachment } from '../mail-format.js';
import type { SentStatus } from '../mail-store.js';
import type { RecipientField } from '../sent-recipients.js';
import type { BuilderMode } from './builder.js';

/**
 * The running client agent (docs/client.md): Poisson send, loop and drop streams over a gateway
 * WebSocket; mailbox polls at fixed offsets of every epoch over the own provider's WebSocket;
 * sending, ACK bookkeeping, resends; receiving, reassembly, ACKs and NACKs through the senders'
 * SURBs. Every change is persisted before it can matter (keystore for ratchet steps, the mail store
 * for mails, outgoing messages and ACK SURBs).
 */

export interface StartOptions extends ClientDeps {
  /** Default: the wall clock and Node timers. */
  readonly clock?: Clock;
  /** Everything notable that happens (mail received, status changes, loops, polls, errors). */
  readonly onEvent?: (event: ClientEvent) => void;
  /** Real-time limit for connecting and for one provider request (default 10 s). */
  readonly requestTimeoutMs?: number;
  /**
   * Where a mail's bytes, fragments and packets are built (docs/client.md, "The packet builder"):
   * 'worker' (a worker thread, off the event loop) by default; 'inline' (this thread) by default
   * with an injected clock, since simulated time does not wait for a thread.
   */
  readonly builder?: BuilderMode;
  /**
   * Opens every WebSocket of the agent, to gateways and for retrieval (default connectWebSocket;
   * tests wrap it to tamper with answers or to route the links through an observer).
   */
  readonly connectWebSocket?: WebSocketConnector;
  /**
   * For tests only: a deliberate leak, so that a test can show it detects one. 'burst-on-send':
   * send() puts the new mail's packets on the wire at once, back to back, outside the Poisson
   * stream (what a naive client does). Never set outside tests.
   */
  readonly plantedLeakForTests?: 'burst-on-send';
  /**
   * Tests only: a planted leak that sends each reply at once over a new connection to a gateway
   * (the behaviour before replies rode in the send stream), so that the reply-unlinkability test
   * shows it can fail. Never set outside tests.
   */
  readonly plantedReplyLeak?: boolean;
}

/** In events, `id` is the mail's row id in the store and `number` its number in its folder (inbox or sent). */
export type ClientEvent =
  | { readonly type: 'received'; readonly id: number; readonly number: number; readonly from: string; readonly fromKey: string; readonly subject: string; readonly newContact: boolean }
  /**
   * A recipient's envelope changed status: `recipient` says whose and how it is; `status` and
   * `reason` are then the whole mail's (sent-recipients.ts, mailStatusOf); `messageId` is the envelope's.
   */
  | {
      readonly type: 'status'; readonly id: number; readonly number: number; readonly messageId: string; readonly status: SentStatus; readonly reason?: string;
      readonly recipient?: { readonly name: string; readonly key: string; readonly field: RecipientField; readonly status: SentStatus; readonly reason?: string };
    }
  | { readonly type: 'resend'; readonly id: number; readonly number: number; readonly messageId: string; readonly shards: number; readonly cause: 'timeout' | 'nack' }
  | { readonly type: 'loop'; readonly rttMs: number }
  /** High alert (docs/network.md, "Alerts"): loops of `epoch` lost beyond the normal rate, through the named nodes or all paths. */
  | { readonly type: 'alert'; readonly epoch: number; readonly suspects: readonly AlertSuspect[] }
  | { readonly type: 'poll'; readonly epoch: number; readonly startedMs: number; readonly items: number; readonly error?: string }
  | { readonly type: 'consensus'; readonly epoch: number }
  /** A newer consensus was refused (below the minimums, or not confirmed by the mirrors); the previous one stays in use. */
  | { readonly type: 'consensus-refused'; readonly code: 'consensus-refused' | 'consensus-mismatch'; readonly message: string }
  /** PIR: the two servers' answers decoded to a row that does not verify (nothing of it is read). */
  | { readonly type: 'integrity'; readonly epoch: number; readonly provider: string; readonly partner: string; readonly snapshot: string; readonly message: string }
  | { readonly type: 'error'; readonly where: string; readonly message: string };

/**
 * A mail to send. Each recipient is a contact's name, or its key in hex (a unique prefix of at
 * least 8 digits will do). Any number of To, Cc and Bcc recipients up to MAX_RECIPIENTS in all
 * (compose.ts); a contact named twice gets one copy, in the first of To, Cc, Bcc that names it.
 */
export interface SendRequest {
  readonly to: string | readonly string[];
  readonly cc?: readonly string[];
  readonly bcc?: readonly string[];
  readonly subject: string;
  readonly body: string;
  readonly attachments?: readonly Attachment[];
}

export interface SendResult {
  /** The sent mail's id in the local store (sent(), read(id)). */
  readonly id: number;
  /** Its number in the Sent folder (`umbra client sent`, `resend N`). */
  readonly number: number;
  /** Hex of the first recipient's end-to-end message ID (each recipient's: `recipients`). */
  readonly messageId: string;
  /** Sphinx packets one copy of the mail to every recipient takes (the sum over `recipients`). */
  readonly fragments: number;
  /** Each recipient's envelope, in the order To, Cc, Bcc. */
  readonly recipients: readonly { readonly name: string; readonly key: string; readonly field: RecipientField; readonly messageId: string; readonly fragments: number }[];
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

/** A count that failed the loop test: a node's (its public name and layer) or all paths'. */
export interface AlertSuspect {
  readonly scope: 'node' | 'paths';
  readonly node?: string;
  readonly layer?: number;
  readonly loops: number;
  readonly lost: number;
  readonly pValue: number;
}

export interface AgentStatus {
  readonly nowMs: number;
  readonly epoch: number;
  readonly consensusEpoch: number;
  /** The latest consensus refused since the one in use was adopted. */
  readonly consensusRefused?: { readonly code: string; readonly message: string; readonly atMs: number };
  readonly gateway: { readonly name: string; readonly connected: boolean };
  readonly provider: { readonly name: string; readonly connected: boolean };
  readonly rates: { readonly sendPerSecond: number; readonly loopPerSecond: number; readonly dropPerSecond: number };
  /** The consensus' mean mixing delay per hop. */
  readonly meanDelayMs: number;
  /** Real packets waiting for a send slot (fragments and ACK/NACK replies). */
  readonly queue: number;
  /** Sent messages not yet acknowledged or failed. */
  readonly awaitingAck: number;
  readonly packets: {
    readonly real: number;
    readonly replies: number;
    /** ACKs and NACKs queued in their SURB's epoch and dropped because it ended before a slot took them. */
    readonly repliesExpired: number;
    /** ACKs and NACKs not queued: their copy was read after its SURB's epoch (late, or read again by a later poll). */
    readonly repliesReadLate: number;
    readonly cover: number;
    readonly loops: number;
    readonly drops: number;
    /** Send-stream events that found no open gateway connection or no usable consensus, and slots a stall made overdue (dropped, never caught up). */
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
    /** How long after its due time a loop not back counts as lost (docs/client.md, "Loops"); absent until enough loops came back. */
    readonly deadlineMs?: number;
  };
  /** High alert (docs/network.md, "Alerts"): on for the epoch of an alarm and the next; the suspects, the nodes paths avoid, the alarms so far. */
  readonly alert: { readonly high: boolean; readonly suspects: readonly AlertSuspect[]; readonly avoiding: readonly string[]; readonly alarms: number };
  readonly polls: { readonly done: number; readonly failed: number; readonly behindEpochs: number; readonly lastMs?: number; readonly lastError?: string };
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
  /**
   * Builds, seals and queues a mail (the heavy work off the event loop); resolves once it is in the
   * Sent folder and queued. Its fragments replace cover packets in the send stream.
   */
  send(request: SendRequest): Promise<SendResult>;
  /**
   * Sends a failed sent mail again (docs/client.md, "Resending a failed mail"): each failed
   * envelope, the same sealed frame, with a new delivery window; its recipients go back to 'queued'.
   * 'unknown-mail', 'not-failed' (not a failed sent mail), 'unknown-contact' (a recipient is no
   * longer a contact).
   */
  resend(id: number): Promise<SendResult>;
  /** Fetches the mailbox now (also runs by itself at fixed offsets of every epoch). */
  poll(): Promise<PollReport>;
  status(): AgentStatus;
  /** Resolves once no real packet waits in the send queue (or the agent closes). */
  drained(): Promise<void>;
  /** Calls `listener` with every event from now on (as StartOptions.onEvent); returns the unsubscribe. */
  subscribe(listener: (event: ClientEvent) => void): () => void;
}

/** A packet ready for a send slot (with its first hop, for the gateway), and what happens once it left (commit) or could not (abort). */
export interface Outbound {
  readonly frame: GatewayFrame;
  readonly commit: () => void;
  readonly abort: () => void;
}

/** Reports an event to the agent's listener (a listener's failure is not the agent's). */
export type Emit = (event: ClientEvent) => void;
