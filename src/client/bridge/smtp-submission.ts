import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser, type EmailAddress, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import type { ClientAgent, SendRequest } from '../agent/types.js';
import { MAX_RECIPIENTS } from '../sent-recipients.js';
import { ClientError } from '../errors.js';
import type { ContactInfo } from '../local-client.js';
import type { BridgeCredentials } from './credentials.js';
import { noRelayText, submitExternal } from './external.js';
import { matchRecipient } from './recipients.js';

/**
 * SMTP submission for mail programs (docs/bridge.md): on 127.0.0.1 only, STARTTLS required before
 * AUTH PLAIN or LOGIN with the bridge password, recipients checked at RCPT against the contacts.
 * An accepted message is not forwarded as it came: its subject, text and attachments are taken
 * out and the agent builds a fresh RFC 5322 mail of its own (so User-Agent, X-Mailer, Received,
 * the mail program's Message-ID host and the Date's time zone never leave the machine). The RCPT TO
 * recipients make one mail: those the To and Cc headers name are its To and Cc, the others its
 * Bcc; each recipient's copy is sealed to that recipient's session.
 */
export interface SmtpSubmissionOptions {
  readonly agent: ClientAgent;
  readonly credentials: BridgeCredentials;
  /** 0 picks a free port. */
  readonly port: number;
  /** Internal errors only: one line each, never mail content or addresses. */
  readonly log?: (line: string) => void;
  /** Each mail queued from a submission (one per submission, to all its recipients). */
  readonly onQueued?: (mail: QueuedSubmission) => void;
}

/** A submission queued as one Umbra mail: its sent mail id, and the Message-ID the mail program gave it. */
export interface QueuedSubmission {
  readonly id: number;
  readonly subject: string;
  readonly to: string;
  readonly messageId: string | undefined;
}

export interface SmtpSubmission {
  readonly port: number;
  close(): Promise<void>;
}

/** The largest message taken (announced in EHLO as SIZE): an 8 MiB mail as base64, and headers. */
export const MAX_SUBMISSION_BYTES = 12 * 2 ** 20;
const MAX_CLIENTS = 32;
const FAILED_LOGINS_BEFORE_DELAY = 3;
const LOGIN_DELAY_MS = 2000;

