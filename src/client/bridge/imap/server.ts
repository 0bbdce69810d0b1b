import { timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { SubmittedCopies } from '../submitted-copies.js';
import type { MailFolders } from '../../mail-folders.js';
import type { BridgeCredentials } from '../credentials.js';
import { Session, type LoginCheck } from './session.js';

/**
 * The bridge's IMAP server (docs/bridge.md, "IMAP"): on 127.0.0.1 only, STARTTLS with the bridge
 * certificate, the bridge password, at most MAX_CONNECTIONS sessions at once. After three wrong
 * passwords each further refusal waits LOGIN_DELAY_MS (a right password clears the count).
 */
export interface ImapServerOptions {
  readonly folders: MailFolders;
  readonly credentials: BridgeCredentials;
  /** 0 picks a free port. */
  readonly port: number;
  /** What the SMTP side just queued: an APPEND to Sent of one of these is the mail already filed there. */
  readonly submitted?: SubmittedCopies;
  readonly log?: (line: string) => void;
}

export interface ImapServer {
  readonly port: number;
  close(): Promise<void>;
}

export const MAX_IMAP_CONNECTIONS = 32;
/** The largest literal (an APPENDed message): as large as the SMTP submission takes, with room. */
export const MAX_IMAP_LITERAL = 16 * 2 ** 20;
const FAILED_LOGINS_BEFORE_DELAY = 3;
const LOGIN_DELAY_MS = 2000;

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function loginCheck(credentials: BridgeCredentials): LoginCheck {
  let failures = 0;
  return {
    async check(username, password) {
      const right = username.toLowerCase() === credentials.username.toLowerCase() && sameSecret(password, credentials.password);
      if (right) {
        failures = 0;
        return true;
      }
      failures++;
      if (failures > FAILED_LOGINS_BEFORE_DELAY) await new Promise((resolve) => setTimeout(resolve, LOGIN_DELAY_MS).unref());
      return false;
    },
  };
}

export async function startImapServer(options: ImapServerOptions): Promise<ImapServer> {
  const secureContext = createSecureContext({ key: options.credentials.tls.key, cert: options.credentials.tls.cert, minVersion: 'TLSv1.2' });
  const login = loginCheck(options.credentials);
  const sessions = new Set<Session>();
  const server = createServer((socket: Socket) => {
    socket.on('error', () => socket.destroy());
    if (sessions.size >= MAX_IMAP_CONNECTIONS) {
      socket.end(`* BYE too many connections (at most ${MAX_IMAP_CONNECTIONS})\r\n`);
      return;
    }
    socket.setNoDelay(true);
    const session: Session = new Session(socket, { folders: options.folders, secureContext, login, maxLiteral: MAX_IMAP_LITERAL, ...(options.submitted ? { submitted: options.submitted } : {}), ...(options.log ? { log: options.log } : {}) }, () => sessions.delete(session));
    sessions.add(session);
  });
  server.on('error', (error) => options.log?.(`bridge imap: ${error.message}`));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const session of sessions) session.destroy();
      server.close(() => resolve());
    }),
  };
}
