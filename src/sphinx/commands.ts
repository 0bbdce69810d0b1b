import { SphinxError } from './errors.js';

/**
 * Routing commands, the per-hop instructions inside a Sphinx header (docs/sphinx.md lists the wire
 * format; it is Katzenpost's, so both suites share it):
 *   0x00 null (padding to the end of the hop's slot)
 *   0x01 next hop: node ID (32) | MAC of the next hop's header (suite MAC length)
 *   0x02 recipient: 32-byte recipient (mailbox) ID
 *   0x03 SURB reply: 16-byte SURB ID
 *   0x80 node delay: uint32 big-endian milliseconds
 */
export const NODE_ID_LENGTH = 32;
export const RECIPIENT_ID_LENGTH = 32;
export const SURB_ID_LENGTH = 16;

export const CommandType = {
  null: 0x00,
  nextHop: 0x01,
  recipient: 0x02,
  surbReply: 0x03,
  delay: 0x80,
} as const;

export type NextHopCommand = { type: 'next-hop'; nodeId: Uint8Array; mac: Uint8Array };
export type RecipientCommand = { type: 'recipient'; recipient: Uint8Array };
export type SurbReplyCommand = { type: 'surb-reply'; surbId: Uint8Array };
export type DelayCommand = { type: 'delay'; delayMs: number };
export type RoutingCommand = NextHopCommand | RecipientCommand | SurbReplyCommand | DelayCommand;

/** The commands a sender writes for a hop; the next-hop command is added by packet creation. */
export type HopCommand = RecipientCommand | SurbReplyCommand | DelayCommand;

export function nextHopCommandLength(macLength: number): number {
  return 1 + NODE_ID_LENGTH + macLength;
}

export const RECIPIENT_COMMAND_LENGTH = 1 + RECIPIENT_ID_LENGTH;
export const SURB_REPLY_COMMAND_LENGTH = 1 + SURB_ID_LENGTH;
export const DELAY_COMMAND_LENGTH = 5;
const MAX_DELAY_MS = 0xffffffff;

function fixed(what: string, bytes: Uint8Array, length: number): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new SphinxError('malformed-commands', `${what} must be ${length} bytes`);
  }
  return bytes;
}

export function commandLength(command: RoutingCommand, macLength: number): number {
  if (typeof command !== 'object' || command === null) throw new SphinxError('malformed-commands', 'a routing command must be an object');
  switch (command.type) {
    case 'next-hop': return nextHopCommandLength(macLength);
    case 'recipient': return RECIPIENT_COMMAND_LENGTH;
    case 'surb-reply': return SURB_REPLY_COMMAND_LENGTH;
    case 'delay': return DELAY_COMMAND_LENGTH;
    default: throw new SphinxError('malformed-commands', 'unknown routing command');
  }
}

/** Writes one command at `offset` and returns the offset after it. */
export function writeCommand(out: Uint8Array, offset: number, command: RoutingCommand, macLength: number): number {
  switch (command.type) {
    case 'next-hop':
      out[offset] = CommandType.nextHop;
      out.set(fixed('next hop node ID', command.nodeId, NODE_ID_LENGTH), offset + 1);
      out.set(fixed('next hop MAC', command.mac, macLength), offset + 1 + NODE_ID_LENGTH);
      return offset + nextHopCommandLength(macLength);
    case 'recipient':
      out[offset] = CommandType.recipient;
      out.set(fixed('recipient', command.recipient, RECIPIENT_ID_LENGTH), offset + 1);
      return offset + RECIPIENT_COMMAND_LENGTH;
    case 'surb-reply':
      out[offset] = CommandType.surbReply;
      out.set(fixed('SURB ID', command.surbId, SURB_ID_LENGTH), offset + 1);
      return offset + SURB_REPLY_COMMAND_LENGTH;
    case 'delay': {
      const delay = command.delayMs;
      if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_MS) {
        throw new SphinxError('malformed-commands', 'node delay must be an integer number of ms in 0..2^32-1');
      }
      out[offset] = CommandType.delay;
      new DataView(out.buffer, out.byteOffset).setUint32(offset + 1, delay, false);
      return offset + DELAY_COMMAND_LENGTH;
    }
    default:
      throw new SphinxError('malformed-commands', 'unknown routing command');
  }
}

