/**
 * Writing IMAP data (RFC 3501 section 4): strings as quoted strings when they are short plain
 * ASCII, else as literals; NIL for what is absent; responses as byte chunks, so that a message's
 * bytes are written as they are.
 */
export type Chunk = string | Uint8Array;

const QUOTABLE = /^[\x20-\x7e]*$/;

/** A string: quoted, or a literal when it has line breaks, 8-bit text or is long. */
export function str(value: string | Uint8Array): Chunk[] {
  if (typeof value === 'string' && value.length <= 1000 && QUOTABLE.test(value)) return [`"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`];
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return [`{${bytes.length}}\r\n`, bytes];
}

/** A string or NIL. */
export function nstr(value: string | Uint8Array | undefined | null): Chunk[] {
  return value === undefined || value === null ? ['NIL'] : str(value);
}

/** Chunks joined with single spaces and wrapped in parentheses. */
export function paren(items: readonly Chunk[][]): Chunk[] {
  const out: Chunk[] = ['('];
  items.forEach((item, i) => {
    if (i > 0) out.push(' ');
    out.push(...item);
  });
  out.push(')');
  return out;
}

export function toBuffer(chunks: readonly Chunk[]): Buffer {
  return Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)));
}

/** An IMAP date-time (INTERNALDATE), in UTC. */
export function imapDateTime(ms: number): string {
  const d = new Date(ms);
  const month = MONTHS[d.getUTCMonth()];
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}-${month}-${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Parses an IMAP date (`1-Feb-2026`) to the UTC midnight it names; undefined if it is not one. */
export function parseImapDate(text: string): number | undefined {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  if (m === null) return undefined;
  const month = MONTHS.findIndex((name) => name.toLowerCase() === m[2].toLowerCase());
  if (month < 0) return undefined;
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}

/** Parses an IMAP date-time (`05-Dec-2026 09:00:00 +0100`); undefined if it is not one. */
export function parseImapDateTime(text: string): number | undefined {
  const m = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  if (m === null) return undefined;
  const day = parseImapDate(`${m[1]}-${m[2]}-${m[3]}`);
  if (day === undefined) return undefined;
  const offset = (Number(m[8]) * 60 + Number(m[9])) * 60_000 * (m[7] === '+' ? 1 : -1);
  return day + ((Number(m[4]) * 60 + Number(m[5])) * 60 + Number(m[6])) * 1000 - offset;
}
