import { FolderError, normaliseFlags, type FolderMessage } from '../../mail-folders.js';
import { bad, no, ok, SELECTED, type CommandSpec, type Reply } from './reply.js';
import { FetchError, fetchLine, parseFetchItems, renderFetch, setsSeen } from './fetch.js';
import { parseMime, type MimePart } from './mime.js';
import { textOf, type Command, type Token } from './parser.js';
import { matches, parseSearch, SearchError } from './search.js';
import { formatUidSet, parseSequenceSet } from './sequence.js';
import type { ImapSession } from './session-types.js';

/**
 * Commands on the selected folder (RFC 3501 6.4, with their UID forms): FETCH, STORE, SEARCH,
 * COPY, MOVE (RFC 6851), EXPUNGE and UID EXPUNGE (RFC 4315), CHECK, CLOSE, UNSELECT and IDLE
 * (RFC 2177). COPY and MOVE answer with COPYUID.
 */
type UidHandler = (session: ImapSession, args: readonly Token[], byUid: boolean) => Promise<Reply> | Reply;

function targets(session: ImapSession, arg: Token | undefined, byUid: boolean): { seq: number; message: FolderMessage }[] | undefined {
  const text = textOf(arg);
  const set = text === undefined || arg?.kind !== 'atom' ? undefined : parseSequenceSet(text);
  return set === undefined ? undefined : session.selected!.resolve(set, byUid);
}

/**
 * The bytes and structure of the message fetched last, kept for the next FETCH: a mail program
 * downloading a large attachment asks for it in many partial pieces.
 */
const lastFetched = new WeakMap<ImapSession, { id: number; raw: Buffer; mime?: MimePart }>();

function contentOf(session: ImapSession, messageId: number): { raw: () => Buffer; mime: () => MimePart } {
  const entry = (): { id: number; raw: Buffer; mime?: MimePart } => {
    let cached = lastFetched.get(session);
    if (cached?.id !== messageId) {
      cached = { id: messageId, raw: Buffer.from(session.folders.raw(messageId) ?? new Uint8Array(0)) };
      lastFetched.set(session, cached);
    }
    return cached;
  };
  return { raw: () => entry().raw, mime: () => {
    const cached = entry();
    return (cached.mime ??= parseMime(cached.raw));
  } };
}

function shownFlags(session: ImapSession, message: FolderMessage): string[] {
  return session.selected!.recent.has(message.uid) ? [...message.flags, '\\Recent'] : [...message.flags];
}

async function fetch(session: ImapSession, args: readonly Token[], byUid: boolean): Promise<Reply> {
  const found = targets(session, args[0], byUid);
  if (found === undefined || args.length !== 2) return bad('FETCH takes a sequence set and items');
  let items;
  try {
    items = parseFetchItems(args[1]);
  } catch (error) {
    if (error instanceof FetchError) return bad(error.message);
    throw error;
  }
  const selected = session.selected!;
  const markSeen = setsSeen(items) && !selected.readOnly;
  for (const { seq, message } of found) {
    let current = message;
    let withFlags = items;
    if (markSeen && !message.flags.includes('\\Seen')) {
      current = session.folders.setFlags(selected.folder.id, message.id, [...message.flags, '\\Seen']) ?? message;
      if (!items.some((i) => i.kind === 'FLAGS')) withFlags = [...items, { kind: 'FLAGS' }];
    }
    if (withFlags.some((i) => i.kind === 'FLAGS')) selected.noteFlags(current.uid, current.flags);
    const target = { seq, uid: current.uid, flags: shownFlags(session, current), internalMs: current.internalMs, size: current.size, ...contentOf(session, current.id) };
    await session.send(fetchLine(seq, renderFetch(target, withFlags, byUid)));
  }
  return ok(`${byUid ? 'UID ' : ''}FETCH done`);
}

async function store(session: ImapSession, args: readonly Token[], byUid: boolean): Promise<Reply> {
  const found = targets(session, args[0], byUid);
  const action = textOf(args[1])?.toUpperCase();
  const match = action === undefined ? null : /^([+-]?)FLAGS(\.SILENT)?$/.exec(action);
  if (found === undefined || match === null || args.length < 3) return bad('STORE takes a sequence set, [+-]FLAGS[.SILENT] and flags');
  const flagTokens = args[2].kind === 'list' ? args[2].items : args.slice(2);
  const given = flagTokens.map((t) => (t.kind === 'atom' ? t.value : ''));
  if (given.some((f) => f === '' || f === '\\Recent')) return bad('STORE: bad flag');
  const selected = session.selected!;
  if (selected.readOnly) return no('[READ-ONLY] the folder was opened with EXAMINE');
  let wanted: string[];
  try {
    wanted = normaliseFlags(given);
  } catch (error) {
    if (error instanceof FolderError) return no(error.message);
    throw error;
  }
  for (const { seq, message } of found) {
    const next = match[1] === '+' ? [...message.flags, ...wanted] : match[1] === '-' ? message.flags.filter((f) => !wanted.includes(f)) : wanted;
    const updated = session.folders.setFlags(selected.folder.id, message.id, next) ?? message;
    if (match[2] !== undefined) continue;
    selected.noteFlags(updated.uid, updated.flags);
    const uid = byUid ? ` UID ${updated.uid}` : '';
    await session.send([`* ${seq} FETCH (FLAGS (${shownFlags(session, updated).join(' ')})${uid})\r\n`]);
  }
  return ok(`${byUid ? 'UID ' : ''}STORE done`);
}

