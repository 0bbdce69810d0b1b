import { readFileSync } from 'node:fs';
import type { AgentStatus, ClientEvent } from '../client/index.js';
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
  return mails.map((m) => `#${String(m.number)} ${m.read === true ? ' ' : '*'} ${time(m.received_ms)}  ${String(m.from)}  ${String(m.subject)}\n`).join('') || 'no mail\n';
}

/** One line per sent mail; under it a line per recipient when there are several, else the reason of a waiting or failed mail. */
export function sentText(mails: readonly View[]): string {
  const warning = (m: View): string => (m.warning !== undefined ? `    ${String(m.warning)}\n` : '');
  return mails.map((m) => `#${String(m.number)} ${time(m.created_ms)}  to ${String(m.to)}  [${String(m.status)}]  ${String(m.subject)}\n${recipientLines(m)}${reasonLine(m)}${warning(m)}`).join('') || 'nothing sent\n';
}

/** "    carol (cc): delivered" per recipient, when there are several or one failed. */
function recipientLines(m: View): string {
  const recipients = Array.isArray(m.recipients) ? (m.recipients as View[]) : [];
  if (recipients.length < 2) return '';
  return recipients.map((r) => `    ${String(r.name)}${r.field === 'to' ? '' : ` (${String(r.field)})`}: ${String(r.status)}${r.reason !== undefined ? ` — ${String(r.reason)}` : ''}\n`).join('');
}

/** "    waiting for bob's server: …" under a mail to one recipient that waits or failed. */
function reasonLine(m: View): string {
  const several = Array.isArray(m.recipients) && m.recipients.length >= 2;
  return !several && typeof m.reason === 'string' && (m.status === 'waiting' || m.status === 'failed') ? `    ${m.reason}\n` : '';
}

export function messageText(m: View): string {
  const cc = m.cc !== undefined ? `Cc: ${String(m.cc)}\n` : '';
  const bcc = m.bcc !== undefined ? `Bcc: ${String(m.bcc)}\n` : '';
  const warning = m.warning !== undefined ? `Warning: ${String(m.warning)}\n` : '';
  const status = m.folder === 'sent' ? `Status: ${String(m.status)}\n${recipientLines(m)}${warning}` : '';
  return `From: ${String(m.from)}\nTo: ${String(m.to)}\n${cc}${bcc}Date: ${String(m.date)}\nSubject: ${String(m.subject)}\n${status}\n${String(m.text)}\n`;
}

/** What `send` prints once the mail is queued: its number in the Sent folder. */
export function queuedText(number: number, fragments: number, recipients: readonly { name: string; field: string }[], where: string, waiting?: string): string {
  const names = recipients.map((r) => (r.field === 'to' ? r.name : `${r.name} (${r.field})`)).join(', ');
  return `queued as sent #${number} to ${names} (${fragments} packets)${where}${waiting === undefined ? '' : `; ${waiting}`}\n`;
}

export function contactsText(contacts: readonly View[]): string {
  return contacts.map((c) => `${String(c.name)}  ${String(c.key).slice(0, 16)}  ${String(c.safety_number)}\n`).join('');
}

export function addedText(contact: View): string {
  return `added ${String(contact.name)}\nsafety number: ${String(contact.safety_number)}\n`;
}

export function describeEvent(event: ClientEvent): string | undefined {
  switch (event.type) {
    case 'received': return `received #${event.number} from ${event.from}: ${event.subject}`;
    case 'status': {
      const r = event.recipient;
      if (r === undefined) return `sent #${event.number} is ${event.status}${event.reason !== undefined ? `: ${event.reason}` : ''}`;
      return `sent #${event.number} to ${r.name}${r.field === 'to' ? '' : ` (${r.field})`} is ${r.status}${r.reason !== undefined ? `: ${r.reason}` : ''} (the mail: ${event.status})`;
    }
    case 'resend': return `sent #${event.number}: resending ${event.shards} fragments (${event.cause})`;
    case 'alert': return `high alert: loops of epoch ${event.epoch} lost beyond the normal rate (${event.suspects.map((x) => (x.node === undefined ? `all paths ${x.lost}/${x.loops}` : `${x.node} ${x.lost}/${x.loops}`)).join(', ')}): cover raised, suspects avoided`;
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

/** The recipients of one option: each value may be a comma list ("bob,carol"); blanks are dropped. */
export function recipientList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(',')).map((name) => name.trim()).filter((name) => name !== '');
}

