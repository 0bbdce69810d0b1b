import type { ContactInfo } from '../local-client.js';
import { SYNTHETIC_DOMAIN, syntheticAddress } from '../mail-build.js';

/**
 * Which contact an address in a mail program means (docs/bridge.md, "Addresses"). Umbra contacts
 * have addresses in the `umbra` domain: the contact's name as `umbra client contact list` shows it,
 * in the same form the mail headers carry (`bob@umbra`, `ana-maria@umbra`), or the first 8 to 64
 * hex digits of its key (`3f2a9c01d4e5@umbra`), which stays unique when two contacts share a name.
 */
export type RecipientMatch =
  | { readonly kind: 'contact'; readonly contact: ContactInfo }
  | { readonly kind: 'unknown'; readonly reason: string }
  | { readonly kind: 'outside'; readonly reason: string };

const MAX_ADDRESS = 320;

export function matchRecipient(contacts: readonly ContactInfo[], address: string): RecipientMatch {
  const at = address.lastIndexOf('@');
  if (address.length > MAX_ADDRESS || at <= 0) return { kind: 'unknown', reason: 'not an address' };
  const local = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  if (domain !== SYNTHETIC_DOMAIN) {
    return { kind: 'outside', reason: `${domain} is not an Umbra address; Umbra mail goes to contacts as NAME@${SYNTHETIC_DOMAIN}` };
  }
  if (/^[0-9a-f]{8,64}$/.test(local)) {
    const byKey = contacts.filter((c) => c.key.startsWith(local));
    if (byKey.length === 1) return { kind: 'contact', contact: byKey[0] };
  }
  const byName = contacts.filter((c) => syntheticAddress(c.name) === `${local}@${SYNTHETIC_DOMAIN}`);
  if (byName.length === 1) return { kind: 'contact', contact: byName[0] };
  if (byName.length > 1) return { kind: 'unknown', reason: `${byName.length} contacts are ${local}@${SYNTHETIC_DOMAIN}: use the key (${byName.map((c) => `${c.key.slice(0, 12)}@${SYNTHETIC_DOMAIN}`).join(', ')})` };
  return { kind: 'unknown', reason: `no contact ${local}@${SYNTHETIC_DOMAIN}: add their card first (umbra client contact add)` };
}
