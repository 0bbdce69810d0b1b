import type { Contact, MailSummary, Message } from './api.js';
import type { SanitisedHtml } from './sanitise.js';

/** What the page shows, one object; every change re-renders (lit-html updates only what changed). */
export type Page = 'inbox' | 'sent' | 'mail' | 'compose' | 'contacts' | 'status';

export interface Draft {
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  body: string;
}

export interface OpenMail {
  readonly message: Message;
  /** The contact's name for a reply (the folder's summary knows it). */
  readonly correspondent: string;
  readonly html?: SanitisedHtml;
  showHtml: boolean;
}

export interface Status {
  epoch: number;
  consensusEpoch: number;
  nowMs: number;
  gateway: { name: string; connected: boolean };
  provider: { name: string; connected: boolean };
  rates: { sendPerSecond: number; loopPerSecond: number; dropPerSecond: number };
  meanDelayMs: number;
  queue: number;
  awaitingAck: number;
  packets: Record<string, number>;
  loops: { sent: number; returned: number; lost: number; lastRttMs?: number; meanRttMs?: number };
  polls: { done: number; failed: number; lastMs?: number; lastError?: string };
  retrieval: { mode: string; partner?: string };
  inbox: { total: number; unread: number };
  /** High alert (docs/network.md, "Alerts"): loops lost beyond the normal rate. */
  alert: { high: boolean; suspects: { scope: string; node?: string; layer?: number; loops: number; lost: number }[]; avoiding: string[]; alarms: number };
}

export interface State {
  page: Page;
  mailId?: number;
  hasToken: boolean;
  inbox: MailSummary[];
  sent: MailSummary[];
  open?: OpenMail;
  contacts: Contact[];
  card?: string;
  status?: Status;
  draft: Draft;
  /** One line about the last action (sent, added …), read out by screen readers. */
  notice: string;
  error: string;
  busy: boolean;
}

export function emptyDraft(): Draft {
  return { to: '', cc: '', bcc: '', subject: '', body: '' };
}

export const state: State = {
  page: 'inbox',
  hasToken: false,
  inbox: [],
  sent: [],
  contacts: [],
  draft: emptyDraft(),
  notice: '',
  error: '',
  busy: false,
};

/** Route from the location hash: #inbox, #sent, #mail/ID, #compose, #contacts, #status. */
export function routeFromHash(hash: string): { page: Page; mailId?: number } {
  const [name, id] = hash.replace(/^#\/?/, '').split('/');
  if (name === 'mail' && /^[1-9]\d{0,15}$/.test(id ?? '')) return { page: 'mail', mailId: Number(id) };
  if (name === 'sent' || name === 'compose' || name === 'contacts' || name === 'status') return { page: name };
  return { page: 'inbox' };
}

/** A draft answering `mail`: to its sender, "Re:" once, the text quoted. */
export function replyDraft(mail: OpenMail): Draft {
  const subject = /^re:/i.test(mail.message.subject) ? mail.message.subject : `Re: ${mail.message.subject}`;
  const quoted = mail.message.text.split('\n').map((line) => `> ${line}`).join('\n');
  return { ...emptyDraft(), to: mail.correspondent, subject, body: `\n\n${mail.message.from} wrote on ${mail.message.date}:\n${quoted}\n` };
}

/** A draft passing `mail` on: no recipient yet, "Fwd:", the original's headers and text. */
export function forwardDraft(mail: OpenMail): Draft {
  const m = mail.message;
  const subject = /^fwd?:/i.test(m.subject) ? m.subject : `Fwd: ${m.subject}`;
  return { ...emptyDraft(), subject, body: `\n\n---------- Forwarded message ----------\nFrom: ${m.from}\nDate: ${m.date}\nSubject: ${m.subject}\nTo: ${m.to}\n\n${m.text}` };
}

/** Names from a field: commas or spaces between them, empty ones dropped. */
export function recipients(field: string): string[] {
  return field.split(/[\s,;]+/).map((name) => name.trim()).filter((name) => name !== '');
}
