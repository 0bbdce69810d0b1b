import type { RecipientField, SentMeta, SentRecipient, SentStatus } from './mail-meta.js';

export type { RecipientField, SentRecipient } from './mail-meta.js';

/**
 * Delivery per recipient of a sent mail (docs/client.md, "Several recipients"). Each recipient's
 * copy is its own envelope (its own end-to-end message ID, session, fragments and ACK); the Sent
 * folder keeps one row for the mail, whose `recipients` say how each envelope is doing and whose
 * `status` sums them up (mailStatusOf).
 */
export const RECIPIENT_FIELDS: readonly RecipientField[] = ['to', 'cc', 'bcc'];
/** The most recipients a mail takes, To, Cc and Bcc together (each is an envelope of its own). */
export const MAX_RECIPIENTS = 100;

/** The recipients of a sent row; a row written before there were several is its one To recipient. */
export function recipientsOf(meta: SentMeta): readonly SentRecipient[] {
  if (meta.recipients !== undefined) return meta.recipients;
  const { messageId, toKey: key, toName: name, status, statusMs, attempts } = meta;
  return [{ messageId, key, name, field: 'to', status, statusMs, attempts, ...(meta.reason === undefined ? {} : { reason: meta.reason }) }];
}

const FINAL: ReadonlySet<SentStatus> = new Set(['delivered', 'failed']);

/** True when the status no longer changes by itself. */
export function isFinal(status: SentStatus): boolean {
  return FINAL.has(status);
}

/**
 * The mail's status from its recipients': 'delivered' when every envelope is; 'failed' once every
 * envelope is final and one failed (the reason names who); else the status of the envelopes still
 * on their way ('sending' when any packet of them left).
 */
export function mailStatusOf(recipients: readonly SentRecipient[]): { status: SentStatus; reason?: string } {
  const open = recipients.filter((r) => !isFinal(r.status));
  if (open.length > 0) {
    if (open.some((r) => r.status === 'sending')) return { status: 'sending' };
    // Waiting for a recipient's server: the mail says why (each waiting recipient's reason).
    const waiting = open.filter((r) => r.status === 'waiting' && r.reason !== undefined);
    if (waiting.length === 0) return { status: open[0].status };
    const reason = recipients.length === 1 ? waiting[0].reason! : waiting.map((r) => `${r.name}: ${r.reason}`).join('; ');
    return { status: 'waiting', reason };
  }
  const failed = recipients.filter((r) => r.status === 'failed');
  if (failed.length === 0) return { status: 'delivered' };
  if (recipients.length === 1) return { status: 'failed', ...(failed[0].reason === undefined ? {} : { reason: failed[0].reason }) };
  const delivered = recipients.length - failed.length;
  const why = failed.map((r) => `${r.name}: ${r.reason ?? 'unknown'}`).join('; ');
  return { status: 'failed', reason: `not delivered to ${failed.length} of ${recipients.length} recipients (${delivered} delivered) — ${why}` };
}

/**
 * The sent row after one envelope's status changed: that recipient's entry, then the mail's
 * status (mailStatusOf). A message ID the row does not list leaves it as it was.
 */
export function withRecipientStatus(meta: SentMeta, messageId: string, change: { status: SentStatus; statusMs: number; attempts: number; reason?: string }): SentMeta {
  const before = recipientsOf(meta);
  if (!before.some((r) => r.messageId === messageId)) return meta;
  const recipients = before.map((r) => {
    if (r.messageId !== messageId) return r;
    const { reason: _old, ...rest } = r;
    return { ...rest, status: change.status, statusMs: change.statusMs, attempts: change.attempts, ...(change.reason === undefined ? {} : { reason: change.reason }) };
  });
  const mail = mailStatusOf(recipients);
  const { reason: _old, ...rest } = meta;
  const attempts = Math.max(...recipients.map((r) => r.attempts));
  return { ...rest, recipients, status: mail.status, statusMs: change.statusMs, attempts, ...(mail.reason === undefined ? {} : { reason: mail.reason }) };
}

/** "bob, carol (cc), dave (bcc)": the recipients as the Sent list shows them. */
export function recipientNames(recipients: readonly SentRecipient[]): string {
  return recipients.map((r) => (r.field === 'to' ? r.name : `${r.name} (${r.field})`)).join(', ');
}
