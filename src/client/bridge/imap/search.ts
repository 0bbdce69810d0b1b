import { decodeEncodedWords } from '../../mail-format.js';
import { parseMime, type MimePart } from './mime.js';
import { textOf, type Token } from './parser.js';
import { parseImapDate } from './response.js';
import { inSet, parseSequenceSet, type SequenceSet } from './sequence.js';

/**
 * SEARCH (RFC 3501 section 6.4.4): the keys are parsed into a tree first (a malformed query is
 * refused before any message is read), then each message is tested. Header and body keys match
 * case-insensitively against the decoded text (encoded words, transfer encodings and charsets undone;
 * only text parts count as body, so attachments are never decoded);
 * dates compare by day in UTC, BEFORE/ON/SINCE on the internal date, SENT* on the Date header.
 */
export type SearchKey =
  | { readonly kind: 'all' }
  | { readonly kind: 'flag'; readonly flag: string; readonly set: boolean }
  | { readonly kind: 'new' }
  | { readonly kind: 'header'; readonly field: string; readonly value: string }
  | { readonly kind: 'body' | 'text'; readonly value: string }
  | { readonly kind: 'date'; readonly which: 'internal' | 'sent'; readonly op: 'before' | 'on' | 'since'; readonly dayMs: number }
  | { readonly kind: 'size'; readonly op: 'larger' | 'smaller'; readonly bytes: number }
  | { readonly kind: 'seq' | 'uid'; readonly set: SequenceSet }
  | { readonly kind: 'not'; readonly key: SearchKey }
  | { readonly kind: 'or'; readonly a: SearchKey; readonly b: SearchKey }
  | { readonly kind: 'and'; readonly keys: readonly SearchKey[] };

export class SearchError extends Error {}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true], DELETED: ['\\Deleted', true], DRAFT: ['\\Draft', true], FLAGGED: ['\\Flagged', true], SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false], UNDELETED: ['\\Deleted', false], UNDRAFT: ['\\Draft', false], UNFLAGGED: ['\\Flagged', false], UNSEEN: ['\\Seen', false],
  OLD: ['\\Recent', false],
};
const HEADER_KEYS = new Set(['BCC', 'CC', 'FROM', 'SUBJECT', 'TO']);
const DATE_KEYS: Record<string, ['internal' | 'sent', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'], ON: ['internal', 'on'], SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'], SENTON: ['sent', 'on'], SENTSINCE: ['sent', 'since'],
};

/** Parses the SEARCH arguments (after an optional CHARSET, which must be UTF-8 or US-ASCII). */
export function parseSearch(args: readonly Token[]): SearchKey {
  let rest = [...args];
  if (textOf(rest[0])?.toUpperCase() === 'CHARSET') {
    const charset = textOf(rest[1])?.toUpperCase();
    if (charset !== 'UTF-8' && charset !== 'US-ASCII') throw new SearchError('[BADCHARSET (UTF-8 US-ASCII)] unsupported charset');
    rest = rest.slice(2);
  }
  const keys: SearchKey[] = [];
  const queue = { tokens: rest, pos: 0 };
  while (queue.pos < queue.tokens.length) keys.push(parseKey(queue, 0));
  if (keys.length === 0) throw new SearchError('SEARCH needs a key');
  return keys.length === 1 ? keys[0] : { kind: 'and', keys };
}