async function search(session: ImapSession, args: readonly Token[], byUid: boolean): Promise<Reply> {
  let key;
  try {
    key = parseSearch(args);
  } catch (error) {
    if (error instanceof SearchError) return error.message.startsWith('[BADCHARSET') ? no(error.message) : bad(error.message);
    throw error;
  }
  const selected = session.selected!;
  const all = selected.resolve([[1, Infinity]], false);
  const largest = { seq: selected.count, uid: selected.maxUid };
  const hits: number[] = [];
  for (const { seq, message } of all) {
    const target = { seq, uid: message.uid, flags: message.flags, recent: selected.recent.has(message.uid), internalMs: message.internalMs, size: message.size, raw: () => session.folders.raw(message.id) };
    if (await matches(key, target, largest, {})) hits.push(byUid ? message.uid : seq);
  }
  await session.send([`* SEARCH${hits.map((n) => ` ${n}`).join('')}\r\n`]);
  return ok(`${byUid ? 'UID ' : ''}SEARCH done`);
}

async function copyOrMove(session: ImapSession, args: readonly Token[], byUid: boolean, move: boolean): Promise<Reply> {
  const found = targets(session, args[0], byUid);
  const name = textOf(args[1]);
  const what = move ? 'MOVE' : 'COPY';
  if (found === undefined || name === undefined || args.length !== 2) return bad(`${what} takes a sequence set and a folder`);
  const selected = session.selected!;
  if (move && selected.readOnly) return no('[READ-ONLY] the folder was opened with EXAMINE');
  const destination = session.folders.find(name);
  if (destination === undefined) return no('[TRYCREATE] no such folder');
  if (found.length === 0) return ok(`${what} done: nothing matched`);
  const copies = session.folders.copy(selected.folder.id, found.map((f) => f.message.id), destination.id);
  const code = `[COPYUID ${destination.uidValidity} ${formatUidSet(found.map((f) => f.message.uid))} ${formatUidSet(copies.map((c) => c.uid))}]`;
  if (!move) return ok(`${code} COPY done`);
  session.folders.expunge(selected.folder.id, found.map((f) => f.message.id));
  await session.send([`* OK ${code} moved\r\n`, ...selected.forget(found.map((f) => f.message.uid))]);
  return ok(`${byUid ? 'UID ' : ''}MOVE done`);
}

async function expunge(session: ImapSession, only: ReadonlySet<number> | undefined, silent: boolean): Promise<Reply> {
  const selected = session.selected!;
  if (selected.readOnly) return no('[READ-ONLY] the folder was opened with EXAMINE');
  const doomed = session.folders.messages(selected.folder.id).filter((m) => m.flags.includes('\\Deleted') && (only === undefined || only.has(m.uid)));
  session.folders.expunge(selected.folder.id, doomed.map((m) => m.id));
  const lines = selected.forget(doomed.map((m) => m.uid));
  if (!silent) await session.send(lines);
  return ok('EXPUNGE done');
}

async function idle(session: ImapSession): Promise<Reply> {
  const push = (): void => {
    const updates = session.selected?.update(true) ?? [];
    if (updates.length > 0) void session.send(updates);
  };
  await session.send(['+ idling\r\n']);
  session.idling = push;
  push();
  const line = await session.next();
  session.idling = undefined;
  if (line === undefined) return no('connection closed');
  return line.text.toUpperCase() === 'DONE' ? ok('IDLE done') : bad('IDLE ends with DONE');
}

const uidCommands: Record<string, UidHandler> = {
  FETCH: fetch,
  STORE: store,
  SEARCH: search,
  COPY: (s, a, u) => copyOrMove(s, a, u, false),
  MOVE: (s, a, u) => copyOrMove(s, a, u, true),
  EXPUNGE: (s, a) => {
    const found = targets(s, a[0], true);
    if (found === undefined || a.length !== 1) return bad('UID EXPUNGE takes a UID set');
    return expunge(s, new Set(found.map((f) => f.message.uid)), false);
  },
};

function plain(name: string): (session: ImapSession, command: Command) => Promise<Reply> | Reply {
  return (session, command) => uidCommands[name](session, command.args, false);
}

function deselect(session: ImapSession): void {
  session.selected = undefined;
  session.state = 'authenticated';
}

export const messageCommands: [string, CommandSpec][] = [
  ['FETCH', { states: SELECTED, handler: plain('FETCH') }],
  ['STORE', { states: SELECTED, handler: plain('STORE') }],
  ['SEARCH', { states: SELECTED, handler: plain('SEARCH') }],
  ['COPY', { states: SELECTED, handler: plain('COPY') }],
  ['MOVE', { states: SELECTED, handler: plain('MOVE') }],
  ['UID', { states: SELECTED, handler: (session, command) => {
    const sub = textOf(command.args[0])?.toUpperCase();
    const handler = sub === undefined ? undefined : uidCommands[sub];
    if (handler === undefined) return bad('UID takes FETCH, STORE, SEARCH, COPY, MOVE or EXPUNGE');
    return handler(session, command.args.slice(1), true);
  } }],
  ['EXPUNGE', { states: SELECTED, handler: (session) => expunge(session, undefined, false) }],
  ['CHECK', { states: SELECTED, handler: () => ok('CHECK done') }],
  ['CLOSE', { states: SELECTED, handler: async (session) => {
    if (!session.selected!.readOnly) await expunge(session, undefined, true);
    deselect(session);
    return ok('CLOSE done');
  } }],
  ['UNSELECT', { states: SELECTED, handler: (session) => (deselect(session), ok('UNSELECT done')) }],
  ['IDLE', { states: ['authenticated', 'selected'], handler: idle }],
];
