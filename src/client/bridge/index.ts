import type { ClientAgent } from '../agent/types.js';
import { startSmtpSubmission, type SmtpSubmission } from './smtp-submission.js';

export { matchRecipient, type RecipientMatch } from './recipients.js';
export { MAX_SUBMISSION_BYTES, startSmtpSubmission, type SmtpSubmission, type SmtpSubmissionOptions } from './smtp-submission.js';
export type { BridgeCredentials } from './credentials.js';

/** Where the running bridge listens (docs/bridge.md). */
export interface BridgeEndpoints {
  readonly smtp: { readonly host: '127.0.0.1'; readonly port: number; readonly security: 'STARTTLS' };
}

export interface Bridge {
  readonly endpoints: BridgeEndpoints;
  close(): Promise<void>;
}

export interface BridgeOptions {
  readonly agent: ClientAgent;
  /** A port, 0 for a free one; by default the last run's port, or a free one when that is taken. */
  readonly smtpPort?: number;
  readonly log?: (line: string) => void;
}

/** Starts the mail bridge of a running agent: SMTP submission on loopback. */
export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const credentials = await options.agent.bridgeCredentials();
  const log = options.log ? { log: options.log } : {};
  const start = (port: number): Promise<SmtpSubmission> => startSmtpSubmission({ agent: options.agent, credentials, port, ...log });
  let smtp: SmtpSubmission;
  if (options.smtpPort !== undefined) smtp = await start(options.smtpPort);
  else smtp = await start(credentials.smtpPort ?? 0).catch(() => start(0));
  options.agent.rememberBridgePort(smtp.port);
  return {
    endpoints: { smtp: { host: '127.0.0.1', port: smtp.port, security: 'STARTTLS' } },
    close: () => smtp.close(),
  };
}
