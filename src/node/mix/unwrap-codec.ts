import { commandLength, decodeHopCommands, hopFields, writeCommand, type RoutingCommand, type UnwrapResult } from '../../sphinx/index.js';
import type { UnwrapOutcome } from '../runtime/hop.js';

/**
 * A batch's unwrap outcomes as one buffer of records (docs/nodes.md, "Unwrap workers"), plus the
 * results' bytes as they are: the worker encodes the records into a buffer the main thread lent
 * it and moves that buffer back with each result's own byte array (a forward packet, or a
 * payload); the main thread reads the records into small copies and lends the buffer again, so no
 * outcome is cloned field by field, no packet is copied, and each packet owns its memory.
 * Records follow one another, one per packet, in order:
 *
 *   kind u8 (0 error, 1 forward, 2 deliver, 3 surb-reply) | key index u8 | tag length u8 |
 *   n u8 | commands length u16 | seconds f64 | tag | then, for an error, its code (n ASCII
 *   bytes); for a result, its commands in Sphinx's own encoding (src/sphinx/commands.ts) with
 *   MACs of n bytes (its bytes are the next of the byte arrays)
 *
 * Numbers are little-endian. This layout never leaves the node.
 */
const HEAD = 14;
const KINDS = ['error', 'forward', 'deliver', 'surb-reply'] as const;

function bytesOf(result: UnwrapResult): Uint8Array {
  return result.kind === 'forward' ? result.packet : result.payload;
}

/** The MAC length of a result's commands (that of its next-hop command; 0 without one). */
function macLengthOf(commands: readonly RoutingCommand[]): number {
  for (const command of commands) if (command.type === 'next-hop') return command.mac.length;
  return 0;
}

function commandsLength(commands: readonly RoutingCommand[], macLength: number): number {
  let length = 0;
  for (const command of commands) length += commandLength(command, macLength);
  return length;
}

function recordLength(outcome: UnwrapOutcome): number {
  if (!outcome.ok) return HEAD + (outcome.replayTag?.length ?? 0) + outcome.code.length;
  const { result } = outcome;
  return HEAD + result.replayTag.length + commandsLength(result.commands, macLengthOf(result.commands));
}

