import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { E2eError } from './errors.js';

/**
 * Framing and padding of an envelope to a size class (docs/e2e-fragments.md):
 *
 *     frame = kind (u8) ‖ length (u32, big-endian) ‖ envelope ‖ zero padding
 *
 * padded to exactly dataShards × chunkLength bytes, where dataShards is the smallest power of two
 * (1, 2, 4, … MAX_DATA_SHARDS) whose chunks hold the framed envelope. So a message's fragment count
 * reveals only its size class, never its length within the class.
 */
export const FRAME_HEADER_LENGTH = 5;
/** The largest size class, in data shards (16 MiB of frame at 2048-byte fragments). */
export const MAX_DATA_SHARDS = 8192;

export interface Framed {
  /** Exactly dataShards × chunkLength bytes. */
  data: Uint8Array;
  /** A power of two, 1 .. MAX_DATA_SHARDS. */
  dataShards: number;
}

/**
 * The size class of an envelope: the number of data shards (a power of two) whose chunks hold
 * `envelopeLength` bytes framed.
 */
export function paddedShardCount(envelopeLength: number, chunkLength: number): number {
  if (!Number.isInteger(chunkLength) || chunkLength < 1) throw new RangeError(`padding: chunk length ${chunkLength}`);
  const needed = FRAME_HEADER_LENGTH + envelopeLength;
  let shards = 1;
  while (shards * chunkLength < needed) {
    shards *= 2;
    if (shards > MAX_DATA_SHARDS) {
      throw new E2eError('too-large', `a ${envelopeLength}-byte envelope exceeds the largest size class`);
    }
  }
  return shards;
}

export function frame(kind: number, envelope: Uint8Array, chunkLength: number): Framed {
  if (!Number.isInteger(kind) || kind < 0 || kind > 0xff) throw new RangeError(`padding: kind ${kind}`);
  const dataShards = paddedShardCount(envelope.length, chunkLength);
  const header = new ByteWriter(FRAME_HEADER_LENGTH).u8(kind).u32(envelope.length).finish();
  const data = new Uint8Array(dataShards * chunkLength);
  data.set(header, 0);
  data.set(envelope, FRAME_HEADER_LENGTH);
  return { data, dataShards };
}

/**
 * The kind and envelope of a frame. 'bad-message' when it is shorter than its header, states a
 * length beyond its end, or has a non-zero byte in its padding.
 */
export function unframe(data: Uint8Array): { kind: number; envelope: Uint8Array } {
  try {
    const reader = new ByteReader(data, 'frame');
    const kind = reader.u8('kind');
    const length = reader.u32('length');
    if (length > reader.remaining) throw new DecodeError('frame', `length ${length} beyond the frame`);
    const envelope = reader.bytesOf(length, 'envelope');
    for (let i = FRAME_HEADER_LENGTH + length; i < data.length; i++) {
      if (data[i] !== 0) throw new DecodeError('frame', 'non-zero padding');
    }
    return { kind, envelope };
  } catch (error) {
    if (error instanceof DecodeError) throw new E2eError('bad-message', error.message);
    throw error;
  }
}
