import type { RoutingCommand, UnwrapResult } from '../../sphinx/index.js';
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
 *   n u8 | seconds f64 | tag | then, for an error, its code (n ASCII bytes); for a result,
 *   its n commands (its bytes are the next of the byte arrays)
 *
 * A command is type u8 (0 next hop, 1 recipient, 2 SURB reply, 3 delay) and then: next hop,
 * node ID (32) | MAC length u8 | MAC; recipient, 32 bytes; SURB reply, 16 bytes; delay, u32 ms.
 * Numbers are little-endian. This layout never leaves the node.
 */
const HEAD = 12;
const KINDS = ['error', 'forward', 'deliver', 'surb-reply'] as const;
const NODE_ID = 32;
const RECIPIENT = 32;
const SURB_ID = 16;

function commandLength(command: RoutingCommand): number {
  switch (command.type) {
    case 'next-hop': return 2 + NODE_ID + command.mac.length;
    case 'recipient': return 1 + RECIPIENT;
    case 'surb-reply': return 1 + SURB_ID;
    case 'delay': return 5;
  }
}

function bytesOf(result: UnwrapResult): Uint8Array {
  return result.kind === 'forward' ? result.packet : result.payload;
}

function recordLength(outcome: UnwrapOutcome): number {
  if (!outcome.ok) return HEAD + (outcome.replayTag?.length ?? 0) + outcome.code.length;
  const { result } = outcome;
  let length = HEAD + result.replayTag.length;
  for (const command of result.commands) length += commandLength(command);
  return length;
}

function fixed(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes`);
  return bytes;
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
  out[start] = outcome.ok ? KINDS.indexOf(outcome.result.kind) : 0;
  out[start + 1] = byte(outcome.keyIndex, 'a key index');
  out[start + 2] = byte(tag?.length ?? 0, 'a replay tag length');
  out[start + 3] = byte(outcome.ok ? outcome.result.commands.length : outcome.code.length, 'a command count or error code length');
  view.setFloat64(start + 4, outcome.seconds, true);
  let offset = start + HEAD;
  if (tag !== undefined) {
    out.set(tag, offset);
    offset += tag.length;
  }
  if (!outcome.ok) {
    for (let i = 0; i < outcome.code.length; i++) out[offset + i] = byte(outcome.code.charCodeAt(i), 'an error code character');
    return offset + outcome.code.length;
  }
  for (const command of outcome.result.commands) offset = writeCommand(out, view, offset, command);
  return offset;
}

function writeCommand(out: Uint8Array, view: DataView, offset: number, command: RoutingCommand): number {
  switch (command.type) {
    case 'next-hop':
      out[offset] = 0;
      out.set(fixed(command.nodeId, NODE_ID, 'a next hop'), offset + 1);
      out[offset + 1 + NODE_ID] = byte(command.mac.length, 'a MAC length');
      out.set(command.mac, offset + 2 + NODE_ID);
      return offset + 2 + NODE_ID + command.mac.length;
    case 'recipient':
      out[offset] = 1;
      out.set(fixed(command.recipient, RECIPIENT, 'a recipient'), offset + 1);
      return offset + 1 + RECIPIENT;
    case 'surb-reply':
      out[offset] = 2;
      out.set(fixed(command.surbId, SURB_ID, 'a SURB ID'), offset + 1);
      return offset + 1 + SURB_ID;
    case 'delay':
      out[offset] = 3;
      view.setUint32(offset + 1, command.delayMs, true);
      return offset + 5;
  }
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
  const seconds = view.getFloat64(reader.offset + 4, true);
  let offset = reader.offset + HEAD;
  const tag = tagLength === 0 ? undefined : take(records, offset, tagLength).slice();
  offset += tagLength;
  if (kind === 'error') {
    const code = String.fromCharCode(...take(records, offset, n));
    reader.offset = offset + n;
    return { ok: false, keyIndex, code, replayTag: tag, seconds };
  }
  if (tag === undefined) throw new RangeError('a result without a replay tag');
  const commands: RoutingCommand[] = [];
  for (let i = 0; i < n; i++) offset = readCommand(records, view, offset, commands);
  const data = bytes[reader.next];
  if (data === undefined) throw new RangeError('a result without its bytes');
  reader.offset = offset;
  reader.next++;
  return { ok: true, keyIndex, result: resultOf(kind, tag, commands, data), seconds };
}

function readCommand(bytes: Uint8Array, view: DataView, offset: number, commands: RoutingCommand[]): number {
  const type = take(bytes, offset, 1)[0];
  const body = offset + 1;
  switch (type) {
    case 0: {
      const nodeId = take(bytes, body, NODE_ID).slice();
      const macLength = take(bytes, body + NODE_ID, 1)[0];
      commands.push({ type: 'next-hop', nodeId, mac: take(bytes, body + NODE_ID + 1, macLength).slice() });
      return body + NODE_ID + 1 + macLength;
    }
    case 1:
      commands.push({ type: 'recipient', recipient: take(bytes, body, RECIPIENT).slice() });
      return body + RECIPIENT;
    case 2:
      commands.push({ type: 'surb-reply', surbId: take(bytes, body, SURB_ID).slice() });
      return body + SURB_ID;
    case 3:
      take(bytes, body, 4);
      commands.push({ type: 'delay', delayMs: view.getUint32(body, true) });
      return body + 4;
    default:
      throw new RangeError(`unknown command type ${type}`);
  }
}

/** The result as Sphinx.unwrap builds it from its commands (the last command of a type counts). */
function resultOf(kind: UnwrapResult['kind'], replayTag: Uint8Array, commands: RoutingCommand[], data: Uint8Array): UnwrapResult {
  let nextHop: Uint8Array | undefined;
  let recipient: Uint8Array | undefined;
  let surbId: Uint8Array | undefined;
  let delayMs: number | undefined;
  for (const command of commands) {
    if (command.type === 'next-hop') nextHop = command.nodeId;
    else if (command.type === 'recipient') recipient = command.recipient;
    else if (command.type === 'surb-reply') surbId = command.surbId;
    else delayMs = command.delayMs;
  }
  if (kind === 'forward') {
    if (nextHop === undefined) throw new RangeError('a forward result without a next hop');
    return { kind, nextHop, delayMs, packet: data, replayTag, commands };
  }
  if (kind === 'surb-reply') {
    if (surbId === undefined) throw new RangeError('a SURB reply without a SURB ID');
    return { kind, recipient, surbId, payload: data, replayTag, commands };
  }
  return { kind, recipient, payload: data, replayTag, commands };
}
