import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { MAX_DATA_SHARDS } from './padding.js';
import { E2eError } from './errors.js';
import { MESSAGE_ID_LENGTH } from './fragment.js';

/**
 * Acknowledgements the recipient's agent sends back through a SURB (docs/e2e-fragments.md):
 *
 *     ack  = version (u8 = 1) ‖ type (u8: 1 ACK, 2 NACK) ‖ messageId (16)
 *     nack = … ‖ flags (u8: bit 0 = truncated) ‖ encoding (u8: 1 runs, 2 bitmap) ‖ body
 *
 * A NACK names the missing data shard indices (each below MAX_DATA_SHARDS), in whichever of two
 * encodings is shorter:
 * - runs: pairs of varints (gap, length − 1) until the end; a run starts `gap` after the end of the
 *   previous one (after 0 for the first), and every gap after the first is at least 1;
 * - bitmap: varint base, then bytes whose bits, most significant first, stand for base, base + 1, …;
 *   at least one byte, the last one non-zero.
 * Varints are unsigned LEB128, minimal (at most 2 bytes here). When the whole list does not fit
 * maxLength, the NACK names the longest prefix of the (ascending) list that does and sets the
 * truncated flag; the sender resends those and hears again about the rest.
 */
export const ACK_VERSION = 1;
const TYPE_ACK = 1;
const TYPE_NACK = 2;
const ENCODING_RUNS = 1;
const ENCODING_BITMAP = 2;
const FLAG_TRUNCATED = 1;
/** version ‖ type ‖ messageId */
export const ACK_LENGTH = 2 + MESSAGE_ID_LENGTH;
/** An ACK's header, then flags ‖ encoding */
export const NACK_HEADER_LENGTH = ACK_LENGTH + 2;

export interface Ack {
  messageId: Uint8Array;
  kind: 'ack' | 'nack';
  /** Data shard indices the recipient still needs (empty for an ACK). */
  missing: number[];
}

export interface DecodedAck extends Ack {
  /** A NACK whose sender had more missing shards than it could list. */
  truncated: boolean;
}

function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : 3;
}

function writeVarint(writer: ByteWriter, value: number): void {
  while (value >= 0x80) {
    writer.u8((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  writer.u8(value);
}

/** A minimal LEB128 varint below `limit` (≤ MAX_DATA_SHARDS, so at most 2 bytes are read). */
function readVarint(reader: ByteReader, limit: number, field: string): number {
  let value = 0;
  for (let shift = 0; shift < 21; shift += 7) {
    const byte = reader.u8(field);
    value |= (byte & 0x7f) << shift;
    if (value >= limit) throw new DecodeError('ack', `${field} out of range`);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && shift > 0) throw new DecodeError('ack', `${field} is not minimal`);
      return value;
    }
  }
  throw new DecodeError('ack', `${field} is too long`);
}

/** [start, length] of each maximal run of consecutive indices in a sorted unique list. */
function runsOf(sorted: readonly number[], count: number): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] + last[1] === sorted[i]) last[1]++;
    else runs.push([sorted[i], 1]);
  }
  return runs;
}

function runsBodyLength(sorted: readonly number[], count: number): number {
  let length = 0;
  let end = 0;
  for (const [start, run] of runsOf(sorted, count)) {
    length += varintLength(start - end) + varintLength(run - 1);
    end = start + run;
  }
  return length;
}

function bitmapBodyLength(sorted: readonly number[], count: number): number {
  if (count === 0) return Infinity; // an empty list is sent as zero runs
  return varintLength(sorted[0]) + Math.ceil((sorted[count - 1] - sorted[0] + 1) / 8);
}

function bodyLength(sorted: readonly number[], count: number): number {
  return Math.min(runsBodyLength(sorted, count), bitmapBodyLength(sorted, count));
}

/**
 * Encodes an ACK or NACK in at most maxLength bytes (a SURB reply payload, 2588 bytes in the
 * default geometry). The missing list may be in any order and hold duplicates; a NACK lists as many
 * of its smallest indices as fit and says when it had to leave some out. RangeError for an index
 * that is not a data shard index, an ACK with a missing list, or a maxLength below the header.
 */
