import type { RandomSource } from '../../crypto/seeded-random.js';
import { E2eError } from '../../e2e/errors.js';
import type { FrameRecipe } from '../../e2e/frame-seal.js';
import type { Contact, SealedFrame } from '../../e2e/mail-endpoint.js';
import { hexOf } from '../../codec/bytes.js';
import type { ClientCore } from '../directory.js';
import { resolveContact } from '../local-client.js';
import { ClientError } from '../errors.js';
import { SYNTHETIC_DOMAIN, syntheticAddress, type MailAddress, type MailDraft } from '../mail-format.js';
import { MAX_RECIPIENTS, RECIPIENT_FIELDS, type RecipientField } from '../sent-recipients.js';
import type { SendRequest } from './types.js';

/**
 * One recipient's envelope, sealed (by the packet builder's 'envelopes' job): its frame, its
 * erasure-coded chunks, and its outgoing body sealed for the mail store (for mail `mailId`).
 */
export interface SealedMail {
  readonly contact: Contact;
  readonly field: RecipientField;
  readonly sealed: SealedFrame;
  readonly chunks: readonly Uint8Array[];
  readonly sealedBody: Uint8Array;
}

/** The sender's copy as the Sent row takes it: sealed for its row key `rid` (MailStore.prepareSent); `mailId` the id its outgoing bodies name. */
export interface SentCopy {
  readonly subject: string;
  readonly size: number;
  readonly rid: Uint8Array;
  readonly sealedRaw: Uint8Array;
  readonly mailId: number;
}

/** One recipient's envelope before its seal: the ratchet stepped (MailEndpoint.prepareFrame). */
export interface PreparedEnvelope {
  readonly contact: Contact;
  readonly field: RecipientField;
  readonly recipe: FrameRecipe;
}

/** A recipient of a mail, and in which field the sender named it. */
export interface Recipient {
  readonly contact: Contact;
  readonly field: RecipientField;
}

/**
 * The first step of a send (docs/client.md, "Sending"): resolves every recipient (any unknown
 * one is an error before anything is sent), checks that each one's card names a mailbox server
 * (one missing from the network now is waited for), and drafts the sender's copy of the RFC 5322 mail (To, Cc and Bcc; every header
 * inside the encryption). Cheap: the bytes are written by the packet builder (a 'mail' job); each
 * recipient's copy is `copyFor`.
 */
export function draftMail(core: ClientCore, random: RandomSource, request: SendRequest, now: number): { recipients: Recipient[]; draft: MailDraft } {
  if (typeof request !== 'object' || request === null) throw new ClientError('bad-options', 'send needs { to, subject, body }');
  const recipients = resolveRecipients(core.endpoint.contactList(), request);
  // A server missing from the consensus now is waited for (the outbox); a card naming none is refused.
  for (const { contact } of recipients) {
    if (contact.card.servers.length === 0) throw new ClientError('no-provider', `${contact.card.name}'s card names no mailbox server`);
  }
  const own = core.endpoint.card;
  const addresses = (field: RecipientField): MailAddress[] =>
    recipients.filter((r) => r.field === field).map(({ contact }) => ({ name: contact.card.name, address: syntheticAddress(contact.card.name) }));
  const draft: MailDraft = {
    from: { name: own.name, address: syntheticAddress(own.name) },
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    subject: String(request.subject ?? ''),
    body: String(request.body ?? ''),
    attachments: request.attachments ?? [],
    dateMs: now,
    messageId: `${hexOf(random(16))}@${SYNTHETIC_DOMAIN}`,
    boundary: `umbra-${hexOf(random(12))}`,
  };
  return { recipients, draft };
}

/**
 * The contacts a request names, To first, then Cc, then Bcc; a contact named twice is kept once,
 * in the first field that names it. 'bad-options' for no recipient or more than MAX_RECIPIENTS;
 * 'unknown-contact' / 'ambiguous-contact' for a name that is not exactly one contact.
 */
export function resolveRecipients(contacts: readonly Contact[], request: Pick<SendRequest, 'to' | 'cc' | 'bcc'>): Recipient[] {
  const lists: Record<RecipientField, unknown> = { to: typeof request.to === 'string' ? [request.to] : request.to, cc: request.cc ?? [], bcc: request.bcc ?? [] };
  const named: { name: string; field: RecipientField }[] = [];
  for (const field of RECIPIENT_FIELDS) {
    const list = lists[field];
    if (!Array.isArray(list)) throw new ClientError('bad-options', `send: ${field} must be a list of contacts`);
    if (named.length + list.length > MAX_RECIPIENTS) throw new ClientError('bad-options', `a mail goes to at most ${MAX_RECIPIENTS} recipients (To, Cc and Bcc together)`);
    for (const name of list) named.push({ name: String(name), field });
  }
  if (named.length === 0) throw new ClientError('bad-options', 'send needs at least one recipient (to, cc or bcc)');
  const seen = new Set<string>();
  const recipients: Recipient[] = [];
  for (const { name, field } of named) {
    if (/@/.test(name) && !name.toLowerCase().endsWith(`@${SYNTHETIC_DOMAIN}`)) {
      throw new ClientError('unknown-contact', `${name.slice(0, 200)} is not an Umbra contact: ordinary email goes out only through a relay you set, when you ask for it for that mail ("external": true), and is not private`);
    }
    const contact = resolveContact(contacts, name.toLowerCase().endsWith(`@${SYNTHETIC_DOMAIN}`) ? name.slice(0, -SYNTHETIC_DOMAIN.length - 1) : name);
    if (seen.has(contact.key)) continue;
    seen.add(contact.key);
    recipients.push({ contact, field });
  }
  return recipients;
}

/**
 * What one recipient reads: To and Cc as the sender wrote them; a Bcc recipient also finds itself
 * (alone) in a Bcc header, so no one learns of another Bcc recipient (docs/client.md, "Several recipients").
 */
export function copyFor(draft: MailDraft, recipient: Recipient): MailDraft {
  const { name } = recipient.contact.card;
  return { ...draft, bcc: recipient.field === 'bcc' ? [{ name, address: syntheticAddress(name) }] : [] };
}

/**
 * Steps the recipient's session for a mail of `mailLength` bytes (the caller persists the endpoint
 * before anything of the message can leave): the header and the first contact's handshake are
 * done here, the AEADs over the mail, its padding and erasure coding are the packet builder's
 * ('envelopes' job). 'too-large' before anything changed.
 */
export function prepareEnvelope(core: ClientCore, recipient: Recipient, mailLength: number): PreparedEnvelope {
  const { contact, field } = recipient;
  try {
    return { contact, field, recipe: core.endpoint.prepareFrame(contact.card, mailLength) };
  } catch (error) {
    if (error instanceof E2eError && (error.code === 'too-large' || error.code === 'limit-exceeded')) {
      throw new ClientError('too-large', `the mail is too large to send (${mailLength} bytes)`);
    }
    throw error;
  }
}
