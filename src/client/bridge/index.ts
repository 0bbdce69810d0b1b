import type { ClientAgent } from '../agent/types.js';
import { startImapServer, type ImapServer } from './imap/server.js';
import { syntheticAddress } from '../mail-build.js';
import { startSmtpSubmission, type QueuedSubmission, type SmtpSubmission } from './smtp-submission.js';
import { SubmittedCopies } from './submitted-copies.js';

export { matchRecipient, type RecipientMatch } from './recipients.js';
export { MAX_SUBMISSION_BYTES, startSmtpSubmission, type SmtpSubmission, type SmtpSubmissionOptions } from './smtp-submission.js';
export type { BridgeCredentials } from './credentials.js';
export { MAX_IMAP_CONNECTIONS, MAX_IMAP_LITERAL, startImapServer, type ImapServer } from './imap/server.js';

/** Where the running bridge listens (docs/bridge.md). */
export interface BridgeEndpoints {
  readonly smtp: { readonly host: '127.0.0.1'; readonly port: number; readonly security: 'STARTTLS' };
  readonly imap: { readonly host: '127.0.0.1'; readonly port: number; readonly security: 'STARTTLS' };
}

export interface Bridge {
  readonly endpoints: BridgeEndpoints;
  close(): Promise<void>;
}

export interface BridgeOptions {
  readonly agent: ClientAgent;
  /** A port, 0 for a free one; by default the last run's port, or a free one when that is taken. */
  readonly smtpPort?: number;
  /** As smtpPort, for IMAP. */
  readonly imapPort?: number;
  readonly log?: (line: string) => void;
}

/** Listens on `wanted`, or else on the last run's port, or on a free one when that is taken. */
async function listenOn<T>(start: (port: number) => Promise<T>, wanted: number | undefined, last: number | undefined): Promise<T> {
  if (wanted !== undefined) return start(wanted);
  return start(last ?? 0).catch(() => start(0));
}

/** Starts the mail bridge of a running agent: SMTP submission and IMAP on loopback. */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const credentials = await options.agent.bridgeCredentials();
  const log = options.log ? { log: options.log } : {};
  const { agent } = options;
  // Mails the bridge accepted, until every recipient's copy is delivered or failed: each failed
  // recipient comes back as a bounce.
  const accepted = new Map<number, { readonly subject: string; readonly to: string }>();
  const unsubscribe = agent.subscribe((event) => {
    if (event.type !== 'status' || !accepted.has(event.id)) return;
    const mail = accepted.get(event.id)!;
    const failed = event.recipient === undefined ? (event.status === 'failed' ? { to: mail.to, reason: event.reason } : undefined)
      : event.recipient.status === 'failed' ? { to: syntheticAddress(event.recipient.name), reason: event.recipient.reason } : undefined;
    if (failed !== undefined) agent.addNotice(`Undelivered: ${mail.subject}`, bounceText(failed.to, mail.subject, failed.reason));
    if (event.status === 'delivered' || event.status === 'failed') accepted.delete(event.id);
  });
  // The mail program's own copy in Sent of what it just submitted is the mail the agent filed there.
  const submitted = new SubmittedCopies();
  const onQueued = (mail: QueuedSubmission): void => {
    accepted.set(mail.id, mail);
    submitted.remember(mail.messageId, mail.id);
  };
  const start = (port: number): Promise<SmtpSubmission> => startSmtpSubmission({ agent, credentials, port, onQueued, ...log });
  const smtp: SmtpSubmission = await listenOn(start, options.smtpPort, credentials.smtpPort);
  let imap: ImapServer;
  try {
    imap = await listenOn((port) => startImapServer({ folders: agent.folders(), credentials, port, submitted, ...log }), options.imapPort, credentials.imapPort);
  } catch (error) {
    await smtp.close();
    throw error;
  }
  agent.rememberBridgePorts({ smtp: smtp.port, imap: imap.port });
  return {
    endpoints: {
      smtp: { host: '127.0.0.1', port: smtp.port, security: 'STARTTLS' },
      imap: { host: '127.0.0.1', port: imap.port, security: 'STARTTLS' },
    },
    close: async () => {
      unsubscribe();
      await Promise.all([smtp.close(), imap.close()]);
    },
  };
}

function bounceText(to: string, subject: string, reason: string | undefined): string {
  return [
    `Your mail to ${to} could not be delivered.`,
    '',
    `Subject: ${subject}`,
    `Reason: ${reason ?? 'unknown'}`,
    '',
    'It is in your Sent folder, marked failed. (umbra client sent lists it.)',
  ].join('\n');
}
