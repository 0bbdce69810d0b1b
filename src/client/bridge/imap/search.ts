import { simpleParser } from 'mailparser';
import { headerFields } from './mime.js';
import { textOf, type Token } from './parser.js';
import { parseImapDate } from './response.js';
import { inSet, parseSequenceSet, type SequenceSet } from './sequence.js';

/**
 * SEARCH (RFC 3501 section 6.4.4): the keys are parsed into a tree first (a malformed query is
 * refused before any message is read), then each message is tested. Header and body keys match
 * case-insensitively against the decoded text (mailparser decodes encoded words and charsets);
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

/** The decoded text of a message for header and body keys (parsed once per search, when needed). */
async function contentOf(raw: Uint8Array): Promise<Content> {
  const parsed = await simpleParser(Buffer.from(raw), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
  const headers = new Map<string, string>();
  for (const [name, value] of parsed.headers) {
    const text = typeof value === 'string' ? value : value instanceof Date ? value.toUTCString() : (value as { text?: string; value?: unknown }).text ?? JSON.stringify(value);
    headers.set(name, text);
  }
  // The raw forms too, so a search for an address or an undecoded word finds it.
  const end = Buffer.from(raw).indexOf('\r\n\r\n');
  for (const [name, values] of headerFields(Buffer.from(raw).subarray(0, end < 0 ? raw.length : end))) {
    headers.set(name, `${headers.get(name) ?? ''}\n${values.join('\n')}`);
  }
  const body = `${parsed.text ?? ''}\n${typeof parsed.html === 'string' ? parsed.html : ''}`;
  return { headers, body, ...(parsed.date === undefined ? {} : { sentMs: parsed.date.getTime() }) };
}

function dayOf(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

export async function matches(key: SearchKey, target: SearchTarget, largest: { seq: number; uid: number }, cache: { content?: Content | null }): Promise<boolean> {
  const content = async (): Promise<Content | null> => {
    if (cache.content === undefined) {
      const raw = target.raw();
      cache.content = raw === undefined ? null : await contentOf(raw);
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
