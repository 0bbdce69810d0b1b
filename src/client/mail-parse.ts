/**
 * Parsing RFC 5322 / MIME messages as the client reads them (docs/client.md, "Mail format").
 * Forgiving and bounded: whatever a contact sends parses into headers, a text body and attachments
 * without throwing.
 */
export interface ParsedAttachment {
  readonly filename: string;
  readonly contentType: string;
  readonly data: Uint8Array;
}

export interface ParsedMail {
  /** Header fields by lower-case name: unfolded, encoded words decoded, first occurrence. */
  readonly headers: Readonly<Record<string, string>>;
  readonly from: string;
  readonly to: string;
  /** Empty when the mail has no Cc (or Bcc) header. */
  readonly cc: string;
  readonly bcc: string;
  readonly subject: string;
  readonly date: string;
  readonly messageId: string;
  /** The first text/plain part (else the first text part), decoded. */
  readonly text: string;
  readonly attachments: readonly ParsedAttachment[];
}

const MAX_PARSE_DEPTH = 8;
const MAX_PARTS = 1000;

/** Bytes ↔ a string of one char per byte (latin1), so parsing never loses a byte. */
function bytesToBinary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function binaryToBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'latin1'));
}

function decodeCharset(bytes: Uint8Array, charset: string): string {
  const label = charset.trim().toLowerCase() || 'utf-8';
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    return new TextDecoder('utf-8').decode(bytes);
  }
}

/** Decodes RFC 2047 encoded words (B and Q); whitespace between adjacent words is dropped. */
export function decodeEncodedWords(text: string): string {
  const word = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  const joined = text.replace(/(=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)\s+(?==\?[^?\s]+\?[BbQq]\?[^?\s]*\?=)/g, '$1');
  return joined.replace(word, (_match, charset: string, encoding: string, data: string) => {
    const cs = charset.split('*')[0];
    if (encoding.toUpperCase() === 'B') return decodeCharset(new Uint8Array(Buffer.from(data, 'base64')), cs);
    const binary = data.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    return decodeCharset(binaryToBytes(binary), cs);
  });
}

interface Part {
  readonly headers: Map<string, string>;
  readonly body: string; // binary string
}

/** Splits header block and body; header values are unfolded, raw (binary) text. */
function splitPart(binary: string): Part {
  let end = binary.indexOf('\r\n\r\n');
  let sep = 4;
  const lfEnd = binary.indexOf('\n\n');
  if (end < 0 || (lfEnd >= 0 && lfEnd < end)) {
    end = lfEnd;
    sep = 2;
  }
  const head = end < 0 ? binary : binary.slice(0, end);
  const body = end < 0 ? '' : binary.slice(end + sep);
  const headers = new Map<string, string>();
  const lines = head.split(/\r?\n/);
  let current: [string, string] | undefined;
  const flush = (): void => {
    if (current !== undefined && !headers.has(current[0])) headers.set(current[0], current[1].trim());
  };
  for (const line of lines) {
    if (/^[ \t]/.test(line) && current !== undefined) {
      current[1] += ' ' + line.trim();
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    current = colon > 0 ? [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1)] : undefined;
  }
  flush();
  return { headers, body };
}

interface ContentType {
  readonly type: string;
  readonly params: Map<string, string>;
}

/** "type/subtype; a=b; c="d"" with RFC 2231 continuations and charsets (name*0*, name*). */
function parseParams(value: string): ContentType {
  const [first, ...rest] = splitParams(value);
  const raw = new Map<string, string>();
  for (const item of rest) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim().toLowerCase();
    let val = item.slice(eq + 1).trim();
    if (val.startsWith('"') && val.endsWith('"') && val.length >= 2) val = val.slice(1, -1).replace(/\\(.)/g, '$1');
    if (!raw.has(key)) raw.set(key, val);
  }
  const params = new Map<string, string>();
  const extended = new Map<string, { parts: Map<number, { value: string; encoded: boolean }> }>();
  for (const [key, val] of raw) {
    // RFC 2231: name* (encoded), name*0, name*1 … (continuations), name*0*, … (encoded continuations).
    const match = /^([^*]+)\*(?:(\d{1,3})\*?)?$/.exec(key);
    if (match === null) {
      params.set(key, val);
      continue;
    }
    const name = match[1];
    const index = match[2] === undefined ? 0 : Number(match[2]);
    const encoded = key.endsWith('*');
    const entry = extended.get(name) ?? { parts: new Map() };
    entry.parts.set(index, { value: val, encoded });
    extended.set(name, entry);
  }
  for (const [name, { parts }] of extended) {
    let charset = 'utf-8';
    let binary = '';
    for (const index of [...parts.keys()].sort((a, b) => a - b)) {
      const part = parts.get(index)!;
      let value = part.value;
      if (part.encoded) {
        if (index === 0) {
          const pieces = value.split("'");
          if (pieces.length >= 3) {
            charset = pieces[0] || 'utf-8';
            value = pieces.slice(2).join("'");
          }
        }
        value = value.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
      }
      binary += value;
    }
    params.set(name, decodeCharset(binaryToBytes(binary), charset));
  }
  return { type: first.trim().toLowerCase(), params };
}

