import type { SealedFrame } from '../../e2e/mail-endpoint.js';
import { hexOf } from '../../codec/bytes.js';
import type { ConsensusDocument } from '../../pki/index.js';
import { ackDeadline, maxCopyIntervalMs, type ResendPolicy, type ResendState } from '../../traffic/resend.js';
import { replyTravelOf, replyWindowEndMs, resendMomentMs } from '../../traffic/reply-window.js';
import type { GatewayConnection } from '../gateway-connection.js';
import { decodeOutgoingBody, decodeOutgoingProgress, encodeOutgoingBody, encodeOutgoingProgress, type OutgoingBody } from '../outgoing-record.js';
import type { ClientCore } from '../directory.js';
import type { SealedMail, SentCopy } from './compose.js';
import type { ClientSettings } from '../settings.js';

/**
 * What the outbox holds of each message awaiting its ACK (src/client/agent/outbox.ts), how it is
 * written to and read back from the mail store, and the resend policy the consensus and the
 * settings give (the decisions are src/traffic/resend.ts).
 */
export interface OutgoingState extends ResendState {
  readonly body: OutgoingBody;
  /** Hex of the message ID. */
  readonly key: string;
  readonly total: number;
  readonly outgoing: SealedFrame;
  /** Erasure-coded chunks ready to be sealed as they leave (each with its own SURB), by shard. */
  readonly fresh: Map<number, Uint8Array>;
  /** Bumped whenever `fresh` is cleared: chunks asked for before are not used. */
  generation: number;
  /** A 'fragments' job (the erasure coding) is with the builder. */
  coding: boolean;
}

export interface QueuedShard {
  readonly key: string;
  readonly shard: number;
}

/** A shard's packet, built ahead of its slot for one epoch, one SURB epoch and one gateway. */
export interface ReadyPacket {
  readonly item: QueuedShard;
  readonly state: OutgoingState;
  readonly epoch: number;
  /** The epoch of its SURB's keys (reply-window.ts, `replyEpoch`), chosen when it was built. */
  readonly surbEpoch: number;
  readonly gateway: GatewayConnection;
  readonly firstHop: Uint8Array;
  readonly packet: Uint8Array;
  readonly surbId: Uint8Array;
  readonly decryptionToken: Uint8Array;
}

/** The resend policy: the timeout from the settings, the window (the retention) and the backoff's cap from the consensus. */
export function resendPolicyOf(doc: ConsensusDocument, settings: ClientSettings): ResendPolicy {
  const { maxResends, ackTimeoutEpochs, pollsPerEpoch } = settings;
  const ackTimeoutMs = Math.ceil(ackTimeoutEpochs * doc.epochMs);
  return {
    ...(maxResends === undefined ? {} : { maxResends }),
    ackTimeoutMs,
    replyWindowEndMs: (sentMs, resends) => replyWindowEndMs(sentMs, doc, replyTravelOf(doc, pollsPerEpoch), resends),
    resendMomentMs: (dueMs) => resendMomentMs(dueMs, doc),
    windowMs: doc.retentionMs,
    maxIntervalMs: maxCopyIntervalMs(doc.epochMs, doc.retentionMs, ackTimeoutMs),
  };
}

/**
 * A message read back from the mail store at `now` (undefined: a failed one, kept for a resend): its unsent shards are pending again; one whose
 * shards all left but has no deadline waits one timeout from now; a state written before windows
 * existed has its window open now.
 */
export function restoredState(row: { body: Uint8Array; state: Uint8Array }, now: number, totalFragments: (dataShards: number) => number, policy: ResendPolicy): OutgoingState | undefined {
  const body = decodeOutgoingBody(row.body);
  const progress = decodeOutgoingProgress(row.state);
  if (progress.failed) return undefined; // kept for a resend only
  const total = totalFragments(body.dataShards);
  const pending = new Set(progress.pending.filter((shard) => Number.isInteger(shard) && shard < total));
  const state: OutgoingState = {
    body, key: hexOf(body.messageId), total, outgoing: body, pending, fresh: new Map(), generation: 0, coding: false,
    resends: progress.resends, nackResends: progress.nackResends, deadlineMs: progress.deadlineMs, started: progress.started,
    windowStartMs: progress.windowStartMs ?? now, waitingSinceMs: progress.waitingSinceMs,
  };
  if (pending.size === 0 && state.deadlineMs === undefined) state.deadlineMs = ackDeadline(now, policy, state.resends);
  return state;
}