/** Encodes one command alone (as Katzenpost's command vectors do). */
export function encodeCommand(command: RoutingCommand, macLength: number): Uint8Array {
  const out = new Uint8Array(commandLength(command, macLength));
  writeCommand(out, 0, command, macLength);
  return out;
}

/**
 * Encodes a hop's commands into its fixed slot; the zero fill that remains is the terminal null
 * command. Throws when they do not fit.
 */
export function encodeHopCommands(commands: readonly RoutingCommand[], slotLength: number, macLength: number): Uint8Array {
  const total = commands.reduce((sum, command) => sum + commandLength(command, macLength), 0);
  if (total > slotLength) {
    throw new SphinxError('malformed-commands', `a hop's commands take ${total} bytes, the slot has ${slotLength}`);
  }
  const out = new Uint8Array(slotLength);
  let offset = 0;
  for (const command of commands) offset = writeCommand(out, offset, command, macLength);
  return out;
}

/**
 * Parses a hop's slot. Stops at the first null command; an unknown type or a command running past
 * the slot is 'malformed-commands'. The returned arrays are copies.
 */
export function decodeHopCommands(slot: Uint8Array, macLength: number): RoutingCommand[] {
  const commands: RoutingCommand[] = [];
  const nextHopLength = nextHopCommandLength(macLength);
  let offset = 0;
  while (offset < slot.length) {
    const type = slot[offset];
    if (type === CommandType.null) break;
    const length = type === CommandType.nextHop ? nextHopLength
      : type === CommandType.recipient ? RECIPIENT_COMMAND_LENGTH
      : type === CommandType.surbReply ? SURB_REPLY_COMMAND_LENGTH
      : type === CommandType.delay ? DELAY_COMMAND_LENGTH
      : 0;
    if (length === 0) throw new SphinxError('malformed-commands', `unknown routing command type 0x${type.toString(16)}`);
    if (offset + length > slot.length) throw new SphinxError('malformed-commands', 'routing command truncated');
    const body = offset + 1;
    if (type === CommandType.nextHop) {
      const nodeId = slot.slice(body, body + NODE_ID_LENGTH);
      commands.push({ type: 'next-hop', nodeId, mac: slot.slice(body + NODE_ID_LENGTH, body + NODE_ID_LENGTH + macLength) });
    } else if (type === CommandType.recipient) {
      commands.push({ type: 'recipient', recipient: slot.slice(body, body + RECIPIENT_ID_LENGTH) });
    } else if (type === CommandType.surbReply) {
      commands.push({ type: 'surb-reply', surbId: slot.slice(body, body + SURB_ID_LENGTH) });
    } else {
      // uint32 big-endian, read by hand: a DataView per packet costs more than the four bytes.
      const delayMs = slot[body] * 0x1000000 + ((slot[body + 1] << 16) | (slot[body + 2] << 8) | slot[body + 3]);
      commands.push({ type: 'delay', delayMs });
    }
    offset += length;
  }
  return commands;
}

/** What a hop's commands tell its node (the last command of each type counts). */
export interface HopFields {
  readonly nextHop?: NextHopCommand;
  readonly recipient?: Uint8Array;
  readonly surbId?: Uint8Array;
  readonly delayMs?: number;
}

export function hopFields(commands: readonly RoutingCommand[]): HopFields {
  let nextHop: NextHopCommand | undefined;
  let recipient: Uint8Array | undefined;
  let surbId: Uint8Array | undefined;
  let delayMs: number | undefined;
  for (const command of commands) {
    if (command.type === 'next-hop') nextHop = command;
    else if (command.type === 'recipient') recipient = command.recipient;
    else if (command.type === 'surb-reply') surbId = command.surbId;
    else delayMs = command.delayMs;
  }
  return { nextHop, recipient, surbId, delayMs };
}
