import { sameBytes, toBase64Url } from '../codec/bytes.js';
import { ReedSolomonError } from '../codec/reed-solomon.js';
import { MAX_DATA_SHARDS } from './padding.js';
import { E2eError } from './errors.js';
import {
  chunkLength,
  codecFor,
  locateShard,
  MESSAGE_ID_LENGTH,
  SENDER_TAG_LENGTH,
  stripeLayout,
  totalShards,
  type FragmentParams,
  type OpenedFragment,
  type StripeLayout,
} from './fragment.js';

/**
 * Rebuilds frames from opened fragments arriving in any order, with duplicates and losses, under
 * hard memory bounds (docs/e2e-fragments.md, "Reassembly").
 *
 * A stripe is rebuilt as soon as any k of its n shards are in: its data shards are kept and its
 * parity dropped, so a pending message never holds more than its data shards' worth of chunks.
 * When every stripe is rebuilt the message is complete: its frame data is returned, its state
 * freed, and its ID remembered (a bounded FIFO) so that late fragments are told 'already-complete'.
 *
 * Bounds, checked on every add: a message larger than maxMessageBytes is refused ('limit-exceeded');
 * a new message beyond maxPendingMessages, beyond its sender tag's maxPendingPerSender (the all-zero
 * tag of first contacts is one shared "unknown senders" quota), or a fragment that would take the
 * held bytes beyond maxPendingBytes evicts the oldest pending messages (in order of first
 * arrival) until it fits. Pending messages older than maxAgeMs are dropped. Time is a parameter.
 */
export interface ReassemblyLimits {
  /** The largest message, in bytes of frame data (default MAX_DATA_SHARDS chunks). */
  maxMessageBytes: number;
  /** Messages being reassembled at once (default 64). */
  maxPendingMessages: number;
  /** Chunk bytes held over all pending messages (default 64 MiB); at least maxMessageBytes. */
  maxPendingBytes: number;
  /** Pending messages per sender tag (default 16). */
  maxPendingPerSender: number;
  /** Age, from its first fragment, after which a pending message is dropped (default 24 h). */
  maxAgeMs: number;
  /** Completed message IDs remembered to drop their late fragments (default 4096). */
  rememberCompleted: number;
}

export function defaultReassemblyLimits(params: FragmentParams): ReassemblyLimits {
  return {
    maxMessageBytes: MAX_DATA_SHARDS * chunkLength(params),
    maxPendingMessages: 64,
    maxPendingBytes: 64 * 1024 * 1024,
    maxPendingPerSender: 16,
    maxAgeMs: 24 * 60 * 60 * 1000,
    rememberCompleted: 4096,
  };
}

export type ReassemblyStatus = 'pending' | 'complete' | 'duplicate' | 'already-complete';

export interface ReassemblyResult {
  /**
   * pending: the shard was stored (the message is still incomplete); complete: this fragment
   * completed the message and `data` is its frame; duplicate: the shard was already held, or its
   * stripe was already rebuilt; already-complete: the message was completed earlier.
   */
  status: ReassemblyStatus;
  messageId: Uint8Array;
  senderTag: Uint8Array;
  /** The rebuilt frame data (totalDataShards × chunkLength bytes), only when complete. */
  data?: Uint8Array;
}

interface StripeState {
  /** n slots; undefined until received. Emptied once the stripe is rebuilt. */
  shards: (Uint8Array | undefined)[];
  received: number;
  /** The stripe's data shards once rebuilt. */
  rebuilt?: Uint8Array[];
}

interface PendingMessage {
  messageId: Uint8Array;
  senderTag: Uint8Array;
  senderKey: string;
  layout: StripeLayout;
  stripes: StripeState[];
  stripesDone: number;
  /** Chunk bytes held. */
  bytes: number;
  firstSeenMs: number;
}

export class Reassembler {
  readonly limits: Readonly<ReassemblyLimits>;
  private readonly chunkLength: number;
  /** By message ID key, in order of first arrival (Map order): the first is the oldest. */
  private readonly pending = new Map<string, PendingMessage>();
  private readonly perSender = new Map<string, number>();
  /** Completed message ID keys, oldest first. */
  private readonly completed = new Set<string>();
  private heldBytes = 0;

