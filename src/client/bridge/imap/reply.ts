import type { Command } from './parser.js';
import type { ImapSession, SessionState } from './session-types.js';

/** What a command handler answers, and in which states a command is valid (RFC 3501 section 3). */
export interface Reply {
  readonly status: 'OK' | 'NO' | 'BAD';
  readonly text: string;
  /** Runs after the tagged reply is written (STARTTLS begins the handshake then). */
  readonly afterReply?: () => void;
}

export type Handler = (session: ImapSession, command: Command) => Promise<Reply> | Reply;

export interface CommandSpec {
  readonly states: readonly SessionState[];
  readonly handler: Handler;
}

export const ANY: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
export const AUTHENTICATED: readonly SessionState[] = ['authenticated', 'selected'];
export const SELECTED: readonly SessionState[] = ['selected'];

export function ok(text = 'done'): Reply {
  return { status: 'OK', text };
}

export function no(text: string): Reply {
  return { status: 'NO', text };
}

export function bad(text: string): Reply {
  return { status: 'BAD', text };
}
