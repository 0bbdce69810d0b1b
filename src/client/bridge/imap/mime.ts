/**
 * A message's MIME structure as IMAP shows it (RFC 3501 section 6.4.5 and 7.4.2): each part's
 * header and body bytes as they are in the message, its content type, parameters, disposition and
 * encoding, and its children (multipart) or the message it holds (message/rfc822). Parsing is
 * forgiving (a mail program must be able to read even a damaged message) and bounded in depth.
 */
export interface MimePart {
  /** The header bytes with the empty line that ends them. */
  readonly header: Buffer;
  readonly body: Buffer;
  readonly fields: ReadonlyMap<string, readonly string[]>;
  readonly type: string;
  readonly subtype: string;
  readonly params: ReadonlyArray<readonly [string, string]>;
  readonly children: readonly MimePart[];
  /** The message inside a message/rfc822 part. */
  readonly message?: MimePart;
}

const MAX_DEPTH = 20;
const MAX_PARTS = 500;

export function parseMime(raw: Buffer): MimePart {
  return parsePart(raw, 0, { parts: 0 }, undefined);
}

function headerEnd(raw: Buffer): { end: number; bodyStart: number } {
  if (raw.subarray(0, 2).toString('latin1') === '\r\n') return { end: 2, bodyStart: 2 };
  if (raw[0] === 0x0a) return { end: 1, bodyStart: 1 };
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf <= lf)) return { end: crlf + 4, bodyStart: crlf + 4 };
  if (lf >= 0) return { end: lf + 2, bodyStart: lf + 2 };
  return { end: raw.length, bodyStart: raw.length };
}

/** Header fields by lower-case name, values unfolded (as UTF-8 text). */
export function headerFields(header: Buffer): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  const lines = header.toString('utf8').split(/\r?\n/);
  let current: { name: string; value: string } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const list = fields.get(current.name) ?? [];
    list.push(current.value.trim());
    fields.set(current.name, list);
    current = undefined;
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current !== undefined) current.value += ` ${line.trim()}`;
    else {
      flush();
      const colon = line.indexOf(':');
      if (colon > 0) current = { name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1) };
    }
  }
  flush();
  return fields;
}

/** A structured header value (`text/plain; charset="utf-8"`): the value and its parameters. */
export function parseParams(value: string): { value: string; params: [string, string][] } {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of value) {
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  const params: [string, string][] = [];
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params.push([part.slice(0, eq).trim().toLowerCase(), v]);
  }
  return { value: parts[0].trim().toLowerCase(), params };
}

function parsePart(raw: Buffer, depth: number, budget: { parts: number }, parentSubtype: string | undefined): MimePart {
  const { end, bodyStart } = headerEnd(raw);
  const header = raw.subarray(0, end);
  const body = raw.subarray(bodyStart);
  const fields = headerFields(header);
  const contentType = fields.get('content-type')?.[0];
  const fallback = parentSubtype === 'digest' ? 'message/rfc822' : 'text/plain';
  const parsed = parseParams(contentType ?? fallback);
  let [type, subtype] = parsed.value.split('/');
  if (!type || !subtype) [type, subtype] = fallback.split('/');
  const params = contentType === undefined && type === 'text' ? [['charset', 'us-ascii'] as [string, string]] : parsed.params;
  budget.parts++;
  const base = { header, body, fields, type, subtype, params };
  if (depth >= MAX_DEPTH || budget.parts > MAX_PARTS) return { ...base, children: [] };
  if (type === 'multipart') {
    const boundary = params.find(([k]) => k === 'boundary')?.[1];
    const bodies = boundary === undefined ? [] : splitMultipart(body, boundary);
    return { ...base, children: bodies.map((b) => parsePart(b, depth + 1, budget, subtype)) };
  }
  if (type === 'message' && subtype === 'rfc822') return { ...base, children: [], message: parsePart(body, depth + 1, budget, undefined) };
  return { ...base, children: [] };
}

/** The bodies between the boundary lines (the CRLF before a boundary line belongs to it). */
function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delimiter = `--${boundary}`;
  const starts: { lineStart: number; next: number; close: boolean }[] = [];
  let pos = 0;
  while (pos <= body.length) {
    const lineEnd = body.indexOf('\n', pos);
    const end = lineEnd < 0 ? body.length : lineEnd;
    const line = body.subarray(pos, end).toString('latin1').replace(/\r$/, '');
    if (line.startsWith(delimiter)) {
      const rest = line.slice(delimiter.length);
      if (rest.trim() === '' || rest.startsWith('--')) starts.push({ lineStart: pos, next: end + 1, close: rest.startsWith('--') });
      if (rest.startsWith('--')) break;
    }
    if (lineEnd < 0) break;
    pos = lineEnd + 1;
  }
  const parts: Buffer[] = [];
  for (let i = 0; i + 1 < starts.length || (i < starts.length && !starts[i].close); i++) {
    if (starts[i].close) break;
    const from = starts[i].next;
    let to = i + 1 < starts.length ? starts[i + 1].lineStart : body.length;
    if (to > from && body[to - 1] === 0x0a) to--;
    if (to > from && body[to - 1] === 0x0d) to--;
    parts.push(body.subarray(Math.min(from, body.length), Math.max(from, to)));
  }
  return parts;
}

/** The part a section path names (`1.2`); for a message that is not multipart, part 1 is its body. */
export function partAt(root: MimePart, path: readonly number[]): MimePart | undefined {
  let part: MimePart | undefined = root;
  for (const n of path) {
    if (part === undefined) return undefined;
    const container: MimePart = part.message !== undefined && part.message.children.length > 0 ? part.message : part;
    if (container.children.length > 0) part = container.children[n - 1];
    else if (n === 1) part = container.message ?? container;
    else return undefined;
  }
  return part;
}

/** The lines of a body, as BODYSTRUCTURE counts them for text parts. */
export function lineCount(body: Buffer): number {
  let lines = 0;
  for (let i = body.indexOf(0x0a); i >= 0; i = body.indexOf(0x0a, i + 1)) lines++;
  return body.length > 0 && body[body.length - 1] !== 0x0a ? lines + 1 : lines;
}
