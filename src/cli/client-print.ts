import { readFileSync } from 'node:fs';
import type { ClientEvent } from '../client/index.js';
import { UsageError } from './errors.js';

/** What `umbra client` prints, the same whether it asked a running agent or opened the directory itself. */
type View = Record<string, unknown>;

export function print(json: boolean | undefined, value: unknown, text: () => string): void {
  process.stdout.write(json === true ? `${JSON.stringify(value)}\n` : text());
}

function time(ms: unknown): string {
  return typeof ms === 'number' ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '?';
}

export function inboxText(mails: readonly View[]): string {
  return mails.map((m) => `#${String(m.id)} ${m.read === true ? ' ' : '*'} ${time(m.received_ms)}  ${String(m.from)}  ${String(m.subject)}\n`).join('') || 'no mail\n';
}

/** One line per sent mail; a waiting or failed one has its reason on the next, indented. */
export function sentText(mails: readonly View[]): string {
  const reason = (m: View) => (typeof m.reason === 'string' && (m.status === 'waiting' || m.status === 'failed') ? `    ${m.reason}\n` : '');
  return mails.map((m) => `#${String(m.id)} ${time(m.created_ms)}  to ${String(m.to)}  [${String(m.status)}]  ${String(m.subject)}\n${reason(m)}`).join('') || 'nothing sent\n';
}

/** What `send` and `resend` print once the agent took the mail: queued, or waiting and why. */
export function queuedText(queued: { id: number; fragments: number; status?: string; reason?: string }, where: string): string {
  const head = `queued #${queued.id} (${queued.fragments} packets)${where}`;
  return queued.status === 'waiting' && queued.reason !== undefined ? `${head}; ${queued.reason}\n` : `${head}\n`;
}

export function messageText(m: View): string {
  return `From: ${String(m.from)}\nTo: ${String(m.to)}\nDate: ${String(m.date)}\nSubject: ${String(m.subject)}\n\n${String(m.text)}\n`;
}

export function contactsText(contacts: readonly View[]): string {
  return contacts.map((c) => `${String(c.name)}  ${String(c.key).slice(0, 16)}  ${String(c.safety_number)}\n`).join('');
}

export function addedText(contact: View): string {
  return `added ${String(contact.name)}\nsafety number: ${String(contact.safety_number)}\n`;
}

export function describeEvent(event: ClientEvent): string | undefined {
  switch (event.type) {
    case 'received': return `received #${event.id} from ${event.from}: ${event.subject}`;
    case 'status': return `sent #${event.id} is ${event.status}${event.reason !== undefined ? `: ${event.reason}` : ''}`;
    case 'resend': return `sent #${event.id}: resending ${event.shards} fragments (${event.cause})`;
    case 'error': return `error in ${event.where}: ${event.message}`;
    default: return undefined;
  }
}

/**
 * The largest body + subject `send` takes, checked before anything connects: the largest padded
 * message (8,192 shards of ~1.9 KB) less room for headers and base64 (README, "Usage").
 */
export const MAX_MAIL_TEXT_BYTES = 8 * 2 ** 20;

/** A file named by an option, as UTF-8 text; a missing, unreadable or binary file is a UsageError. */
export function readTextFile(option: string, path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable');
    throw new UsageError(`option '--${option}': cannot read ${path}: ${why}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`option '--${option}': ${path} is not UTF-8 text`);
  }
}

/** The mail `send` was asked for, checked before anything connects. */
export function mailToSend(values: { to?: string; subject?: string; body?: string; 'body-file'?: string }): { to: string; subject: string; body: string } {
  if (values.to === undefined || values.subject === undefined) throw new UsageError('client send: --to and --subject are required');
  if (values.body !== undefined && values['body-file'] !== undefined) throw new UsageError('client send: give --body or --body-file, not both');
  if (values.body === undefined && values['body-file'] === undefined) throw new UsageError('client send: give --body or --body-file');
  const body = values.body ?? readTextFile('body-file', values['body-file'] as string);
  const bytes = Buffer.byteLength(body, 'utf8') + Buffer.byteLength(values.subject, 'utf8');
  if (bytes > MAX_MAIL_TEXT_BYTES) {
    throw new UsageError(`client send: the mail is ${bytes} bytes; the limit is ${MAX_MAIL_TEXT_BYTES} bytes (${MAX_MAIL_TEXT_BYTES / 2 ** 20} MiB)`);
  }
  return { to: values.to, subject: values.subject, body };
}

/** The id `read` (an id from `client inbox`) or `resend` (from `client sent`) was given. */
export function mailIdArgument(text: string | undefined, command: 'read' | 'resend' = 'read'): number {
  const list = command === 'read' ? 'client inbox' : 'client sent';
  if (text === undefined) throw new UsageError(`client ${command}: give the mail id (see \`${list}\`)`);
  if (!/^[1-9]\d{0,15}$/.test(text)) throw new UsageError(`client ${command}: the mail id is a number from \`${list}\`, not '${text}'`);
  return Number(text);
}
