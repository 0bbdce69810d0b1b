/**
 * Building RFC 5322 / MIME messages as the client writes them (docs/client.md, "Mail format"):
 * From, To, Cc, Bcc, Subject, Date, Message-ID, MIME-Version and a text/plain body, or multipart/mixed with
 * base64 attachments; non-ASCII header text as RFC 2047 encoded words, non-ASCII file names as
 * RFC 2231 parameters.
 */
export interface MailAddress {
  readonly name: string;
  readonly address: string;
}

export interface Attachment {
  readonly filename: string;
  /** "type/subtype"; default application/octet-stream. */
  readonly contentType?: string;
  readonly data: Uint8Array;
}

export interface MailDraft {
  readonly from: MailAddress;
  /** Empty with no Cc either: the header says `undisclosed-recipients:;` (a Bcc-only mail). */
  readonly to: readonly MailAddress[];
  readonly cc?: readonly MailAddress[];
  /**
   * Written only when not empty. The sender's own copy lists every Bcc recipient; a Bcc
   * recipient's copy lists that recipient alone; To and Cc recipients get a copy without it.
   */
  readonly bcc?: readonly MailAddress[];
  readonly subject: string;
  readonly body: string;
  readonly attachments?: readonly Attachment[];
  /** Unix milliseconds. */
  readonly dateMs: number;
  /** Without angle brackets: "id@domain". */
  readonly messageId: string;
  /** The multipart boundary to use (random; only used with attachments). */
  readonly boundary?: string;
}

/** The domain of the synthetic addresses the client writes: "name@umbra". */
export const SYNTHETIC_DOMAIN = 'umbra';
const CRLF = '\r\n';

const encoder = new TextEncoder();

/** A local part made of the name: lower case ASCII letters, digits, '.', '-', '_' ("Zoë Ann" → "zoe-ann"). */
export function syntheticAddress(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .replace(/\.{2,}/g, '.')
    .slice(0, 64)
    .replace(/[-.]+$/g, '');
  return `${slug === '' ? 'user' : slug}@${SYNTHETIC_DOMAIN}`;
}

function isPrintableAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** Header text without line breaks or other controls (no header injection). */
function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
}

