import type { RoutingCommand, UnwrapResult } from '../../sphinx/index.js';
import type { UnwrapOutcome } from '../runtime/hop.js';

/**
 * A batch's unwrap outcomes as one buffer (docs/nodes.md, "Unwrap workers"): the worker encodes
 * them into a buffer the main thread lent it and moves it back; the main thread copies each record
 * out once and lends the buffer again, so no outcome is cloned field by field and no buffer is
 * allocated per batch. Records follow one another, one per packet, in order:
 *
 *   kind u8 (0 error, 1 forward, 2 deliver, 3 surb-reply) | key index u8 | tag length u8 |
 *   n u8 | seconds f64 | bytes length u32 | tag | then, for an error, its code (n ASCII bytes);
 *   for a result, n commands and the bytes (a forward packet, or a payload)
 *
 * A command is type u8 (0 next hop, 1 recipient, 2 SURB reply, 3 delay) and then: next hop,
 * node ID (32) | MAC length u8 | MAC; recipient, 32 bytes; SURB reply, 16 bytes; delay, u32 ms.
 * Numbers are little-endian. This layout never leaves the node.
 */
const HEAD = 16;
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
  let length = HEAD + result.replayTag.length + bytesOf(result).length;
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

/** Where encodeOutcomes wrote: `length` bytes at the start of `buffer`. */
export interface EncodedOutcomes {
  readonly buffer: ArrayBuffer;
  readonly length: number;
}

/**
 * The outcomes of one batch, in order, written at the start of `into` when they fit there (the
 * buffer is reused batch after batch), or else of a new buffer of exactly their size.
 */
export function encodeOutcomes(outcomes: readonly UnwrapOutcome[], into?: ArrayBuffer): EncodedOutcomes {
  let total = 0;
  for (const outcome of outcomes) total += recordLength(outcome);
  const buffer = into !== undefined && into.byteLength >= total ? into : new ArrayBuffer(total);
  const out = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let offset = 0;
  for (const outcome of outcomes) offset = writeRecord(out, view, offset, outcome);
  return { buffer, length: total };
}

function writeRecord(out: Uint8Array, view: DataView, start: number, outcome: UnwrapOutcome): number {
  const tag = outcome.ok ? outcome.result.replayTag : outcome.replayTag;
  const bytes = outcome.ok ? bytesOf(outcome.result) : undefined;
  out[start] = outcome.ok ? KINDS.indexOf(outcome.result.kind) : 0;
  out[start + 1] = byte(outcome.keyIndex, 'a key index');
  out[start + 2] = byte(tag?.length ?? 0, 'a replay tag length');
  out[start + 3] = byte(outcome.ok ? outcome.result.commands.length : outcome.code.length, 'a command count or error code length');
  view.setFloat64(start + 4, outcome.seconds, true);
  view.setUint32(start + 12, bytes?.length ?? 0, true);
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
  out.set(bytes as Uint8Array, offset);
  return offset + (bytes as Uint8Array).length;
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
 * Reads `count` outcomes from `bytes`, which must hold exactly their records. Each record is
 * copied once and its outcome's byte arrays are views of that copy, so `bytes` can be written
 * again at once. Bytes that are not such records: RangeError.
 */
export function decodeOutcomes(bytes: Uint8Array, count: number): UnwrapOutcome[] {
  const outcomes: UnwrapOutcome[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const end = offset + recordLengthAt(bytes, offset);
    const record = take(bytes, offset, end - offset).slice();
    if (readRecord(record, new DataView(record.buffer), outcomes) !== record.length) throw new RangeError('an outcome record does not end where its lengths say');
    offset = end;
  }
  if (offset !== bytes.length) throw new RangeError('bytes are left after the outcomes');
  return outcomes;
}

/** A record's length, from its head and its commands' types. */
function recordLengthAt(bytes: Uint8Array, start: number): number {
  const head = take(bytes, start, HEAD);
  const n = head[3];
  let offset = start + HEAD + head[2];
  if (head[0] === 0) return offset + n - start;
  for (let i = 0; i < n; i++) {
    const type = take(bytes, offset, 1)[0];
    if (type === 0) offset += 2 + NODE_ID + take(bytes, offset + 1 + NODE_ID, 1)[0];
    else if (type === 1) offset += 1 + RECIPIENT;
    else if (type === 2) offset += 1 + SURB_ID;
    else if (type === 3) offset += 5;
    else throw new RangeError(`unknown command type ${type}`);
  }
  return offset + (head[12] | (head[13] << 8) | (head[14] << 16)) + head[15] * 0x1000000 - start;
}

function take(bytes: Uint8Array, offset: number, length: number): Uint8Array {
  if (offset + length > bytes.length) throw new RangeError('an outcome record is cut short');
  return bytes.subarray(offset, offset + length);
}

/** Reads the record that `bytes` starts with into `outcomes`; returns the offset after it. */
function readRecord(bytes: Uint8Array, view: DataView, outcomes: UnwrapOutcome[]): number {
  const kind = KINDS[bytes[0]];
  if (kind === undefined) throw new RangeError(`unknown outcome kind ${bytes[0]}`);
  const keyIndex = bytes[1];
  const tagLength = bytes[2];
  const n = bytes[3];
  const seconds = view.getFloat64(4, true);
  const length = view.getUint32(12, true);
  let offset = HEAD;
  const tag = tagLength === 0 ? undefined : take(bytes, offset, tagLength);
  offset += tagLength;
  if (kind === 'error') {
    const code = String.fromCharCode(...take(bytes, offset, n));
    outcomes.push({ ok: false, keyIndex, code, replayTag: tag, seconds });
    return offset + n;
  }
  if (tag === undefined) throw new RangeError('a result without a replay tag');
  const commands: RoutingCommand[] = [];
  for (let i = 0; i < n; i++) offset = readCommand(bytes, view, offset, commands);
  const data = take(bytes, offset, length);
  outcomes.push({ ok: true, keyIndex, result: resultOf(kind, tag, commands, data), seconds });
  return offset + length;
}

function readCommand(bytes: Uint8Array, view: DataView, offset: number, commands: RoutingCommand[]): number {
  const type = take(bytes, offset, 1)[0];
  const body = offset + 1;
  switch (type) {
    case 0: {
      const nodeId = take(bytes, body, NODE_ID);
      const macLength = take(bytes, body + NODE_ID, 1)[0];
      commands.push({ type: 'next-hop', nodeId, mac: take(bytes, body + NODE_ID + 1, macLength) });
      return body + NODE_ID + 1 + macLength;
    }
    case 1:
      commands.push({ type: 'recipient', recipient: take(bytes, body, RECIPIENT) });
      return body + RECIPIENT;
    case 2:
      commands.push({ type: 'surb-reply', surbId: take(bytes, body, SURB_ID) });
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
