/** What the mail store (mail-store.ts) keeps about each mail: the metadata sealed in `mails.meta`. */
/** 'waiting': the recipient's server is missing from the network, or a copy was not acknowledged in time; the mail is sent again. */
export type SentStatus = 'queued' | 'sending' | 'waiting' | 'delivered' | 'failed';
export const SENT_STATUSES: readonly SentStatus[] = ['queued', 'sending', 'waiting', 'delivered', 'failed'];

export type RecipientField = 'to' | 'cc' | 'bcc';

/** One recipient's envelope of a sent mail and its delivery (sent-recipients.ts). */
export interface SentRecipient {
  /** Hex of the envelope's end-to-end message ID. */
  readonly messageId: string;
  /** Hex of the contact's X25519 key. */
  readonly key: string;
  readonly name: string;
  readonly field: RecipientField;
  readonly status: SentStatus;
  readonly statusMs: number;
  /** Why the envelope failed. */
  readonly reason?: string;
  /** Copies of the envelope sent so far (1 + resends after timeouts). */
  readonly attempts: number;
}

export interface InboxMeta {
  readonly folder: 'inbox';
  /** Hex of the end-to-end message ID. */
  readonly messageId: string;
  /** Hex of the sender's X25519 key (the contact key). */
  readonly fromKey: string;
  readonly fromName: string;
  readonly receivedMs: number;
  readonly read: boolean;
  readonly subject: string;
  /** The Date header as written by the sender. */
  readonly date: string;
  readonly size: number;
  readonly attachments: number;
}

export interface SentMeta {
  readonly folder: 'sent';
  /** The first recipient's envelope (every envelope: `recipients`). */
  readonly messageId: string;
  /** The first recipient. */
  readonly toKey: string;
  readonly toName: string;
  /** Every recipient's envelope and its delivery (sent-recipients.ts); absent in rows of one recipient written before. */
  readonly recipients?: readonly SentRecipient[];
  readonly createdMs: number;
  /** The mail's: the sum of its recipients' (mailStatusOf). */
  readonly status: SentStatus;
  /** Why a message failed, in words the CLI can print. */
  readonly reason?: string;
  readonly statusMs: number;
  readonly subject: string;
  readonly size: number;
  /** Fragments (Sphinx packets) of one copy of the message. */
  readonly fragments: number;
  /** Copies sent so far (1 + resends after timeouts). */
  readonly attempts: number;
  /** Ordinary email sent through the user's relay (relay-send.ts), not through Umbra. */
  readonly external?: { readonly relay: string };
  /** Why this mail was not private, for every view of it. */
  readonly warning?: string;
}

export type MailMeta = InboxMeta | SentMeta;
export type MailFolder = MailMeta['folder'];
/**
 * A stored mail: `id` is the store's own row id (stable, shared by both folders, what the API's
 * /messages/{id} takes); `number` is the mail's number in its folder (inbox #1, #2…, sent #1, #2…),
 * what `umbra client inbox`, `sent`, `read` and `resend` show and take. Numbers are never reused.
 */
export type MailRecord = MailMeta & { readonly id: number; readonly number: number };
