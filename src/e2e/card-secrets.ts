import type { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { makeCard, type ContactCard } from './card.js';
import { E2eError } from './errors.js';
import type { Identity } from './identity.js';
import { mailboxAddress } from './mailbox-address.js';
import { ownAddress } from './relationship-address.js';

/** A card secret replaced by `rotate`: its address is still polled until `untilMs`. */
export interface RetiredCardSecret {
  readonly secret: Uint8Array;
  /** Unix ms. */
  readonly untilMs: number;
}

/** Retired secrets kept at most; the oldest grace ends first. */
export const MAX_RETIRED_CARD_SECRETS = 8;

/**
 * The user's identity and card with the first-contact secret they carry, the secrets a rotation
 * retired (each polled until its grace ends), and the own secret of ACK and loop addresses, which
 * no card carries and no rotation changes (docs/e2e-card.md, "Rotating the card").
 */
export class CardSecrets {
  identity: Identity;
  card: ContactCard;
  retired: RetiredCardSecret[] = [];
  private readonly ownSecret: Uint8Array;

  constructor(
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    identity: Identity,
    createdAt: number,
  ) {
    this.identity = identity;
    this.card = makeCard(crypto, identity, createdAt);
    // The identity's reply secret (random; for an identity from before version 2, ownMailboxSecret).
    this.ownSecret = identity.replySecret;
  }

  /** The card's address, the retired cards' still in grace at `nowMs`, and the own address, of `epoch`. */
  addresses(epoch: number, nowMs: number): Uint8Array[] {
    const addresses = [mailboxAddress(this.crypto, this.identity.mailboxSecret, epoch)];
    for (const old of this.retired) if (old.untilMs > nowMs) addresses.push(mailboxAddress(this.crypto, old.secret, epoch));
    addresses.push(this.ownAddress(epoch));
    return addresses;
  }

  ownAddress(epoch: number): Uint8Array {
    return ownAddress(this.crypto, this.ownSecret, epoch);
  }

  /** A fresh first-contact secret and a new card carrying it; the old secret is retired until `graceUntilMs`. */
  rotate(createdAt: number, nowMs: number, graceUntilMs: number): ContactCard {
    if (!Number.isSafeInteger(graceUntilMs) || !Number.isSafeInteger(nowMs)) throw new E2eError('bad-card', 'the grace period is not a whole number of ms');
    const identity = { ...this.identity, mailboxSecret: this.random(32) };
    const card = makeCard(this.crypto, identity, Math.max(createdAt, this.card.createdAt + 1));
    const retired = this.retired.filter((old) => old.untilMs > nowMs);
    if (graceUntilMs > nowMs) retired.push({ secret: this.identity.mailboxSecret, untilMs: graceUntilMs });
    retired.sort((a, b) => b.untilMs - a.untilMs);
    this.retired = retired.slice(0, MAX_RETIRED_CARD_SECRETS);
    this.identity = identity;
    this.card = card;
    return card;
  }

  /** count (u8) ‖ each: secret (32) ‖ until (u64 ms). */
  writeRetired(writer: ByteWriter): void {
    writer.u8(this.retired.length);
    for (const old of this.retired) writer.bytes(old.secret).u64(old.untilMs);
  }

  readRetired(reader: ByteReader): void {
    const count = reader.u8('retired card secrets');
    if (count > MAX_RETIRED_CARD_SECRETS) throw new DecodeError('endpoint state', 'too many retired card secrets');
    this.retired = [];
    for (let i = 0; i < count; i++) this.retired.push({ secret: reader.bytesOf(32, 'retired card secret'), untilMs: reader.u64('retired until') });
  }
}