export function encodeAck(ack: Ack, maxLength: number): Uint8Array {
  if (!(ack.messageId instanceof Uint8Array) || ack.messageId.length !== MESSAGE_ID_LENGTH) {
    throw new RangeError(`ack: the message ID must be ${MESSAGE_ID_LENGTH} bytes`);
  }
  for (const index of ack.missing) {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_DATA_SHARDS) throw new RangeError(`ack: shard index ${index}`);
  }
  const writer = new ByteWriter(Math.min(Math.max(maxLength, ACK_LENGTH), 4096));
  writer.u8(ACK_VERSION);
  if (ack.kind === 'ack') {
    if (ack.missing.length !== 0) throw new RangeError('ack: an ACK lists no missing shards');
    if (maxLength < ACK_LENGTH) throw new RangeError(`ack: ${maxLength} bytes cannot hold an ACK`);
    return writer.u8(TYPE_ACK).bytes(ack.messageId).finish();
  }
  if (ack.kind !== 'nack') throw new RangeError(`ack: kind ${String(ack.kind)}`);
  if (maxLength < NACK_HEADER_LENGTH) throw new RangeError(`ack: ${maxLength} bytes cannot hold a NACK`);

  const sorted = [...new Set(ack.missing)].sort((a, b) => a - b);
  const room = maxLength - NACK_HEADER_LENGTH;
  let count = sorted.length;
  if (bodyLength(sorted, count) > room) {
    // The longest prefix that fits: body lengths grow with the prefix, so search for it.
    let low = 0;
    let high = count - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (bodyLength(sorted, mid) <= room) low = mid;
      else high = mid - 1;
    }
    count = low;
  }
  const truncated = count < sorted.length;
  const useBitmap = bitmapBodyLength(sorted, count) < runsBodyLength(sorted, count);
  writer.u8(TYPE_NACK).bytes(ack.messageId).u8(truncated ? FLAG_TRUNCATED : 0).u8(useBitmap ? ENCODING_BITMAP : ENCODING_RUNS);
  if (useBitmap) {
    const base = sorted[0];
    const bitmap = new Uint8Array(Math.ceil((sorted[count - 1] - base + 1) / 8));
    for (let i = 0; i < count; i++) {
      const offset = sorted[i] - base;
      bitmap[offset >> 3] |= 0x80 >> (offset & 7);
    }
    writeVarint(writer, base);
    writer.bytes(bitmap);
  } else {
    let end = 0;
    for (const [start, run] of runsOf(sorted, count)) {
      writeVarint(writer, start - end);
      writeVarint(writer, run - 1);
      end = start + run;
    }
  }
  return writer.finish();
}

/** Decodes an ACK or NACK; 'bad-ack' for anything malformed (the missing list comes out sorted). */
export function decodeAck(bytes: Uint8Array): DecodedAck {
  try {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError('ack', 'not bytes');
    const reader = new ByteReader(bytes, 'ack');
    const version = reader.u8('version');
    if (version !== ACK_VERSION) throw new DecodeError('ack', `version ${version}`);
    const type = reader.u8('type');
    const messageId = reader.bytesOf(MESSAGE_ID_LENGTH, 'message ID');
    if (type === TYPE_ACK) {
      reader.end();
      return { messageId, kind: 'ack', missing: [], truncated: false };
    }
    if (type !== TYPE_NACK) throw new DecodeError('ack', `type ${type}`);
    const flags = reader.u8('flags');
    if ((flags & ~FLAG_TRUNCATED) !== 0) throw new DecodeError('ack', 'unknown flags');
    const encoding = reader.u8('encoding');
    const missing: number[] = [];
    if (encoding === ENCODING_RUNS) {
      let end = 0;
      while (reader.remaining > 0) {
        const gap = readVarint(reader, MAX_DATA_SHARDS, 'gap');
        if (missing.length > 0 && gap === 0) throw new DecodeError('ack', 'runs not separated');
        const start = end + gap;
        const run = readVarint(reader, MAX_DATA_SHARDS, 'run length') + 1;
        if (start + run > MAX_DATA_SHARDS) throw new DecodeError('ack', 'index out of range');
        for (let i = start; i < start + run; i++) missing.push(i);
        end = start + run;
      }
    } else if (encoding === ENCODING_BITMAP) {
      const base = readVarint(reader, MAX_DATA_SHARDS, 'base');
      const length = reader.remaining;
      if (length === 0 || length > Math.ceil((MAX_DATA_SHARDS - base) / 8)) throw new DecodeError('ack', 'bitmap length');
      const bitmap = reader.rest();
      if (bitmap[length - 1] === 0) throw new DecodeError('ack', 'bitmap not minimal');
      for (let offset = 0; offset < length * 8; offset++) {
        if ((bitmap[offset >> 3] & (0x80 >> (offset & 7))) === 0) continue;
        if (base + offset >= MAX_DATA_SHARDS) throw new DecodeError('ack', 'index out of range');
        missing.push(base + offset);
      }
    } else {
      throw new DecodeError('ack', `encoding ${encoding}`);
    }
    return { messageId, kind: 'nack', missing, truncated: flags === FLAG_TRUNCATED };
  } catch (error) {
    if (error instanceof DecodeError) throw new E2eError('bad-ack', error.message);
    throw error;
  }
}