/**
 * A failed envelope's record sent again from `now`: every shard pending, a new window, no resend
 * counted; undefined when the record is not a failed envelope of mail `mailId`.
 */
export function resentState(row: { body: Uint8Array; state: Uint8Array }, mailId: number, now: number, totalFragments: (dataShards: number) => number): OutgoingState | undefined {
  const body = decodeOutgoingBody(row.body);
  if (body.mailId !== mailId || !decodeOutgoingProgress(row.state).failed) return undefined;
  const total = totalFragments(body.dataShards);
  const pending = new Set(Array.from({ length: total }, (_, i) => i));
  return {
    body, key: hexOf(body.messageId), total, outgoing: body, pending, fresh: new Map(), generation: 0, coding: false,
    resends: 0, nackResends: 0, deadlineMs: undefined, started: false, windowStartMs: now, waitingSinceMs: undefined,
  };
}

/**
 * Records a mail in the Sent folder (the sender's copy, one row with every recipient) and each
 * recipient's envelope as an outgoing record, in one transaction; the envelopes' states, to be
 * queued, with every shard's chunk ready. The values come sealed (SentCopy, SealedMail); an
 * envelope's body names the mail's row, so when another mail took the row id it was sealed for,
 * it is sealed again here.
 */
export function recordSent(core: ClientCore, copy: SentCopy, envelopes: readonly SealedMail[], now: number): OutgoingState[] {
  const states = envelopes.map(({ sealed: outgoing }) => {
    const total = core.endpoint.totalFragments(outgoing.dataShards);
    return { outgoing, total, key: hexOf(outgoing.messageId), pending: new Set(Array.from({ length: total }, (_, i) => i)) };
  });
  const fresh = { resends: 0, nackResends: 0, deadlineMs: undefined, started: false, windowStartMs: now, waitingSinceMs: undefined };
  const bodies: OutgoingBody[] = core.store.transaction(() => {
    const recipients = envelopes.map(({ contact, field }, i) => ({ messageId: states[i].key, key: contact.key, name: contact.card.name, field, status: 'queued' as const, statusMs: now, attempts: 1 }));
    const [first] = recipients;
    const fragments = states.reduce((sum, state) => sum + state.total, 0);
    const mailId = core.store.addSentSealed(
      { messageId: first.messageId, toKey: first.key, toName: first.name, recipients, createdMs: now, status: 'queued', statusMs: now, subject: copy.subject, size: copy.size, fragments, attempts: 1 },
      { rid: copy.rid, raw: copy.sealedRaw, size: copy.size },
    );
    return states.map(({ outgoing, pending }, i) => {
      const { messageId, recipient, senderTag, dataShards, frame, addressKey } = outgoing;
      const written: OutgoingBody = { messageId, recipient, senderTag, dataShards, frame, mailId, addressKey };
      const progress = encodeOutgoingProgress({ ...fresh, pending: [...pending], failed: false });
      if (mailId === copy.mailId) core.store.putOutgoingSealed(messageId, envelopes[i].sealedBody, progress);
      else core.store.putOutgoing(messageId, encodeOutgoingBody(written), progress);
      return written;
    });
  });
  return states.map(({ outgoing, total, key, pending }, i) => ({
    ...fresh, body: bodies[i], key, total, outgoing, pending, generation: 0, coding: false,
    fresh: new Map(envelopes[i].chunks.length === total ? envelopes[i].chunks.map((chunk, shard) => [shard, chunk]) : []),
  }));
}

/** The state as the store keeps it; `failed`: the envelope failed (kept for a resend). */
export function progressOf(state: OutgoingState, failed = false): Uint8Array {
  return encodeOutgoingProgress({
    pending: [...state.pending].sort((a, b) => a - b),
    resends: state.resends,
    nackResends: state.nackResends,
    deadlineMs: state.deadlineMs,
    started: state.started,
    windowStartMs: state.windowStartMs,
    waitingSinceMs: state.waitingSinceMs,
    failed,
  });
}
