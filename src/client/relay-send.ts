import nodemailer from 'nodemailer';
import { ClientError, describeError } from './errors.js';
import type { Attachment } from './mail-build.js';
import type { MailStore } from './mail-store.js';
import { MAX_RECIPIENTS, mailStatusOf, type RecipientField, type SentRecipient } from './sent-recipients.js';
import { PLAIN_ADDRESS, type RelayConfig } from './relay.js';

/**
 * Ordinary email through the user's relay (docs/bridge.md, "Ordinary email through a relay"):
 * the message is written by nodemailer and handed to the relay over SMTP; its Sent copy carries
 * `X-Umbra-Warning` and a `warning` in its row, because nothing of it was private.
 */
export interface ExternalSendRequest {
  readonly to: readonly string[];
  readonly cc?: readonly string[];
  readonly bcc?: readonly string[];
  readonly subject: string;
  readonly body: string;
  readonly attachments?: readonly Attachment[];
}

export interface ExternalSendResult {
  /** The Sent row. */
  readonly id: number;
  /** Its number in the Sent folder. */
  readonly number: number;
  /** The addresses the relay took, and those it refused. */
  readonly accepted: readonly string[];
  readonly rejected: readonly string[];
  readonly warning: string;
}

/** How long the relay may take to take a mail. */
const RELAY_TIMEOUT_MS = 30_000;

export function notPrivateWarning(relay: RelayConfig): string {
  return `NOT PRIVATE: sent as ordinary email through ${relay.host}. The relay, the recipients' mail servers and anyone on the way can read it and see who wrote to whom and when.`;
}

/** The recipients as plain addresses, To first; 'bad-options' for anything else. */
function externalRecipients(request: ExternalSendRequest): { address: string; field: RecipientField }[] {
  const all = [
    ...request.to.map((address) => ({ address, field: 'to' as const })),
    ...(request.cc ?? []).map((address) => ({ address, field: 'cc' as const })),
    ...(request.bcc ?? []).map((address) => ({ address, field: 'bcc' as const })),
  ];
  if (all.length === 0) throw new ClientError('bad-options', 'send needs at least one recipient (to, cc or bcc)');
  if (all.length > MAX_RECIPIENTS) throw new ClientError('bad-options', `a mail goes to at most ${MAX_RECIPIENTS} recipients (To, Cc and Bcc together)`);
  const seen = new Set<string>();
  return all.filter(({ address }) => {
    if (typeof address !== 'string' || !PLAIN_ADDRESS.test(address)) throw new ClientError('bad-options', `'${String(address).slice(0, 80)}' is not an ordinary address (like someone@example.com)`);
    const key = address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Writes the message, hands it to the relay, and keeps the Sent copy (with the warning) when the
 * relay took it for at least one recipient. 'no-relay' when none is set; 'relay-failed' when the
 * relay cannot be reached or refuses every recipient.
 */
export async function sendThroughRelay(store: MailStore, relay: RelayConfig | undefined, request: ExternalSendRequest, now: number): Promise<ExternalSendResult> {
  if (relay === undefined) throw new ClientError('no-relay', 'no relay is set for ordinary email: `umbra client relay set` sets one (such mail is not private)');
  const recipients = externalRecipients(request);
  const of = (field: RecipientField) => recipients.filter((r) => r.field === field).map((r) => r.address);
  const message = {
    // Bcc recipients are in the SMTP envelope only: the message written has no Bcc header.
    from: relay.from, to: of('to'), cc: of('cc'), subject: request.subject, text: request.body, date: new Date(now), xMailer: false as const,
    attachments: (request.attachments ?? []).map((file) => ({ filename: file.filename, contentType: file.contentType ?? 'application/octet-stream', content: Buffer.from(file.data) })),
  };
  const written = await nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' }).sendMail(message);
  const raw = written.message as Buffer;
  const transport = nodemailer.createTransport({
    host: relay.host, port: relay.port, secure: relay.tls === 'tls', requireTLS: relay.tls === 'starttls', ignoreTLS: relay.tls === 'none',
    ...(relay.username === undefined ? {} : { auth: { user: relay.username, pass: relay.password ?? '' } }),
    connectionTimeout: RELAY_TIMEOUT_MS, greetingTimeout: RELAY_TIMEOUT_MS, socketTimeout: RELAY_TIMEOUT_MS, name: 'localhost', logger: false,
  });
  let info;
  try {
    info = await transport.sendMail({ envelope: { from: relay.from, to: recipients.map((r) => r.address) }, raw });
  } catch (error) {
    throw new ClientError('relay-failed', `the relay ${relay.host}:${relay.port} did not take the mail: ${describeError(error).split('\n')[0]}`);
  } finally {
    transport.close();
  }
  const accepted = (info.accepted as (string | { address: string })[]).map((a) => (typeof a === 'string' ? a : a.address).toLowerCase());
  const warning = notPrivateWarning(relay);
  const rows: SentRecipient[] = recipients.map(({ address, field }) => {
    const took = accepted.includes(address.toLowerCase());
    return { messageId: '', key: '', name: address, field, status: took ? 'delivered' : 'failed', statusMs: now, attempts: 1, ...(took ? {} : { reason: 'the relay refused this address' }) };
  });
  const copy = Buffer.concat([Buffer.from(`X-Umbra-Warning: ${warning}\r\n`), raw]);
  const { status, reason } = mailStatusOf(rows);
  const id = store.addSent(
    {
      messageId: '', toKey: '', toName: rows[0].name, recipients: rows, createdMs: now, status, statusMs: now, subject: request.subject,
      size: raw.length, fragments: 0, attempts: 1, external: { relay: relay.host }, warning, ...(reason === undefined ? {} : { reason }),
    },
    new Uint8Array(copy),
  );
  return { id, number: store.numberOf(id) ?? 0, accepted, rejected: rows.filter((r) => r.status === 'failed').map((r) => r.name), warning };
}
