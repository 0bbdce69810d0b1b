import type { RandomSource } from '../../crypto/seeded-random.js';
import { E2eError } from '../../e2e/errors.js';
import type { Contact, SealedFrame } from '../../e2e/mail-endpoint.js';
import { hexOf } from '../../codec/bytes.js';
import type { ClientCore } from '../directory.js';
import { resolveContact } from '../local-client.js';
import { ClientError } from '../errors.js';
import { SYNTHETIC_DOMAIN, syntheticAddress, type MailDraft } from '../mail-format.js';
import type { SendRequest } from './types.js';

export interface SealedMail {
  readonly contact: Contact;
  /** The RFC 5322 bytes, kept in the Sent folder. */
  readonly mail: Uint8Array;
  /** The subject as the mail says it (for the Sent folder's list). */
  readonly subject: string;
  /** The encrypted, framed message; its fragments are sealed later, by the packet builder. */
  readonly sealed: SealedFrame;
}

/**
 * The first step of a send (docs/client.md, "Sending"): resolves the recipient, checks that its
 * card names a mailbox server (one missing from the network now is waited for), and drafts the RFC 5322 mail (every header inside the
 * encryption). Cheap: the bytes are written by the packet builder (a 'mail' job).
 */
export function draftMail(core: ClientCore, random: RandomSource, request: SendRequest, now: number): { contact: Contact; draft: MailDraft } {
  if (typeof request !== 'object' || request === null) throw new ClientError('bad-options', 'send needs { to, subject, body }');
  const contact = resolveContact(core.endpoint.contactList(), String(request.to ?? ''));
  // A server missing from the consensus now is waited for (the outbox); a card naming none is refused.
  if (contact.card.servers.length === 0) throw new ClientError('no-provider', `${contact.card.name}'s card names no mailbox server`);
  const own = core.endpoint.card;
  const draft: MailDraft = {
    from: { name: own.name, address: syntheticAddress(own.name) },
    to: [{ name: contact.card.name, address: syntheticAddress(contact.card.name) }],
    subject: String(request.subject ?? ''),
    body: String(request.body ?? ''),
    attachments: request.attachments ?? [],
    dateMs: now,
    messageId: `${hexOf(random(16))}@${SYNTHETIC_DOMAIN}`,
    boundary: `umbra-${hexOf(random(12))}`,
  };
  return { contact, draft };
}

/**
 * Encrypts the written mail for the recipient's session (the ratchet steps: the caller persists
 * the endpoint before anything of the message can leave). One AEAD over the mail and the padded
 * frame: the erasure coding and the per-fragment seals are the packet builder's ('fragments' and
 * 'fragment-packet' jobs).
 */
export function sealMail(core: ClientCore, contact: Contact, mail: Uint8Array, subject: string): SealedMail {
  try {
    return { contact, mail, subject, sealed: core.endpoint.sealFrame(contact.card, mail) };
  } catch (error) {
    if (error instanceof E2eError && (error.code === 'too-large' || error.code === 'limit-exceeded')) {
      throw new ClientError('too-large', `the mail is too large to send (${mail.length} bytes)`);
    }
    throw error;
  }
}
