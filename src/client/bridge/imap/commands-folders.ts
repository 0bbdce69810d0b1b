import { FOLDER_DELIMITER, FolderError, type FolderInfo } from '../../mail-folders.js';
import { AUTHENTICATED, bad, no, ok, type CommandSpec, type Reply } from './reply.js';
import { textOf, type Command } from './parser.js';
import { parseImapDateTime, str, toBuffer } from './response.js';
import { SelectedFolder } from './selected.js';
import type { ImapSession } from './session-types.js';

/**
 * Folder commands (RFC 3501 6.3): SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
 * LIST, LSUB, STATUS and APPEND (with RFC 4315's APPENDUID). The standard folders carry their
 * RFC 6154 attributes in LIST, so a mail program finds Sent, Drafts, Trash and Archive by itself.
 */
const SPECIAL_USE: Record<string, string> = { Sent: '\\Sent', Drafts: '\\Drafts', Trash: '\\Trash', Archive: '\\Archive' };
const FLAGS = '\\Answered \\Flagged \\Deleted \\Seen \\Draft';

function refusal(error: unknown): Reply {
  if (!(error instanceof FolderError)) throw error;
  const code = { exists: '[ALREADYEXISTS] ', unknown: '[NONEXISTENT] ', cannot: '[CANNOT] ', 'bad-name': '[CANNOT] ', limit: '[LIMIT] ' }[error.code];
  return no(`${code}${error.message}`);
}

function folderArg(command: Command, index: number): string | undefined {
  return textOf(command.args[index]);
}

async function select(session: ImapSession, command: Command, readOnly: boolean): Promise<Reply> {
  session.selected = undefined;
  session.state = 'authenticated';
  const name = folderArg(command, 0);
  if (name === undefined || command.args.length !== 1) return bad(`${command.name} takes a folder name`);
  const folder = session.folders.find(name);
  if (folder === undefined) return no('[NONEXISTENT] no such folder');
  const selected = new SelectedFolder(session.folders, folder, readOnly);
  const messages = session.folders.messages(folder.id);
  const firstUnseen = messages.findIndex((m) => !m.flags.includes('\\Seen'));
  await session.send([
    `* FLAGS (${FLAGS})\r\n`,
    `* OK [PERMANENTFLAGS (${readOnly ? '' : `${FLAGS} \\*`})] flags\r\n`,
    `* ${selected.count} EXISTS\r\n`,
    '* 0 RECENT\r\n',
    ...(firstUnseen >= 0 ? [`* OK [UNSEEN ${firstUnseen + 1}] first unseen\r\n`] : []),
    `* OK [UIDVALIDITY ${folder.uidValidity}] UIDs valid\r\n`,
    `* OK [UIDNEXT ${folder.uidNext}] next UID\r\n`,
  ]);
  session.selected = selected;
  session.state = 'selected';
  return ok(`[${readOnly ? 'READ-ONLY' : 'READ-WRITE'}] ${command.name} done`);
}

function attributes(folder: FolderInfo, all: readonly FolderInfo[]): string {
  const children = all.some((f) => f.name.startsWith(folder.name + FOLDER_DELIMITER));
  return [children ? '\\HasChildren' : '\\HasNoChildren', ...(SPECIAL_USE[folder.name] === undefined ? [] : [SPECIAL_USE[folder.name]])].join(' ');
}

/** A LIST pattern as a regular expression: `*` matches anything, `%` anything but the delimiter. */
function patternOf(reference: string, pattern: string): RegExp {
  const full = pattern.startsWith(FOLDER_DELIMITER) ? pattern.slice(1) : reference + pattern;
  const escaped = full.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/%/g, `[^${FOLDER_DELIMITER}]*`);
  return new RegExp(`^${escaped}$`, /^inbox$/i.test(full) ? 'i' : '');
}

async function list(session: ImapSession, command: Command, subscribedOnly: boolean): Promise<Reply> {
  const reference = folderArg(command, 0);
  const pattern = folderArg(command, 1);
  if (reference === undefined || pattern === undefined || command.args.length !== 2) return bad(`${command.name} takes a reference and a pattern`);
  const kind = subscribedOnly ? 'LSUB' : 'LIST';
  if (pattern === '') {
    await session.send([`* ${kind} (\\Noselect) "${FOLDER_DELIMITER}" ""\r\n`]);
    return ok(`${kind} done`);
  }
  const regex = patternOf(reference, pattern);
  const all = session.folders.list();
  const lines = all
    .filter((f) => regex.test(f.name) && (!subscribedOnly || f.subscribed))
    .map((f) => toBuffer([`* ${kind} (${attributes(f, all)}) "${FOLDER_DELIMITER}" `, ...str(f.name), '\r\n']));
  await session.send(lines);
  return ok(`${kind} done`);
}