/** An SMTP reply with its code: smtp-server sends `responseCode` and the message. */
function reply(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startSmtpSubmission(options: SmtpSubmissionOptions): Promise<SmtpSubmission> {
  const { agent, credentials } = options;
  const failures = new Map<string, number>();
  const server = new SMTPServer({
    name: 'umbra-bridge',
    banner: 'Umbra bridge: metadata-private mail',
    secure: false,
    key: credentials.tls.key,
    cert: credentials.tls.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    size: MAX_SUBMISSION_BYTES,
    maxClients: MAX_CLIENTS,
    socketTimeout: 60_000,
    closeTimeout: 5_000,
    logger: false,
    disabledCommands: [],
    onAuth(auth, session, callback) {
      const ok = auth.username?.toLowerCase() === credentials.username.toLowerCase() && sameSecret(auth.password ?? '', credentials.password);
      if (ok) return callback(null, { user: credentials.username });
      const count = (failures.get(session.remoteAddress) ?? 0) + 1;
      failures.set(session.remoteAddress, count);
      const refuse = (): void => callback(reply(535, '5.7.8 wrong user name or bridge password (umbra client bridge --show-password)'));
      if (count >= FAILED_LOGINS_BEFORE_DELAY) setTimeout(refuse, LOGIN_DELAY_MS).unref();
      else refuse();
    },
    onRcptTo(address, session, callback) {
      if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return callback(reply(452, `4.5.3 a mail goes to at most ${MAX_RECIPIENTS} recipients`));
      const found = matchRecipient(agent.contacts(), address.address);
      // An ordinary address is taken only while a relay is set; the message must then ask for it (external.ts).
      if (found.kind === 'outside' && agent.relay() !== undefined) return callback();
      if (found.kind === 'outside') return callback(reply(550, `5.7.1 ${noRelayText(found.reason)}`));
      if (found.kind !== 'contact') return callback(reply(550, `5.1.1 ${found.reason}`));
      if (!agent.status().gateway.connected) return callback(reply(451, '4.4.1 the Umbra network is not reachable now; try again later'));
      callback();
    },
    onData(stream, session, callback) {
      submit(agent, stream, session, options.onQueued).then(
        (line) => callback(null, line),
        (error: unknown) => {
          if (error instanceof ClientError) return callback(reply(error.code === 'too-large' ? 552 : 554, `5.6.0 ${error.message}`));
          if ((error as { responseCode?: number }).responseCode !== undefined) return callback(error as Error);
          options.log?.(`bridge smtp: internal error: ${error instanceof Error ? error.message : String(error)}`);
          callback(reply(451, '4.3.0 internal error; the mail was not sent'));
        },
      );
    },
  });
  server.on('error', (error) => options.log?.(`bridge smtp: ${error.message}`));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function readAll(stream: SMTPServerDataStream): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return stream.sizeExceeded ? undefined : Buffer.concat(chunks);
}

/** Parses the submitted message and queues one Umbra mail to all its recipients; the reply line. */
async function submit(agent: ClientAgent, stream: SMTPServerDataStream, session: SMTPServerSession, onQueued: SmtpSubmissionOptions['onQueued']): Promise<string> {
  const raw = await readAll(stream);
  if (raw === undefined) throw reply(552, `5.3.4 the message is larger than the bridge takes (${MAX_SUBMISSION_BYTES} bytes)`);
  const parsed = await simpleParser(raw, { skipHtmlToText: false, skipTextLinks: true, skipImageLinks: true });
  const contacts = agent.contacts();
  const outside = session.envelope.rcptTo.filter((rcpt) => matchRecipient(contacts, rcpt.address).kind === 'outside');
  if (outside.length > 0) return submitExternal(agent, parsed, mailOf(parsed), session, outside.length);
  const rcpts = session.envelope.rcptTo.map((rcpt) => {
    const found = matchRecipient(contacts, rcpt.address);
    if (found.kind !== 'contact') throw reply(550, `5.1.1 ${found.reason}`);
    return found.contact.key;
  });
  const fields = splitRecipients(rcpts, headerKeys(contacts, parsed.to), headerKeys(contacts, parsed.cc));
  const result = await agent.send({ ...mailOf(parsed), ...fields });
  onQueued?.({ id: result.id, subject: parsed.subject ?? '', to: session.envelope.rcptTo.map((rcpt) => rcpt.address).join(', '), messageId: parsed.messageId });
  return `2.0.0 queued as sent #${result.number} for ${result.recipients.length} ${result.recipients.length === 1 ? 'recipient' : 'recipients'}`;
}

/** The contact keys of the Umbra addresses a To or Cc header names (others are not ours to judge). */
function headerKeys(contacts: readonly ContactInfo[], header: ParsedMail['to']): Set<string> {
  const objects = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const keys = new Set<string>();
  const visit = (entries: readonly EmailAddress[], depth: number): void => {
    for (const entry of entries) {
      if (entry.group !== undefined && depth < 2) visit(entry.group, depth + 1);
      const found = entry.address === undefined ? undefined : matchRecipient(contacts, entry.address);
      if (found?.kind === 'contact') keys.add(found.contact.key);
    }
  };
  for (const object of objects) visit(object.value, 0);
  return keys;
}

/**
 * The envelope's recipients (contact keys, in RCPT order) as To, Cc and Bcc: To when the To
 * header names the contact, else Cc when the Cc header does, else Bcc (a mail program sends Bcc
 * recipients in the envelope only).
 */
export function splitRecipients(rcpts: readonly string[], toHeader: ReadonlySet<string>, ccHeader: ReadonlySet<string>): { to: string[]; cc: string[]; bcc: string[] } {
  const out = { to: [] as string[], cc: [] as string[], bcc: [] as string[] };
  for (const key of new Set(rcpts)) (toHeader.has(key) ? out.to : ccHeader.has(key) ? out.cc : out.bcc).push(key);
  return out;
}

/** What of the mail program's message goes into the Umbra mail: subject, text, attachments. */
function mailOf(parsed: ParsedMail): Omit<SendRequest, 'to' | 'cc' | 'bcc'> {
  const text = parsed.text ?? '';
  return {
    subject: parsed.subject ?? '',
    body: text.endsWith('\n') || text === '' ? text : `${text}\n`,
    attachments: parsed.attachments.map((file, i) => ({
      filename: file.filename ?? `attachment-${i + 1}`,
      contentType: file.contentType || 'application/octet-stream',
      data: new Uint8Array(file.content),
    })),
  };
}