  constructor(private readonly params: FragmentParams, limits: Partial<ReassemblyLimits> = {}) {
    this.chunkLength = chunkLength(params);
    const merged = { ...defaultReassemblyLimits(params), ...limits };
    for (const [name, value] of Object.entries(merged)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`reassembly: ${name} = ${value}`);
    }
    if (merged.maxPendingMessages < 1 || merged.maxPendingPerSender < 1) throw new RangeError('reassembly: no pending message allowed');
    if (merged.maxMessageBytes < this.chunkLength) throw new RangeError('reassembly: maxMessageBytes below one chunk');
    if (merged.maxPendingBytes < merged.maxMessageBytes) throw new RangeError('reassembly: maxPendingBytes below maxMessageBytes');
    this.limits = Object.freeze(merged);
  }

  /** Pending messages now held. */
  get pendingMessages(): number {
    return this.pending.size;
  }

  /** Chunk bytes now held over all pending messages. */
  get pendingBytes(): number {
    return this.heldBytes;
  }

  /** Completed message IDs now remembered. */
  get rememberedMessages(): number {
    return this.completed.size;
  }

  /** What is known of a message: 'pending', 'complete' (remembered) or 'unknown'. */
  state(messageId: Uint8Array): 'pending' | 'complete' | 'unknown' {
    const key = toBase64Url(messageId);
    if (this.pending.has(key)) return 'pending';
    return this.completed.has(key) ? 'complete' : 'unknown';
  }

  /**
   * Adds one opened fragment. Throws 'bad-fragment' for a fragment inconsistent in itself or with
   * its message's earlier fragments (other total, other sender tag) and 'limit-exceeded' for a
   * message beyond maxMessageBytes; neither stores anything.
   */
  add(fragment: OpenedFragment, nowMs: number): ReassemblyResult {
    this.checkFragment(fragment);
    this.expire(nowMs);
    const { messageId, senderTag } = fragment;
    const key = toBase64Url(messageId);
    if (this.completed.has(key)) return { status: 'already-complete', messageId, senderTag };

    let message = this.pending.get(key);
    if (message === undefined) {
      if (fragment.totalDataShards * this.chunkLength > this.limits.maxMessageBytes) {
        throw new E2eError('limit-exceeded', `a message of ${fragment.totalDataShards} data shards`);
      }
      message = this.open(key, fragment, nowMs);
    } else if (message.layout.totalDataShards !== fragment.totalDataShards || !sameBytes(message.senderTag, senderTag)) {
      throw new E2eError('bad-fragment', 'a fragment inconsistent with its message');
    }

    const { stripe: s, position } = locateShard(message.layout, fragment.shardIndex);
    const stripe = message.stripes[s];
    if (stripe.rebuilt !== undefined || stripe.shards[position] !== undefined) {
      return { status: 'duplicate', messageId, senderTag };
    }
    // Make room first (other messages only: this one fits on its own, maxPendingBytes ≥ maxMessageBytes).
    while (this.heldBytes + this.chunkLength > this.limits.maxPendingBytes) {
      const oldest = this.oldestOther(key);
      if (oldest === undefined) break;
      this.drop(oldest);
    }
    stripe.shards[position] = fragment.chunk.slice();
    stripe.received++;
    this.hold(message, this.chunkLength);

    const layoutStripe = message.layout.stripes[s];
    if (stripe.received === layoutStripe.dataShards) this.rebuildStripe(message, s);
    if (message.stripesDone < message.stripes.length) return { status: 'pending', messageId, senderTag };

    const data = new Uint8Array(message.layout.totalDataShards * this.chunkLength);
    let offset = 0;
    for (const done of message.stripes) {
      for (const shard of done.rebuilt as Uint8Array[]) {
        data.set(shard, offset);
        offset += shard.length;
      }
    }
    this.drop(key);
    this.completed.add(key);
    if (this.completed.size > this.limits.rememberCompleted) {
      this.completed.delete(this.completed.values().next().value as string);
    }
    return { status: 'complete', messageId, senderTag, data };
  }

  /**
   * The data shard indices still needed, in ascending order: for each stripe not yet rebuilt, its
   * data shards not received (what a NACK names). Empty for a complete or unknown message
   * (state() tells them apart).
   */
  missing(messageId: Uint8Array): number[] {
    const message = this.pending.get(toBase64Url(messageId));
    if (message === undefined) return [];
    const out: number[] = [];
    message.stripes.forEach((stripe, s) => {
      if (stripe.rebuilt !== undefined) return;
      const { firstData, dataShards } = message.layout.stripes[s];
      for (let p = 0; p < dataShards; p++) if (stripe.shards[p] === undefined) out.push(firstData + p);
    });
    return out;
  }

  /** Drops pending messages whose first fragment arrived maxAgeMs or more before nowMs. */
  expire(nowMs: number): void {
    for (const [key, message] of this.pending) {
      if (nowMs - message.firstSeenMs >= this.limits.maxAgeMs) this.drop(key);
    }
  }

  private checkFragment(fragment: OpenedFragment): void {
    const ok =
      fragment.messageId instanceof Uint8Array && fragment.messageId.length === MESSAGE_ID_LENGTH &&
      fragment.senderTag instanceof Uint8Array && fragment.senderTag.length === SENDER_TAG_LENGTH &&
      Number.isInteger(fragment.totalDataShards) && fragment.totalDataShards >= 1 && fragment.totalDataShards <= MAX_DATA_SHARDS &&
      Number.isInteger(fragment.shardIndex) && fragment.shardIndex >= 0 &&
      fragment.chunk instanceof Uint8Array && fragment.chunk.length === this.chunkLength &&
      fragment.shardIndex < totalShards(this.params, fragment.totalDataShards);
    if (!ok) throw new E2eError('bad-fragment', 'a malformed opened fragment');
  }

  /** Starts a pending message, evicting the oldest to stay within the message and sender bounds. */
  private open(key: string, fragment: OpenedFragment, nowMs: number): PendingMessage {
    const senderKey = toBase64Url(fragment.senderTag);
    while ((this.perSender.get(senderKey) ?? 0) >= this.limits.maxPendingPerSender) {
      for (const [other, message] of this.pending) {
        if (message.senderKey === senderKey) {
          this.drop(other);
          break;
        }
      }
    }
    while (this.pending.size >= this.limits.maxPendingMessages) this.drop(this.pending.keys().next().value as string);
    const layout = stripeLayout(this.params, fragment.totalDataShards);
    const message: PendingMessage = {
      messageId: fragment.messageId.slice(),
      senderTag: fragment.senderTag.slice(),
      senderKey,
      layout,
      stripes: layout.stripes.map((stripe) => ({
        shards: new Array<Uint8Array | undefined>(stripe.dataShards + stripe.parityShards).fill(undefined),
        received: 0,
      })),
      stripesDone: 0,
      bytes: 0,
      firstSeenMs: nowMs,
    };
    this.pending.set(key, message);
    this.perSender.set(senderKey, (this.perSender.get(senderKey) ?? 0) + 1);
    return message;
  }

  private rebuildStripe(message: PendingMessage, s: number): void {
    const stripe = message.stripes[s];
    const { dataShards, parityShards } = message.layout.stripes[s];
    let rebuilt: Uint8Array[];
    try {
      rebuilt = codecFor(dataShards, parityShards).reconstruct(stripe.shards);
    } catch (error) {
      if (error instanceof ReedSolomonError) throw new E2eError('too-few-fragments', error.message);
      throw error;
    }
    // The stripe held exactly k chunks; it now holds its k data shards: the byte count is unchanged.
    stripe.rebuilt = rebuilt;
    stripe.shards = [];
    message.stripesDone++;
  }

  private hold(message: PendingMessage, bytes: number): void {
    message.bytes += bytes;
    this.heldBytes += bytes;
  }

  private oldestOther(key: string): string | undefined {
    for (const other of this.pending.keys()) if (other !== key) return other;
    return undefined;
  }

  private drop(key: string): void {
    const message = this.pending.get(key);
    if (message === undefined) return;
    this.pending.delete(key);
    this.heldBytes -= message.bytes;
    const count = (this.perSender.get(message.senderKey) ?? 1) - 1;
    if (count === 0) this.perSender.delete(message.senderKey);
    else this.perSender.set(message.senderKey, count);
  }
}