export interface MailToSend {
  readonly to: string[];
  readonly cc: string[];
  readonly bcc: string[];
  readonly subject: string;
  readonly body: string;
}

/** The mail `send` was asked for, checked before anything connects. */
export function mailToSend(values: { to?: readonly string[]; cc?: readonly string[]; bcc?: readonly string[]; subject?: string; body?: string; 'body-file'?: string }): MailToSend {
  const [to, cc, bcc] = [recipientList(values.to), recipientList(values.cc), recipientList(values.bcc)];
  if (to.length + cc.length + bcc.length === 0 || values.subject === undefined) throw new UsageError('client send: --to (or --cc, --bcc) and --subject are required');
  if (values.body !== undefined && values['body-file'] !== undefined) throw new UsageError('client send: give --body or --body-file, not both');
  if (values.body === undefined && values['body-file'] === undefined) throw new UsageError('client send: give --body or --body-file');
  const body = values.body ?? readTextFile('body-file', values['body-file'] as string);
  const bytes = Buffer.byteLength(body, 'utf8') + Buffer.byteLength(values.subject, 'utf8');
  if (bytes > MAX_MAIL_TEXT_BYTES) {
    throw new UsageError(`client send: the mail is ${bytes} bytes; the limit is ${MAX_MAIL_TEXT_BYTES} bytes (${MAX_MAIL_TEXT_BYTES / 2 ** 20} MiB)`);
  }
  return { to, cc, bcc, subject: values.subject, body };
}

/**
 * The mail number `read` (a number from `client inbox`), `read --sent` or `resend` (from `client
 * sent`) was given: each folder numbers its mail from 1.
 */
export function mailNumberArgument(text: string | undefined, command: 'read' | 'read --sent' | 'resend'): number {
  const list = command === 'read' ? 'client inbox' : 'client sent';
  if (text === undefined) throw new UsageError(`client ${command}: give the mail's number (see \`${list}\`)`);
  const digits = text.startsWith('#') ? text.slice(1) : text;
  if (!/^[1-9]\d{0,15}$/.test(digits) || !Number.isSafeInteger(Number(digits))) {
    throw new UsageError(`client ${command}: the mail's number is one from \`${list}\`, not '${text}'`);
  }
  return Number(digits);
}

/** `umbra client status`: the running agent's state in a few lines (docs/client.md, "Status"). */
export function statusText(s: AgentStatus): string {
  const { loops, alert, rates } = s;
  const lines = [
    `epoch ${s.epoch} (consensus ${s.consensusEpoch})  gateway ${s.gateway.name} ${s.gateway.connected ? 'connected' : 'not connected'}  provider ${s.provider.name} ${s.provider.connected ? 'connected' : 'not connected'}`,
    `rates per second: send ${rates.sendPerSecond}, loop ${rates.loopPerSecond}, drop ${rates.dropPerSecond}  queue ${s.queue}, awaiting ACK ${s.awaitingAck}`,
    `loops: ${loops.sent} sent, ${loops.returned} back, ${loops.lost} lost${loops.meanRttMs === undefined ? '' : `, mean round trip ${Math.round(loops.meanRttMs)} ms`}`,
    alert.high
      ? `HIGH ALERT: ${alert.suspects.map((x) => (x.node === undefined ? `all paths ${x.lost}/${x.loops} lost` : `${x.node} (layer ${String(x.layer)}) ${x.lost}/${x.loops} lost`)).join(', ')}; avoiding ${alert.avoiding.join(', ') || 'no mix'}; cover raised`
      : `no alert (${alert.alarms} so far)`,
    `polls: ${s.polls.done} done, ${s.polls.failed} failed${s.polls.lastError === undefined ? '' : ` (last error: ${s.polls.lastError})`}`,
  ];
  return `${lines.join('\n')}\n`;
}