function byte(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${what} does not fit in a byte`);
  return value;
}

/** Where encodeOutcomes wrote: `length` bytes at the start of `buffer`, and the results' bytes in order. */
export interface EncodedOutcomes {
  readonly buffer: ArrayBuffer;
  readonly length: number;
  readonly bytes: Uint8Array[];
}

/**
 * The records of one batch's outcomes, in order, written at the start of `into` when they fit
 * there (the buffer is reused batch after batch), or else of a new buffer of exactly their size.
 */
export function encodeOutcomes(outcomes: readonly UnwrapOutcome[], into?: ArrayBuffer): EncodedOutcomes {
  let total = 0;
  for (const outcome of outcomes) total += recordLength(outcome);
  const buffer = into !== undefined && into.byteLength >= total ? into : new ArrayBuffer(total);
  const out = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const bytes: Uint8Array[] = [];
  let offset = 0;
  for (const outcome of outcomes) {
    offset = writeRecord(out, view, offset, outcome);
    if (outcome.ok) bytes.push(bytesOf(outcome.result));
  }
  return { buffer, length: total, bytes };
}

/** The buffers to move with an answer: those of the results' bytes, each once. */
export function transferablesOf(bytes: readonly Uint8Array[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const array of bytes) if (array.buffer instanceof ArrayBuffer) buffers.add(array.buffer);
  return [...buffers];
}

function writeRecord(out: Uint8Array, view: DataView, start: number, outcome: UnwrapOutcome): number {
  const tag = outcome.ok ? outcome.result.replayTag : outcome.replayTag;
  const macLength = outcome.ok ? macLengthOf(outcome.result.commands) : 0;
  out[start] = outcome.ok ? KINDS.indexOf(outcome.result.kind) : 0;
  out[start + 1] = byte(outcome.keyIndex, 'a key index');
  out[start + 2] = byte(tag?.length ?? 0, 'a replay tag length');
  out[start + 3] = byte(outcome.ok ? macLength : outcome.code.length, 'a MAC length or error code length');
  view.setUint16(start + 4, outcome.ok ? commandsLength(outcome.result.commands, macLength) : 0, true);
  view.setFloat64(start + 6, outcome.seconds, true);
  let offset = start + HEAD;
  if (tag !== undefined) {
    out.set(tag, offset);
    offset += tag.length;
  }
  if (!outcome.ok) {
    for (let i = 0; i < outcome.code.length; i++) out[offset + i] = byte(outcome.code.charCodeAt(i), 'an error code character');
    return offset + outcome.code.length;
  }
  try {
    for (const command of outcome.result.commands) offset = writeCommand(out, offset, command, macLength);
  } catch (error) {
    throw new RangeError(`the commands of an outcome cannot be laid out (${(error as Error).message})`);
  }
  return offset;
}

/**
 * Reads `count` outcomes from `records`, which must hold exactly their records, with `bytes`, the
 * results' byte arrays in order (used as they are). Everything else is copied out of `records`, so
 * it can be written again at once. Records or bytes that do not match: RangeError.
 */
export function decodeOutcomes(records: Uint8Array, count: number, bytes: readonly Uint8Array[]): UnwrapOutcome[] {
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const outcomes: UnwrapOutcome[] = [];
  const reader = { offset: 0, next: 0 };
  for (let i = 0; i < count; i++) outcomes.push(readRecord(records, view, reader, bytes));
  if (reader.offset !== records.length) throw new RangeError('bytes are left after the outcomes');
  if (reader.next !== bytes.length) throw new RangeError('byte arrays are left after the outcomes');
  return outcomes;
}

function take(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  if (offset + length > bytes.length) throw new RangeError('an outcome record is cut short');
  return bytes.subarray(offset, offset + length);
}

/** Reads the record at `reader.offset`, and moves the reader past it and its bytes. */
function readRecord(records: Uint8Array, view: DataView, reader: { offset: number; next: number }, bytes: readonly Uint8Array[]): UnwrapOutcome {
  const head = take(records, reader.offset, HEAD);
  const kind = KINDS[head[0]];
  if (kind === undefined) throw new RangeError(`unknown outcome kind ${head[0]}`);
  const keyIndex = head[1];
  const tagLength = head[2];
  const n = head[3];
  const commandBytes = view.getUint16(reader.offset + 4, true);
  const seconds = view.getFloat64(reader.offset + 6, true);
  let offset = reader.offset + HEAD;
  const tag = tagLength === 0 ? undefined : take(records, offset, tagLength).slice();
  offset += tagLength;
  if (kind === 'error') {
    const code = String.fromCharCode(...take(records, offset, n));
    reader.offset = offset + n;
    return { ok: false, keyIndex, code, replayTag: tag, seconds };
  }
  if (tag === undefined) throw new RangeError('a result without a replay tag');
  const commands = readCommands(take(records, offset, commandBytes), n);
  const data = bytes[reader.next];
  if (data === undefined) throw new RangeError('a result without its bytes');
  reader.offset = offset + commandBytes;
  reader.next++;
  return { ok: true, keyIndex, result: resultOf(kind, tag, commands, data), seconds };
}

/** Sphinx's own decoding of the commands (copies); they must fill their bytes exactly. */
function readCommands(encoded: Uint8Array, macLength: number): RoutingCommand[] {
  let commands: RoutingCommand[];
  try {
    commands = decodeHopCommands(encoded, macLength);
  } catch (error) {
    throw new RangeError(`the commands of an outcome do not decode (${(error as Error).message})`);
  }
  if (commandsLength(commands, macLength) !== encoded.length) throw new RangeError('the commands of an outcome do not fill their bytes');
  return commands;
}

/** The result as Sphinx.unwrap builds it from its commands (hopFields). */
function resultOf(kind: UnwrapResult['kind'], replayTag: Uint8Array, commands: RoutingCommand[], data: Uint8Array): UnwrapResult {
  const { nextHop, recipient, surbId, delayMs } = hopFields(commands);
  if (kind === 'forward') {
    if (nextHop === undefined) throw new RangeError('a forward result without a next hop');
    return { kind, nextHop: nextHop.nodeId, delayMs, packet: data, replayTag, commands };
  }
  if (kind === 'surb-reply') {
    if (surbId === undefined) throw new RangeError('a SURB reply without a SURB ID');
    return { kind, recipient, surbId, payload: data, replayTag, commands };
  }
  return { kind, recipient, payload: data, replayTag, commands };
}
