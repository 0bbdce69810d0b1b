import { parseMime, partAt, type MimePart } from './mime.js';
import { textOf, type Token } from './parser.js';
import { imapDateTime, nstr, paren, str, type Chunk } from './response.js';
import { bodyStructure, envelope } from './structure.js';

/**
 * FETCH (RFC 3501 section 6.4.5): the items asked for are parsed first (a bad request is refused
 * whole), then rendered per message. A message's bytes are read and parsed only when an item needs
 * them. BODY[...] without .PEEK (and RFC822, RFC822.TEXT) sets \Seen.
 */
export interface Section {
  readonly path: readonly number[];
  readonly spec: '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';
  readonly fields: readonly string[];
}

export type FetchItem =
  | { readonly kind: 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'UID' | 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT' }
  | { readonly kind: 'section'; readonly peek: boolean; readonly section: Section; readonly partial?: { readonly start: number; readonly length: number } };

export class FetchError extends Error {}

const SIMPLE = new Set(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'UID', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT']);
const MACROS: Record<string, string[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SECTION_ITEM = /^BODY(\.PEEK)?\[([^\]]*)\](?:<(\d{1,10})\.(\d{1,10})>)?$/i;

export function parseFetchItems(arg: Token | undefined): FetchItem[] {
  if (arg === undefined) throw new FetchError('FETCH needs items');
  const tokens = arg.kind === 'list' ? arg.items : [arg];
  if (tokens.length === 0 || tokens.length > 100) throw new FetchError('FETCH needs 1 to 100 items');
  const items: FetchItem[] = [];
  for (const token of tokens) {
    const text = textOf(token);
    if (text === undefined || token.kind !== 'atom') throw new FetchError('bad FETCH item');
    const upper = text.toUpperCase();
    if (arg.kind !== 'list' && MACROS[upper] !== undefined) return MACROS[upper].map((kind) => ({ kind }) as FetchItem);
    if (SIMPLE.has(upper)) {
      items.push({ kind: upper } as FetchItem);
      continue;
    }
    const match = SECTION_ITEM.exec(text);
    if (match === null) throw new FetchError(`unknown FETCH item ${upper.slice(0, 40)}`);
    const partial = match[3] === undefined ? {} : { partial: { start: Number(match[3]), length: Number(match[4]) } };
    items.push({ kind: 'section', peek: match[1] !== undefined, section: parseSection(match[2]), ...partial });
  }
  return items;
}

function parseSection(text: string): Section {
  const m = /^((?:[1-9]\d{0,5}\.)*[1-9]\d{0,5})?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \(([^()]*)\))?$/i.exec(text);
  if (m === null) throw new FetchError('bad section');
  const path = m[1] === undefined ? [] : m[1].split('.').map(Number);
  const spec = (m[2] ?? '').toUpperCase() as Section['spec'];
  if (m[1] !== undefined && m[2] !== undefined && text[m[1].length] !== '.') throw new FetchError('bad section');
  if (spec === 'MIME' && path.length === 0) throw new FetchError('MIME needs a part number');
  const wantsFields = spec === 'HEADER.FIELDS' || spec === 'HEADER.FIELDS.NOT';
  if (wantsFields !== (m[3] !== undefined)) throw new FetchError('HEADER.FIELDS takes a list of field names');
  const fields = (m[3] ?? '').split(/\s+/).filter((f) => f !== '').map((f) => f.replace(/^"|"$/g, '').toUpperCase());
  if (wantsFields && fields.length === 0) throw new FetchError('HEADER.FIELDS takes a list of field names');
  return { path, spec, fields };
}

export function sectionLabel(section: Section): string {
  const parts = [...section.path.map(String), ...(section.spec === '' ? [] : [section.spec])].join('.');
  return section.fields.length > 0 ? `${parts} (${section.fields.join(' ')})` : parts;
}

/** Whether fetching these items marks the message \Seen. */
export function setsSeen(items: readonly FetchItem[]): boolean {
  return items.some((i) => (i.kind === 'section' && !i.peek) || i.kind === 'RFC822' || i.kind === 'RFC822.TEXT');
}

export interface FetchTarget {
  readonly seq: number;
  readonly uid: number;
  readonly flags: readonly string[];
  readonly internalMs: number;
  readonly size: number;
  readonly raw: () => Uint8Array | undefined;
  /** The parsed structure, when the caller keeps it (a partial download fetches one part many times). */
  readonly mime?: () => MimePart;
}

function filterHeader(header: Buffer, fields: readonly string[], not: boolean): Buffer {
  const wanted = new Set(fields.map((f) => f.toLowerCase()));
  const lines = header.toString('utf8').split(/\r?\n/);
  const out: string[] = [];
  let keep = false;
  for (const line of lines) {
    if (line === '') continue;
    if (/^[ \t]/.test(line)) {
      if (keep) out.push(line);
      continue;
    }
    const name = line.slice(0, Math.max(0, line.indexOf(':'))).trim().toLowerCase();
    keep = wanted.has(name) !== not;
    if (keep) out.push(line);
  }
  return Buffer.from(out.map((l) => `${l}\r\n`).join('') + '\r\n', 'utf8');
}

function sectionBytes(root: MimePart, raw: Buffer, section: Section): Buffer {
  const { path, spec } = section;
  if (path.length === 0 && spec === '') return raw;
  const part = path.length === 0 ? root : partAt(root, path);
  if (part === undefined) return Buffer.alloc(0);
  if (spec === '') return part.body;
  if (spec === 'MIME') return part.header;
  const message = path.length === 0 ? part : part.message;
  if (message === undefined) return Buffer.alloc(0);
  if (spec === 'HEADER') return message.header;
  if (spec === 'TEXT') return message.body;
  return filterHeader(message.header, section.fields, spec === 'HEADER.FIELDS.NOT');
}

/** The data items of one message's FETCH response, inside the parentheses. */
export function renderFetch(target: FetchTarget, items: readonly FetchItem[], withUid: boolean): Chunk[][] {
  let raw: Buffer | undefined;
  let mime: MimePart | undefined;
  const bytes = (): Buffer => (raw ??= Buffer.from(target.raw() ?? new Uint8Array(0)));
  const tree = (): MimePart => (mime ??= target.mime?.() ?? parseMime(bytes()));
  const out: Chunk[][] = [];
  if (withUid && !items.some((i) => i.kind === 'UID')) out.push(['UID ', String(target.uid)]);
  for (const item of items) {
    switch (item.kind) {
      case 'UID': out.push(['UID ', String(target.uid)]); break;
      case 'FLAGS': out.push([`FLAGS (${target.flags.join(' ')})`]); break;
      case 'INTERNALDATE': out.push([`INTERNALDATE "${imapDateTime(target.internalMs)}"`]); break;
      case 'RFC822.SIZE': out.push([`RFC822.SIZE ${target.size}`]); break;
      case 'ENVELOPE': out.push(['ENVELOPE ', ...envelope(tree())]); break;
      case 'BODY': out.push(['BODY ', ...bodyStructure(tree(), false)]); break;
      case 'BODYSTRUCTURE': out.push(['BODYSTRUCTURE ', ...bodyStructure(tree(), true)]); break;
      case 'RFC822': out.push(['RFC822 ', ...str(bytes())]); break;
      case 'RFC822.HEADER': out.push(['RFC822.HEADER ', ...str(tree().header)]); break;
      case 'RFC822.TEXT': out.push(['RFC822.TEXT ', ...str(tree().body)]); break;
      case 'section': {
        let data = sectionBytes(tree(), bytes(), item.section);
        let label = `BODY[${sectionLabel(item.section)}]`;
        if (item.partial !== undefined) {
          data = data.subarray(Math.min(item.partial.start, data.length), Math.min(item.partial.start + item.partial.length, data.length));
          label += `<${item.partial.start}>`;
        }
        out.push([`${label} `, ...nstr(data)]);
        break;
      }
    }
  }
  return out;
}

export function fetchLine(seq: number, items: Chunk[][]): Chunk[] {
  return [`* ${seq} FETCH `, ...paren(items), '\r\n'];
}