/** RFC 2047 B-encoded words of at most 75 characters, split on character boundaries. */
function encodedWords(text: string): string[] {
  const words: string[] = [];
  let chunk = '';
  // 36 bytes are 48 base64 characters: a word of 60, so "Subject: " and a word fit 78 columns.
  for (const char of text) {
    if (encoder.encode(chunk + char).length > 36) {
      words.push(`=?UTF-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
      chunk = '';
    }
    chunk += char;
  }
  if (chunk !== '' || words.length === 0) words.push(`=?UTF-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
  return words;
}

/** An unstructured header value (Subject): ASCII folded at spaces, anything else as encoded words. */
function unstructured(name: string, value: string): string {
  const text = clean(value);
  if (isPrintableAscii(text) && !/=\?/.test(text)) return fold(`${name}: ${text}`);
  return `${name}: ${encodedWords(text).join(`${CRLF} `)}`;
}

/** Folds a header line at spaces so that lines stay within 78 characters where possible. */
function fold(line: string): string {
  if (line.length <= 78) return line;
  const out: string[] = [];
  let rest = line;
  while (rest.length > 78) {
    const at = rest.lastIndexOf(' ', 78);
    if (at <= 0) break;
    out.push(rest.slice(0, at));
    rest = rest.slice(at); // the space starts the continuation line
  }
  out.push(rest);
  return out.join(CRLF);
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*$/;

/** "Display Name <address>", the name quoted or encoded as needed. */
export function formatAddress(address: MailAddress): string {
  const name = clean(address.name);
  const addr = clean(address.address).replace(/[<>\s]/g, '');
  if (name === '') return `<${addr}>`;
  if (!isPrintableAscii(name)) return `${encodedWords(name).join(' ')} <${addr}>`;
  if (ATEXT.test(name) && !/^ | $|  /.test(name)) return `${name} <${addr}>`;
  return `"${name.replace(/(["\\])/g, '\\$1')}" <${addr}>`;
}

/** RFC 5322 date-time in UTC: "Sat, 21 Nov 2026 09:00:00 +0000". */
export function formatDate(ms: number): string {
  const date = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${days[date.getUTCDay()]}, ${two(date.getUTCDate())} ${months[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

function base64Lines(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join(CRLF);
}

/** The body as CRLF lines; 7bit when it is short-lined ASCII, else base64 UTF-8. */
function textPart(body: string): { headers: string[]; content: string } {
  let normalized = body.replace(/\r\n|\r|\n/g, CRLF);
  if (!normalized.endsWith(CRLF)) normalized += CRLF;
  const lines = normalized.split(CRLF);
  const sevenBit = /^[\x09\x20-\x7e\r\n]*$/.test(normalized) && lines.every((line) => line.length <= 998);
  if (sevenBit) {
    return { headers: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit'], content: normalized };
  }
  return {
    headers: ['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64'],
    content: base64Lines(encoder.encode(normalized)) + CRLF,
  };
}

const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/** A quoted parameter value (ASCII) or an RFC 2231 extended one (UTF-8, percent-encoded). */
function fileParameter(name: string, filename: string): string {
  const value = clean(filename).replace(/[\\/]/g, '_') || 'attachment';
  if (isPrintableAscii(value)) return `${name}="${value.replace(/(["\\])/g, '\\$1')}"`;
  const encoded = [...encoder.encode(value)]
    .map((byte) => (/[A-Za-z0-9!#$&+\-.^_`|~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
  const fallback = value.normalize('NFKD').replace(/[^\x20-\x7e]/g, '_').replace(/(["\\])/g, '\\$1');
  return `${name}="${fallback}"; ${name}*=UTF-8''${encoded}`;
}

/** To (or `undisclosed-recipients:;` when To and Cc are empty), then Cc and Bcc when not empty. */
function addressHeaders(draft: MailDraft): string[] {
  const cc = draft.cc ?? [];
  const bcc = draft.bcc ?? [];
  const list = (name: string, addresses: readonly MailAddress[]): string => fold(`${name}: ${addresses.map(formatAddress).join(', ')}`);
  const to = draft.to.length === 0 && cc.length === 0 ? 'To: undisclosed-recipients:;' : list('To', draft.to);
  return [to, ...(cc.length === 0 ? [] : [list('Cc', cc)]), ...(bcc.length === 0 ? [] : [list('Bcc', bcc)])];
}

/** The whole message as bytes (CRLF line ends). */
export function buildMail(draft: MailDraft): Uint8Array {
  const headers = [
    fold(`From: ${formatAddress(draft.from)}`),
    ...addressHeaders(draft),
    unstructured('Subject', draft.subject),
    `Date: ${formatDate(draft.dateMs)}`,
    `Message-ID: <${clean(draft.messageId).replace(/[<>\s]/g, '')}>`,
    'MIME-Version: 1.0',
  ];
  const text = textPart(draft.body);
  const attachments = draft.attachments ?? [];
  if (attachments.length === 0) {
    return encoder.encode([...headers, ...text.headers].join(CRLF) + CRLF + CRLF + text.content);
  }
  const boundary = draft.boundary ?? 'umbra-boundary';
  if (!/^[A-Za-z0-9'()+_,.\/:=?-]{1,69}[A-Za-z0-9'()+_,.\/:=?-]?$/.test(boundary)) throw new RangeError('mail: the boundary is not a valid MIME boundary');
  const parts: string[] = [];
  parts.push([...text.headers].join(CRLF) + CRLF + CRLF + text.content);
  for (const attachment of attachments) {
    const type = attachment.contentType !== undefined && MIME_TYPE.test(attachment.contentType) ? attachment.contentType.toLowerCase() : 'application/octet-stream';
    parts.push(
      [
        `Content-Type: ${type}; ${fileParameter('name', attachment.filename)}`,
        `Content-Disposition: attachment; ${fileParameter('filename', attachment.filename)}`,
        'Content-Transfer-Encoding: base64',
      ].join(CRLF) + CRLF + CRLF + base64Lines(attachment.data),
    );
  }
  // A part's last line break belongs to the delimiter after it (RFC 2046), so text ending in a line
  // break gets one more; base64 parts end without one.
  const body = parts.map((part) => `--${boundary}${CRLF}${part}${CRLF}`).join('') + `--${boundary}--${CRLF}`;
  return encoder.encode([...headers, `Content-Type: multipart/mixed; boundary="${boundary}"`].join(CRLF) + CRLF + CRLF + body);
}