/** Splits on ';' outside quoted strings. */
function splitParams(value: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '\\' && quoted && i + 1 < value.length) {
      current += char + value[++i];
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === ';' && !quoted) {
      out.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  out.push(current);
  return out;
}

function decodeTransfer(body: string, encoding: string): Uint8Array {
  const cte = encoding.trim().toLowerCase();
  if (cte === 'base64') return new Uint8Array(Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64'));
  if (cte === 'quoted-printable') {
    const binary = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    return binaryToBytes(binary);
  }
  return binaryToBytes(body);
}

/** Header text: raw bytes read as UTF-8 (RFC 6532), then encoded words decoded. */
function headerText(binary: string | undefined): string {
  if (binary === undefined) return '';
  return decodeEncodedWords(new TextDecoder('utf-8').decode(binaryToBytes(binary)));
}

interface Leaf {
  readonly contentType: ContentType;
  readonly disposition: ContentType | undefined;
  readonly data: Uint8Array;
}

function collectLeaves(part: Part, depth: number, out: Leaf[]): void {
  if (out.length >= MAX_PARTS) return;
  const contentType = parseParams(part.headers.get('content-type') ?? 'text/plain; charset=us-ascii');
  const boundary = contentType.params.get('boundary');
  if (contentType.type.startsWith('multipart/') && boundary !== undefined && boundary !== '' && depth < MAX_PARSE_DEPTH) {
    const delimiter = `--${boundary}`;
    const lines = part.body.split(/\r?\n/);
    let current: string[] | undefined;
    for (const line of lines) {
      const trimmed = line.replace(/[ \t]+$/, '');
      if (trimmed === `${delimiter}--`) break;
      if (trimmed === delimiter) {
        if (current !== undefined) collectLeaves(splitPart(current.join('\r\n')), depth + 1, out);
        current = [];
        continue;
      }
      current?.push(line);
    }
    if (current !== undefined && current.length > 0) collectLeaves(splitPart(current.join('\r\n')), depth + 1, out);
    return;
  }
  const disposition = part.headers.has('content-disposition') ? parseParams(part.headers.get('content-disposition')!) : undefined;
  out.push({ contentType, disposition, data: decodeTransfer(part.body, part.headers.get('content-transfer-encoding') ?? '7bit') });
}

/** Parses a whole message; never throws on malformed input (missing parts come out empty). */
export function parseMail(bytes: Uint8Array): ParsedMail {
  const root = splitPart(bytesToBinary(bytes));
  const headers: Record<string, string> = {};
  for (const [name, value] of root.headers) headers[name] = headerText(value);
  const leaves: Leaf[] = [];
  collectLeaves(root, 0, leaves);
  let text: string | undefined;
  let fallbackText: string | undefined;
  const attachments: ParsedAttachment[] = [];
  for (const leaf of leaves) {
    const filename = leaf.disposition?.params.get('filename') ?? leaf.contentType.params.get('name');
    const isAttachment = leaf.disposition?.type === 'attachment' || filename !== undefined || !leaf.contentType.type.startsWith('text/');
    if (!isAttachment) {
      const decoded = decodeCharset(leaf.data, leaf.contentType.params.get('charset') ?? 'utf-8');
      if (leaf.contentType.type === 'text/plain' && text === undefined) text = decoded;
      else fallbackText ??= decoded;
      continue;
    }
    attachments.push({ filename: filename ?? 'attachment', contentType: leaf.contentType.type || 'application/octet-stream', data: leaf.data });
  }
  return {
    headers,
    from: headers.from ?? '',
    to: headers.to ?? '',
    cc: headers.cc ?? '',
    bcc: headers.bcc ?? '',
    subject: headers.subject ?? '',
    date: headers.date ?? '',
    messageId: (headers['message-id'] ?? '').replace(/^<|>$/g, ''),
    text: (text ?? fallbackText ?? '').replace(/\r\n/g, '\n'),
    attachments,
  };
}
