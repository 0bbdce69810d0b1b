import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { MAX_DATA_SHARDS } from '../e2e/padding.js';
import { MESSAGE_ID_LENGTH, SENDER_TAG_LENGTH } from '../e2e/fragment.js';
import { ClientError } from './errors.js';

/**
 * What the agent keeps of a message awaiting its ACK (docs/client.md, "What is persisted"), in two
 * sealed columns of the mail store: the body (never changes: what `MailEndpoint.resend` needs to
 * re-seal any shard) and the state (which shards still wait in the send queue, resends, deadline).
 */
export interface OutgoingBody {
  readonly messageId: Uint8Array;
  /** The recipient's X25519 key: also the contact key. */
  readonly recipient: Uint8Array;
  readonly senderTag: Uint8Array;
  readonly dataShards: number;
  /** The framed, end-to-end encrypted message (Outgoing.frame). */
  readonly frame: Uint8Array;
  /** The sent mail's row in the mail store. */
  readonly mailId: number;
  /** The session's address key (Outgoing.addressKey); undefined: a first contact, to the card's address. */
  readonly addressKey: Uint8Array | undefined;
}

export interface OutgoingProgress {
  /** Shards not yet handed to the gateway in the current attempt. */
  readonly pending: readonly number[];
  /** Whole-message resends after timeouts so far. */
  readonly resends: number;
  /** Shard resends asked for by NACKs so far. */
  readonly nackResends: number;
  /** When the ACK is overdue (Unix ms); undefined while shards are still queued. */
  readonly deadlineMs: number | undefined;
  /** True once a packet of the message has left. */
  readonly started: boolean;
  /** When the delivery window opened (Unix ms); undefined in a version-1 state (the restore sets it). */
  readonly windowStartMs: number | undefined;
  /** Since when the recipient's server has been missing from the consensus (Unix ms). */
  readonly waitingSinceMs: number | undefined;
  /** The envelope failed: its record is kept so that `resend` can send it again. */
  readonly failed: boolean;
}

/** Version 2 adds the address key; a version-1 body goes to the card's address, as it did. */
const BODY_VERSION = 2;
const BODY_VERSION_CARD_ADDRESS = 1;
/** Version 2 adds the window's start, the wait for the recipient's server and the failed flag. */
const STATE_VERSION = 2;
const STATE_VERSION_NO_WINDOW = 1;
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const MAX_SHARDS = 4 * MAX_DATA_SHARDS;

export function encodeOutgoingBody(body: OutgoingBody): Uint8Array {
  return new ByteWriter(96 + body.frame.length)
    .u8(BODY_VERSION)
    .bytes(body.messageId)
    .bytes(body.recipient)
    .bytes(body.senderTag)
    .u32(body.dataShards)
    .u64(body.mailId)
    .prefixed(4, body.frame)
    .u8(body.addressKey === undefined ? 0 : 1)
    .bytes(body.addressKey ?? new Uint8Array(0))
    .finish();
}

export function decodeOutgoingBody(bytes: Uint8Array): OutgoingBody {
  try {
    const reader = new ByteReader(bytes, 'outgoing body');
    const version = reader.u8('version');
    if (version !== BODY_VERSION && version !== BODY_VERSION_CARD_ADDRESS) throw new DecodeError('outgoing body', 'unknown version');
    const body = {
      messageId: reader.bytesOf(MESSAGE_ID_LENGTH, 'message id'),
      recipient: reader.bytesOf(32, 'recipient'),
      senderTag: reader.bytesOf(SENDER_TAG_LENGTH, 'sender tag'),
      dataShards: reader.u32('data shards'),
      mailId: reader.u64('mail id'),
      frame: reader.prefixed(4, MAX_FRAME_BYTES, 'frame'),
    };
    const addressKey = version === BODY_VERSION && reader.u8('address key flag') === 1 ? reader.bytesOf(32, 'address key') : undefined;
    reader.end();
    return { ...body, addressKey };
  } catch (error) {
    if (error instanceof DecodeError) throw new ClientError('corrupt-keystore', `an outgoing message record does not parse: ${error.message}`);
    throw error;
  }
}

export function encodeOutgoingProgress(progress: OutgoingProgress): Uint8Array {
  const writer = new ByteWriter(40 + 4 * progress.pending.length)
    .u8(STATE_VERSION)
    .u8(progress.started ? 1 : 0)
    .u16(progress.resends)
    .u32(progress.nackResends)
    .u64(progress.deadlineMs ?? 0)
    .u32(progress.pending.length);
  for (const shard of progress.pending) writer.u32(shard);
  return writer.u64(progress.windowStartMs ?? 0).u64(progress.waitingSinceMs ?? 0).u8(progress.failed ? 1 : 0).finish();
}

export function decodeOutgoingProgress(bytes: Uint8Array): OutgoingProgress {
  try {
    const reader = new ByteReader(bytes, 'outgoing state');
    const version = reader.u8('version');
    if (version !== STATE_VERSION && version !== STATE_VERSION_NO_WINDOW) throw new DecodeError('outgoing state', 'unknown version');
    const started = reader.u8('started') === 1;
    const resends = reader.u16('resends');
    const nackResends = reader.u32('nack resends');
    const deadline = reader.u64('deadline');
    const count = reader.u32('pending');
    if (count > MAX_SHARDS) throw new DecodeError('outgoing state', 'too many pending shards');
    const pending: number[] = [];
    for (let i = 0; i < count; i++) pending.push(reader.u32('shard'));
    const windowStart = version === STATE_VERSION ? reader.u64('window start') : 0;
    const waitingSince = version === STATE_VERSION ? reader.u64('waiting since') : 0;
    const failed = version === STATE_VERSION ? reader.u8('failed') : 0;
    if (failed > 1) throw new DecodeError('outgoing state', 'the failed flag is not 0 or 1');
    reader.end();
    const orUndefined = (ms: number) => (ms === 0 ? undefined : ms);
    return {
      pending, resends, nackResends, deadlineMs: orUndefined(deadline), started,
      windowStartMs: orUndefined(windowStart), waitingSinceMs: orUndefined(waitingSince), failed: failed === 1,
    };
  } catch (error) {
    if (error instanceof DecodeError) throw new ClientError('corrupt-keystore', `an outgoing message state does not parse: ${error.message}`);
    throw error;
  }
}
