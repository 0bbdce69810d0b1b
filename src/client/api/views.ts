import type { ContactInfo, MailView } from '../local-client.js';
import type { MailRecord, SentMeta } from '../mail-store.js';
import { recipientNames, recipientsOf } from '../sent-recipients.js';

/**
 * The JSON shapes of mail and contacts, one for every consumer: the API's responses and
 * `umbra client … --json` print the same objects (docs/api.md, schemas MailSummary, Message, Contact).
 */
export function mailSummary(record: MailRecord): Record<string, unknown> {
  if (record.folder === 'inbox') {
    return { id: record.id, number: record.number, folder: 'inbox', subject: record.subject, from: record.fromName, received_ms: record.receivedMs, read: record.read, size: record.size };
  }
  const recipients = recipientsOf(record);
  return {
    id: record.id, number: record.number, folder: 'sent', subject: record.subject, to: recipientNames(recipients), created_ms: record.createdMs, status: record.status,
    ...(record.reason !== undefined ? { reason: record.reason } : {}), size: record.size, recipients: recipientViews(record),
    ...(record.warning === undefined ? {} : { private: false, warning: record.warning }),
  };
}

/** Each recipient of a sent mail and how its envelope is doing (schema SentRecipient). */
function recipientViews(record: SentMeta): Record<string, unknown>[] {
  return recipientsOf(record).map((r) => ({
    name: r.name, key: r.key, field: r.field, status: r.status, status_ms: r.statusMs, attempts: r.attempts, ...(r.reason === undefined ? {} : { reason: r.reason }),
  }));
}

export function messageView(mail: MailView): Record<string, unknown> {
  const { parsed, record } = mail;
  return {
    id: record.id, number: record.number, folder: record.folder, from: parsed.from, to: parsed.to,
    ...(parsed.cc === '' ? {} : { cc: parsed.cc }), ...(parsed.bcc === '' ? {} : { bcc: parsed.bcc }),
    subject: parsed.subject, date: parsed.date, text: parsed.text,
    attachments: parsed.attachments.map((file) => ({ filename: file.filename, content_type: file.contentType, size: file.data.length })),
    raw: Buffer.from(mail.raw).toString('base64'),
    ...(record.folder === 'sent'
      ? {
          status: record.status, ...(record.reason !== undefined ? { reason: record.reason } : {}), recipients: recipientViews(record),
          ...(record.warning === undefined ? {} : { private: false, warning: record.warning }),
        }
      : { read: true }),
  };
}

export function contactView(contact: ContactInfo): Record<string, unknown> {
  return { name: contact.name, key: contact.key, safety_number: contact.safetyNumber, servers: [...contact.servers], card_uri: contact.cardUri };
}