function parseKey(q: { tokens: readonly Token[]; pos: number }, depth: number): SearchKey {
  if (depth > 32) throw new SearchError('search keys nested too deep');
  const token = q.tokens[q.pos++];
  if (token === undefined) throw new SearchError('a search key is missing');
  if (token.kind === 'list') {
    const inner = { tokens: token.items, pos: 0 };
    const keys: SearchKey[] = [];
    while (inner.pos < inner.tokens.length) keys.push(parseKey(inner, depth + 1));
    if (keys.length === 0) throw new SearchError('empty search list');
    return { kind: 'and', keys };
  }
  const word = textOf(token);
  if (word === undefined) throw new SearchError('bad search key');
  const name = word.toUpperCase();
  const arg = (): string => {
    const value = textOf(q.tokens[q.pos++]);
    if (value === undefined) throw new SearchError(`${name} needs an argument`);
    return value;
  };
  if (name === 'ALL') return { kind: 'all' };
  if (name === 'NEW' || name === 'RECENT') return name === 'NEW' ? { kind: 'new' } : { kind: 'flag', flag: '\\Recent', set: true };
  if (FLAG_KEYS[name] !== undefined) return { kind: 'flag', flag: FLAG_KEYS[name][0], set: FLAG_KEYS[name][1] };
  if (name === 'KEYWORD' || name === 'UNKEYWORD') return { kind: 'flag', flag: arg(), set: name === 'KEYWORD' };
  if (HEADER_KEYS.has(name)) return { kind: 'header', field: name.toLowerCase(), value: arg() };
  if (name === 'HEADER') return { kind: 'header', field: arg().toLowerCase(), value: arg() };
  if (name === 'BODY' || name === 'TEXT') return { kind: name === 'BODY' ? 'body' : 'text', value: arg() };
  if (DATE_KEYS[name] !== undefined) {
    const dayMs = parseImapDate(arg());
    if (dayMs === undefined) throw new SearchError(`${name} needs a date such as 1-Dec-2026`);
    return { kind: 'date', which: DATE_KEYS[name][0], op: DATE_KEYS[name][1], dayMs };
  }
  if (name === 'LARGER' || name === 'SMALLER') {
    const n = arg();
    if (!/^\d{1,12}$/.test(n)) throw new SearchError(`${name} needs a number`);
    return { kind: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', bytes: Number(n) };
  }
  if (name === 'NOT') return { kind: 'not', key: parseKey(q, depth + 1) };
  if (name === 'OR') return { kind: 'or', a: parseKey(q, depth + 1), b: parseKey(q, depth + 1) };
  const set = parseSequenceSet(name === 'UID' ? arg() : word);
  if (set !== undefined) return { kind: name === 'UID' ? 'uid' : 'seq', set };
  throw new SearchError(`unknown search key ${name.slice(0, 40)}`);
}

export interface SearchTarget {
  readonly seq: number;
  readonly uid: number;
  readonly flags: readonly string[];
  readonly recent: boolean;
  readonly internalMs: number;
  readonly size: number;
  readonly raw: () => Uint8Array | undefined;
}

interface Content { readonly headers: Map<string, string>; readonly body: string; readonly sentMs?: number }

/** The decoded text of a message for header and body keys (read once per search, when needed). */
function contentOf(raw: Uint8Array): Content {
  const root = parseMime(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  const headers = new Map<string, string>();
  for (const [name, values] of root.fields) headers.set(name, values.map((v) => `${v}\n${decodeEncodedWords(v)}`).join('\n'));
  const texts: string[] = [];
  const walk = (part: MimePart, depth: number): void => {
    if (depth > 20) return;
    if (part.type === 'text') texts.push(decodeBody(part));
    for (const child of part.children) walk(child, depth + 1);
  };
  walk(root, 0);
  const date = root.fields.get('date')?.[0];
  const sentMs = date === undefined ? NaN : Date.parse(date);
  return { headers, body: texts.join('\n'), ...(Number.isNaN(sentMs) ? {} : { sentMs }) };
}

/** A text part's content: transfer encoding undone, then its charset (UTF-8 when unknown). */
function decodeBody(part: MimePart): string {
  const encoding = (part.fields.get('content-transfer-encoding')?.[0] ?? '').toLowerCase();
  let bytes: Buffer = part.body;
  if (encoding === 'base64') bytes = Buffer.from(part.body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
  else if (encoding === 'quoted-printable') {
    const text = part.body.toString('latin1').replace(/=\r?\n/g, '');
    bytes = Buffer.from(text.replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  }
  const charset = part.params.find(([k]) => k === 'charset')?.[1] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return new TextDecoder().decode(bytes);
  }
}

function dayOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

export async function matches(key: SearchKey, target: SearchTarget, largest: { seq: number; uid: number }, cache: { content?: Content | null }): Promise<boolean> {
  const content = async (): Promise<Content | null> => {
    if (cache.content === undefined) {
      const raw = target.raw();
      cache.content = raw === undefined ? null : contentOf(raw);
    }
    return cache.content;
  };
  const includes = (hay: string | undefined, needle: string): boolean => hay !== undefined && hay.toLowerCase().includes(needle.toLowerCase());
  switch (key.kind) {
    case 'all': return true;
    case 'new': return target.recent && !target.flags.includes('\\Seen');
    case 'flag': {
      const has = key.flag === '\\Recent' ? target.recent : target.flags.some((f) => f.toLowerCase() === key.flag.toLowerCase());
      return has === key.set;
    }
    case 'header': return includes((await content())?.headers.get(key.field), key.value);
    case 'body': return includes((await content())?.body, key.value);
    case 'text': {
      const c = await content();
      return c !== null && (includes(c.body, key.value) || [...c.headers.values()].some((v) => includes(v, key.value)));
    }
    case 'date': {
      const ms = key.which === 'internal' ? target.internalMs : (await content())?.sentMs;
      if (ms === undefined) return false;
      const day = dayOf(ms);
      return key.op === 'before' ? day < key.dayMs : key.op === 'on' ? day === key.dayMs : day >= key.dayMs;
    }
    case 'size': return key.op === 'larger' ? target.size > key.bytes : target.size < key.bytes;
    case 'seq': return inSet(key.set, target.seq, largest.seq);
    case 'uid': return inSet(key.set, target.uid, largest.uid);
    case 'not': return !(await matches(key.key, target, largest, cache));
    case 'or': return (await matches(key.a, target, largest, cache)) || (await matches(key.b, target, largest, cache));
    case 'and': {
      for (const k of key.keys) if (!(await matches(k, target, largest, cache))) return false;
      return true;
    }
  }
}
