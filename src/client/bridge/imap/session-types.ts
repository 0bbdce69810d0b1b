import type { SecureContext } from 'node:tls';
import type { MailFolders } from '../../mail-folders.js';
import type { SubmittedCopies } from '../submitted-copies.js';
import type { RawCommand } from './reader.js';
import type { Chunk } from './response.js';
import type { SelectedFolder } from './selected.js';

/**
 * What an IMAP connection is to the commands that run on it (commands*.ts): its state, its
 * selected folder, and how they answer. session.ts implements it; the commands see only this, so
 * the session and the commands it dispatches to do not import each other.
 */
export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export interface LoginCheck {
  /** Resolves true for the right user name and password; wrong ones are answered after a delay once they pile up. */
  check(username: string, password: string): Promise<boolean>;
}

export interface SessionOptions {
  readonly folders: MailFolders;
  readonly secureContext: SecureContext;
  readonly login: LoginCheck;
  readonly maxLiteral: number;
  readonly submitted?: SubmittedCopies;
  readonly log?: (line: string) => void;
}

/** The connection as the commands use it (Session, session.ts). */
export interface ImapSession {
  state: SessionState;
  tls: boolean;
  selected: SelectedFolder | undefined;
  /** Set while IDLE runs: a store change is pushed at once. */
  idling: (() => void) | undefined;
  readonly options: SessionOptions;
  readonly folders: MailFolders;
  capabilities(): string;
  /** The next command line read (IDLE's DONE, a literal's continuation), undefined when the connection ends. */
  next(): Promise<RawCommand | undefined>;
  send(chunks: readonly Chunk[]): Promise<void>;
  write(chunks: readonly Chunk[]): void;
  authenticated(): void;
  startTls(): void;
}