async function status(session: ImapSession, command: Command): Promise<Reply> {
  const name = folderArg(command, 0);
  const items = command.args[1];
  if (name === undefined || items?.kind !== 'list') return bad('STATUS takes a folder and a list of items');
  const folder = session.folders.find(name);
  if (folder === undefined) return no('[NONEXISTENT] no such folder');
  const messages = session.folders.messages(folder.id);
  const values: string[] = [];
  for (const item of items.items) {
    const key = textOf(item)?.toUpperCase();
    if (key === 'MESSAGES') values.push(`MESSAGES ${messages.length}`);
    else if (key === 'RECENT') values.push('RECENT 0');
    else if (key === 'UIDNEXT') values.push(`UIDNEXT ${folder.uidNext}`);
    else if (key === 'UIDVALIDITY') values.push(`UIDVALIDITY ${folder.uidValidity}`);
    else if (key === 'UNSEEN') values.push(`UNSEEN ${messages.filter((m) => !m.flags.includes('\\Seen')).length}`);
    else return bad(`unknown STATUS item ${String(key).slice(0, 40)}`);
  }
  await session.send(['* STATUS ', ...str(folder.name), ` (${values.join(' ')})\r\n`]);
  return ok('STATUS done');
}

function append(session: ImapSession, command: Command): Reply {
  const name = folderArg(command, 0);
  const args = command.args.slice(1);
  const message = args[args.length - 1];
  if (name === undefined || message?.kind !== 'string') return bad('APPEND takes a folder, optional flags and date, and the message');
  let flags: string[] = [];
  let internalMs = Date.now();
  for (const arg of args.slice(0, -1)) {
    if (arg.kind === 'list') flags = arg.items.map((f) => textOf(f) ?? '');
    else if (arg.kind === 'string' && parseImapDateTime(arg.value) !== undefined) internalMs = parseImapDateTime(arg.value)!;
    else return bad('APPEND: bad flags or date');
  }
  if (flags.some((f) => f === '\\Recent' || f === '')) return bad('APPEND: bad flag');
  const bytes = message.bytes ?? Buffer.from(message.value, 'utf8');
  if (bytes.length === 0) return no('the message is empty');
  const folder = session.folders.find(name);
  if (folder === undefined) return no('[TRYCREATE] no such folder');
  const filed = folder.name === 'Sent' ? filedCopy(session, folder.id, bytes, flags) : undefined;
  if (filed !== undefined) return ok(`[APPENDUID ${folder.uidValidity} ${filed}] APPEND done (the mail is already in Sent)`);
  const added = session.folders.append(folder.id, bytes, flags, internalMs);
  return ok(`[APPENDUID ${folder.uidValidity} ${added.uid}] APPEND done`);
}

/**
 * The UID in Sent of the mail the agent filed for a message the mail program just submitted and now
 * appends to Sent (bridge/submitted-copies.ts), its flags added; undefined for any other message.
 */
function filedCopy(session: ImapSession, folderId: number, raw: Uint8Array, flags: readonly string[]): number | undefined {
  const mailId = session.options.submitted?.take(raw);
  if (mailId === undefined) return undefined;
  const message = session.folders.messages(folderId).find((m) => m.mailId === mailId);
  if (message === undefined) return undefined;
  session.folders.setFlags(folderId, message.id, [...new Set([...message.flags, ...flags])]);
  return message.uid;
}

function mutate(work: (session: ImapSession, command: Command) => void, what: string): (session: ImapSession, command: Command) => Reply {
  return (session, command) => {
    try {
      work(session, command);
      return ok(`${what} done`);
    } catch (error) {
      return refusal(error);
    }
  };
}

function needName(command: Command, index: number): string {
  const name = folderArg(command, index);
  if (name === undefined) throw new FolderError('bad-name', `${command.name} takes a folder name`);
  return name;
}

export const folderCommands: [string, CommandSpec][] = [
  ['SELECT', { states: AUTHENTICATED, handler: (s, c) => select(s, c, false) }],
  ['EXAMINE', { states: AUTHENTICATED, handler: (s, c) => select(s, c, true) }],
  ['CREATE', { states: AUTHENTICATED, handler: mutate((s, c) => void s.folders.create(needName(c, 0).replace(/\/$/, '')), 'CREATE') }],
  ['DELETE', { states: AUTHENTICATED, handler: mutate((s, c) => {
    const name = needName(c, 0);
    if (s.selected !== undefined && s.folders.find(name)?.id === s.selected.folder.id) {
      s.selected = undefined;
      s.state = 'authenticated';
    }
    s.folders.remove(name);
  }, 'DELETE') }],
  ['RENAME', { states: AUTHENTICATED, handler: mutate((s, c) => s.folders.rename(needName(c, 0), needName(c, 1)), 'RENAME') }],
  ['SUBSCRIBE', { states: AUTHENTICATED, handler: mutate((s, c) => s.folders.setSubscribed(needName(c, 0), true), 'SUBSCRIBE') }],
  ['UNSUBSCRIBE', { states: AUTHENTICATED, handler: mutate((s, c) => s.folders.setSubscribed(needName(c, 0), false), 'UNSUBSCRIBE') }],
  ['LIST', { states: AUTHENTICATED, handler: (s, c) => list(s, c, false) }],
  ['LSUB', { states: AUTHENTICATED, handler: (s, c) => list(s, c, true) }],
  ['STATUS', { states: AUTHENTICATED, handler: status }],
  ['APPEND', { states: AUTHENTICATED, handler: (s, c) => {
    try {
      return append(s, c);
    } catch (error) {
      return refusal(error);
    }
  } }],
];
