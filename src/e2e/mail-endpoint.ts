import { ByteReader, ByteWriter, hexOf, sameBytes, toBase64Url } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import type { Ack } from './ack.js';
import { unframe } from './padding.js';
import { decodeCard, encodeCard, MAX_CARD_BYTES, type ContactCard } from './card.js';
import { decodeFirstContactPayload, EnvelopeKind, ratchetAd, SESSION_SECRET_BYTES } from './envelope.js';
import { E2eError } from './errors.js';
import {
  chunkLength,
  DEFAULT_FRAGMENT_PARAMS,
  encodeShards,
  makeFragments,
  MESSAGE_ID_LENGTH,
  openFragment,
  SENDER_TAG_LENGTH,
  sealShard,
  totalShards,
  type FragmentParams,
  type FragmentSurb,
  type OpenedFragment,
} from './fragment.js';
import { decodeIdentity, encodeIdentity, type Identity } from './identity.js';
import type { Contact, Delivery, Outgoing, SealedFrame } from './mail-types.js';
import { RatchetSession } from './ratchet.js';
import { Reassembler, type ReassemblyLimits } from './reassembly.js';
import { firstContactHead, openFirstContact, sealFirstContact, storedSecret } from './sealed.js';
import { frameShards, sealFrameWith, type FrameRecipe } from './frame-seal.js';
import { CardSecrets } from './card-secrets.js';
import { distinct, legacyRelationshipKey, relationshipAddress, relationshipKey } from './relationship-address.js';

/**
 * One user's end of end-to-end mail: contacts, Double Ratchet sessions, and the path from a whole
 * RFC 5322 message to sealed fixed-size fragments and back (docs/e2e.md). Pure: the crypto backend,
 * the random source and the time are parameters; the caller persists state with exportState.
 */
export interface MailEndpointOptions {
  readonly fragment?: FragmentParams;
  readonly reassembly?: Partial<ReassemblyLimits>;
  /** When this user's own card says it was made (seconds since the Unix epoch). */
  readonly cardCreatedAt?: number;
}

export type { Contact, Delivery, Outgoing, SealedFrame } from './mail-types.js';

interface Session {
  /** Hex of BLAKE2b-256(session secret): the same on both sides, so resent first contacts find it. */
  readonly id: string;
  readonly peer: string;
  readonly ratchet: RatchetSession;
  /** Keys the session's mailbox addresses (relationship-address.ts): from SK, or legacy for old states. */
  readonly addressKey: Uint8Array;
  /**
   * Until the peer answers in this session, every message is a first contact announcing this
   * secret (the ratchet's root), each sealed under a fresh ephemeral key.
   */
  announcedSecret: Uint8Array | undefined;
  /** Order of last use, for choosing and evicting sessions. */
  used: number;
}

const MAX_SESSIONS_PER_CONTACT = 4;
const STATE_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x45]); // "UMBE"
const STATE_VERSION = 3;
/** Version 2 had no address keys (its sessions get legacy ones) and no retired card secrets. */
const STATE_VERSION_NO_ADDRESSES = 2;
/** Version 1 kept the first contact's ephemeral secret where version 2 keeps the session secret. */
const STATE_VERSION_EPHEMERAL = 1;
const MAX_CONTACTS = 100_000;
const MAX_RATCHET_STATE_BYTES = 1 << 20;
const TAG_LABEL = new TextEncoder().encode('umbra sender tag v1');
const SESSION_ID_LABEL = new TextEncoder().encode('umbra session id v1');
const UNKNOWN_SENDER = new Uint8Array(SENDER_TAG_LENGTH);

export class MailEndpoint {
  readonly params: FragmentParams;
  private readonly reassembler: Reassembler;
  private readonly secrets: CardSecrets;
  private readonly contacts = new Map<string, Contact>();
  private readonly tags = new Map<string, string>();
  private readonly sessions = new Map<string, Session[]>();
  private clock = 0;

  constructor(
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    identity: Identity,
    options: MailEndpointOptions = {},
  ) {
    this.params = options.fragment ?? DEFAULT_FRAGMENT_PARAMS;
    this.reassembler = new Reassembler(this.params, options.reassembly);
    this.secrets = new CardSecrets(crypto, random, identity, options.cardCreatedAt ?? 0);
  }

  /** The user's identity; its mailbox secret is the card's current one. */
  get identity(): Identity {
    return this.secrets.identity;
  }

  /** The user's own card, as handed to contacts. */
  get card(): ContactCard {
    return this.secrets.card;
  }

  /**
   * Every address to poll for `epoch` (docs/e2e-card.md, "Relationship and own addresses"): the
   * card's (first contacts), a rotated card's until its grace ends at `nowMs`, the own address
   * (ACKs, loops), and each session's address for mail to this user. Duplicates appear once.
   */
  pollAddresses(epoch: number, nowMs: number): Uint8Array[] {
    const own = this.identity.x25519Public;
    const sessions = [...this.sessions.values()].flat().map((s) => relationshipAddress(this.crypto, s.addressKey, own, epoch));
    return distinct([...this.secrets.addresses(epoch, nowMs), ...sessions]);
  }

  /** The address of `epoch` that ACK SURBs and loops lead to: no card lets anyone compute it. */
  ownAddress(epoch: number): Uint8Array {
    return this.secrets.ownAddress(epoch);
  }

  /** A new card with a new first-contact secret (card-secrets.ts); sessions are unaffected. */
  rotateCard(createdAt: number, nowMs: number, graceUntilMs: number): ContactCard {
    return this.secrets.rotate(createdAt, nowMs, graceUntilMs);
  }

  /** Adds (or updates, when newer) a contact from its verified card. */
  addContact(card: ContactCard): Contact {
    const key = hexOf(card.x25519Public);
    const existing = this.contacts.get(key);
    if (existing !== undefined && existing.card.createdAt >= card.createdAt) return existing;
    if (sameBytes(card.x25519Public, this.identity.x25519Public)) throw new E2eError('bad-card', 'that is our own card');
    const shared = this.crypto.x25519(this.identity.x25519Secret, card.x25519Public);
    const contact: Contact = { card, key, senderTag: this.crypto.blake2b(SENDER_TAG_LENGTH, TAG_LABEL, shared) };
    shared.fill(0);
    this.contacts.set(key, contact);
    this.tags.set(hexOf(contact.senderTag), key);
    return contact;
  }

  contactList(): Contact[] {
    return [...this.contacts.values()];
  }

  /** Encrypts and fragments a whole RFC 5322 message for a contact (see Outgoing.fragments). */
  seal(to: ContactCard, mail: Uint8Array): Outgoing {
    const sealed = this.sealFrame(to, mail);
    if ((this.params.surbLength ?? 0) > 0) return { ...sealed, fragments: [] };
    return { ...sealed, fragments: this.resend(sealed, [...Array(this.totalFragments(sealed.dataShards)).keys()]) };
  }

  /** seal without the fragments (the caller seals them, e.g. off its event loop); the ratchet steps. */
  sealFrame(to: ContactCard, mail: Uint8Array): SealedFrame {
    return sealFrameWith(this.crypto, this.prepareFrame(to, mail.length), mail);
  }

  /**
   * sealFrame's first half (frame-seal.ts): the ratchet step, header and first-contact handshake;
   * the AEADs over the `mailLength` bytes are sealFrameWith's, on any thread. 'too-large' first.
   */
  prepareFrame(to: ContactCard, mailLength: number): FrameRecipe {
    const contact = this.addContact(to);
    const session = this.sendingSession(contact);
    const announced = session.announcedSecret;
    const card = announced === undefined ? undefined : encodeCard(this.card);
    const length = chunkLength(this.params);
    const dataShards = frameShards(mailLength, card?.length, length);
    const ratchet = session.ratchet.encryptStep(mailLength, ratchetAd(this.identity.x25519Public, contact.card.x25519Public));
    // A fresh ephemeral key per seal: two first contacts never share Noise's key, nonce and AD.
    const firstContact = card === undefined || announced === undefined
      ? undefined
      : { card, sessionSecret: announced, seal: firstContactHead(this.crypto, this.random, this.identity, contact.card.x25519Public) };
    const messageId = this.random(MESSAGE_ID_LENGTH);
    const addressKey = announced === undefined ? session.addressKey : undefined;
    return { messageId, recipient: contact.card.x25519Public, senderTag: contact.senderTag, addressKey, dataShards, mailLength, chunkLength: length, ratchet, ...(firstContact === undefined ? {} : { firstContact }) };
  }

  /** Fresh seals of the shards a NACK names (no byte in common with the first copies). */
  resend(outgoing: SealedFrame, shardIndices: readonly number[], surbOf?: (shardIndex: number) => FragmentSurb): Uint8Array[] {
    return makeFragments(
      this.crypto, this.random, this.params, outgoing.recipient, outgoing.messageId, outgoing.senderTag,
      outgoing.frame, outgoing.dataShards, shardIndices, surbOf,
    );
  }

  /** The erasure-coded chunks of the listed shards (still to be sealed, one by one, by sealShard). */
  shards(outgoing: SealedFrame, shardIndices: readonly number[]): Uint8Array[] {
    const shards = encodeShards(this.params, outgoing.frame, outgoing.dataShards);
    return shardIndices.map((index) => {
      const chunk = shards[index];
      if (chunk === undefined) throw new RangeError(`fragment: shard ${index} of ${shards.length}`);
      return chunk.slice();
    });
  }

  /** Seals one shard's chunk, with the SURB for its acknowledgement, under a fresh ephemeral key. */
  sealShard(outgoing: SealedFrame, shardIndex: number, chunk: Uint8Array, surb: FragmentSurb | undefined): Uint8Array {
    const total = this.totalFragments(outgoing.dataShards);
    if (!Number.isInteger(shardIndex) || shardIndex < 0 || shardIndex >= total) throw new RangeError(`fragment: shard ${shardIndex}`);
    return sealShard(this.crypto, this.random, this.params, outgoing.recipient, {
      messageId: outgoing.messageId, senderTag: outgoing.senderTag, totalDataShards: outgoing.dataShards, shardIndex, chunk,
      ...(surb === undefined ? {} : { surb }),
    });
  }

  /** The number of fragments a message of `dataShards` data shards is sent as. */
  totalFragments(dataShards: number): number {
    return totalShards(this.params, dataShards);
  }

  /**
   * Takes one fragment from the mailbox. Returns 'delivered' with the mail when it completes a
   * message; throws E2eError for fragments not for this user ('not-for-me'), malformed ones, and
   * messages that do not open ('unknown-session', 'bad-message', 'replay', …).
   */
  receive(fragment: Uint8Array, nowMs: number): Delivery {
    return this.receiveOpened(this.open(fragment), nowMs);
  }

  /** Opens a fragment with this user's key ('not-for-me' when it is not this user's, 'bad-fragment'). */
  open(fragment: Uint8Array): OpenedFragment {
    return openFragment(this.crypto, this.params, this.identity.x25519Secret, this.identity.x25519Public, fragment);
  }

  /** `receive` of a fragment already opened (by `open`). */
  receiveOpened(fragment: OpenedFragment, nowMs: number): Delivery {
    const opened: OpenedFragment = { ...fragment };
    // Tags of unknown senders share one reassembly quota, so a stranger cannot claim many.
    if (!this.tags.has(hexOf(opened.senderTag))) opened.senderTag = UNKNOWN_SENDER;
    const result = this.reassembler.add(opened, nowMs);
    if (result.status !== 'complete') return { status: result.status, messageId: result.messageId };
    const { kind, envelope } = unframe(result.data ?? new Uint8Array(0));
    if (kind === EnvelopeKind.firstContact) return this.openFirstContact(result.messageId, envelope);
    if (kind === EnvelopeKind.ratchet) return this.openRatchet(result.messageId, envelope);
    throw new E2eError('bad-message', `unknown envelope kind ${kind}`);
  }

  /** What the recipient's agent answers through a SURB: ACK once complete, else NACK with what is missing. */
  acknowledgement(messageId: Uint8Array): Ack {
    const state = this.reassembler.state(messageId);
    if (state === 'complete') return { messageId, kind: 'ack', missing: [] };
    return { messageId, kind: 'nack', missing: this.reassembler.missing(messageId) };
  }

  /** Drops partial messages older than the reassembly age limit. */
  expire(nowMs: number): void {
    this.reassembler.expire(nowMs);
  }

  /**
   * Everything the endpoint must keep across restarts: identity, contacts, sessions (ratchet states
   * with their skipped keys). Partial messages in reassembly are not kept: senders resend on NACK or
   * timeout. The caller encrypts this at rest (it holds every secret of the user).
   */
  exportState(): Uint8Array {
    const writer = new ByteWriter(4096).bytes(STATE_MAGIC).u8(STATE_VERSION);
    writer.prefixed(4, encodeIdentity(this.identity)).u64(this.card.createdAt).u64(this.clock);
    this.secrets.writeRetired(writer);
    writer.u32(this.contacts.size);
    for (const contact of this.contacts.values()) writer.prefixed(2, encodeCard(contact.card));
    const sessions = [...this.sessions.values()].flat();
    writer.u32(sessions.length);
    for (const session of sessions) {
      writer.text(1, session.id).text(1, session.peer).u64(session.used);
      writer.u8(session.announcedSecret === undefined ? 0 : 1);
      if (session.announcedSecret !== undefined) writer.bytes(session.announcedSecret);
      writer.bytes(session.addressKey);
      writer.prefixed(4, session.ratchet.encode());
    }
    return writer.finish();
  }

  /** An endpoint from exportState's bytes; anything that does not parse is 'bad-state'. */
  static restore(crypto: Crypto, random: RandomSource, bytes: Uint8Array, options: MailEndpointOptions = {}): MailEndpoint {
    try {
      const reader = new ByteReader(bytes, 'endpoint state');
      const magic = reader.bytesOf(4, 'magic');
      const version = sameBytes(magic, STATE_MAGIC) ? reader.u8('version') : 0;
      if (version !== STATE_VERSION && version !== STATE_VERSION_NO_ADDRESSES && version !== STATE_VERSION_EPHEMERAL) throw new DecodeError('endpoint state', 'not an endpoint state');
      const identity = decodeIdentity(reader.prefixed(4, 1 << 16, 'identity'), crypto);
      const cardCreatedAt = reader.u64('card time');
      const endpoint = new MailEndpoint(crypto, random, identity, { ...options, cardCreatedAt });
      endpoint.clock = reader.u64('clock');
      if (version === STATE_VERSION) endpoint.secrets.readRetired(reader);
      const contacts = reader.u32('contacts');
      if (contacts > MAX_CONTACTS) throw new DecodeError('endpoint state', 'too many contacts');
      for (let i = 0; i < contacts; i++) endpoint.addContact(decodeCard(crypto, reader.prefixed(2, MAX_CARD_BYTES, 'card')));
      const sessions = reader.u32('sessions');
      if (sessions > contacts * MAX_SESSIONS_PER_CONTACT) throw new DecodeError('endpoint state', 'too many sessions');
      for (let i = 0; i < sessions; i++) {
        const id = reader.text(1, 64, 'session id');
        const peer = reader.text(1, 64, 'peer');
        const used = reader.u64('used');
        const stored = reader.u8('announced flag') === 1 ? reader.bytesOf(32, 'announced secret') : undefined;
        const storedKey = version === STATE_VERSION ? reader.bytesOf(32, 'address key') : undefined;
        const ratchet = RatchetSession.decode(crypto, random, reader.prefixed(4, MAX_RATCHET_STATE_BYTES, 'ratchet'));
        const contact = endpoint.contacts.get(peer);
        if (contact === undefined) throw new DecodeError('endpoint state', 'a session with no contact');
        const announcedSecret = stored === undefined || version !== STATE_VERSION_EPHEMERAL ? stored : endpoint.secretOfEphemeral(contact, stored);
        // A session saved without an address key gets the legacy one, which its peer derives alike.
        const addressKey = storedKey ?? legacyRelationshipKey(crypto, identity.x25519Secret, contact.card.x25519Public);
        endpoint.storeSession({ id, peer, ratchet, announcedSecret, addressKey, used });
      }
      reader.end();
      return endpoint;
    } catch (error) {
      if (error instanceof E2eError && error.code === 'bad-state') throw error;
      if (error instanceof DecodeError || error instanceof E2eError) throw new E2eError('bad-state', error.message);
      throw error;
    }
  }

  private openFirstContact(messageId: Uint8Array, envelope: Uint8Array): Delivery {
    const opened = openFirstContact(this.crypto, this.identity, envelope);
    const { card: cardBytes, sessionSecret, ratchetMessage } = decodeFirstContactPayload(opened.payload);
    const card = decodeCard(this.crypto, cardBytes);
    if (!sameBytes(card.x25519Public, opened.senderX25519Public)) {
      throw new E2eError('sender-mismatch', 'the enclosed card is not the key that sealed the message');
    }
    const newContact = !this.contacts.has(hexOf(card.x25519Public));
    const id = this.sessionId(sessionSecret);
    const peer = hexOf(card.x25519Public);
    let session = (this.sessions.get(peer) ?? []).find((s) => s.id === id);
    const isNew = session === undefined;
    if (session === undefined) {
      const ratchet = RatchetSession.initReceiver(this.crypto, this.random, sessionSecret, {
        secret: this.identity.x25519Secret,
        public: this.identity.x25519Public,
      });
      session = { id, peer, ratchet, announcedSecret: undefined, addressKey: relationshipKey(this.crypto, sessionSecret), used: 0 };
    }
    const mail = session.ratchet.decrypt(ratchetMessage, ratchetAd(card.x25519Public, this.identity.x25519Public));
    // Only a message that opened creates the contact and the session.
    const contact = this.addContact(card);
    if (isNew) this.storeSession(session);
    session.used = ++this.clock;
    return { status: 'delivered', messageId, from: contact.card, newContact, mail };
  }

  private openRatchet(messageId: Uint8Array, envelope: Uint8Array): Delivery {
    for (const list of this.sessions.values()) {
      for (const session of list) {
        if (!session.ratchet.opensHeader(envelope)) continue;
        const contact = this.contacts.get(session.peer);
        if (contact === undefined) continue;
        const mail = session.ratchet.decrypt(envelope, ratchetAd(contact.card.x25519Public, this.identity.x25519Public));
        session.announcedSecret = undefined; // the peer answered: it has the session
        session.used = ++this.clock;
        return { status: 'delivered', messageId, from: contact.card, newContact: false, mail };
      }
    }
    throw new E2eError('unknown-session', 'no session opens this message');
  }

  /**
   * The session to send in: the most recently used one the peer is known to hold, else the one we
   * started and keep announcing, else a new first contact.
   */
  private sendingSession(contact: Contact): Session {
    const list = this.sessions.get(contact.key) ?? [];
    const confirmed = list.filter((s) => s.announcedSecret === undefined).sort((a, b) => b.used - a.used)[0];
    const session = confirmed ?? list.find((s) => s.announcedSecret !== undefined) ?? this.startSession(contact);
    session.used = ++this.clock;
    return session;
  }

  private startSession(contact: Contact): Session {
    const sessionSecret = this.random(SESSION_SECRET_BYTES);
    const ratchet = RatchetSession.initSender(this.crypto, this.random, sessionSecret, contact.card.x25519Public);
    const session: Session = {
      id: this.sessionId(sessionSecret), peer: contact.key, ratchet, announcedSecret: sessionSecret,
      addressKey: relationshipKey(this.crypto, sessionSecret), used: 0,
    };
    this.storeSession(session);
    return session;
  }

  private storeSession(session: Session): void {
    const list = this.sessions.get(session.peer) ?? [];
    list.push(session);
    if (list.length > MAX_SESSIONS_PER_CONTACT) {
      list.sort((a, b) => b.used - a.used);
      list.length = MAX_SESSIONS_PER_CONTACT;
    }
    this.sessions.set(session.peer, list);
  }

  /**
   * A version-1 session's secret from the ephemeral secret it kept: the Split() key its first
   * contacts were sealed to, which the peer may already hold. The empty payload does not change it.
   */
  private secretOfEphemeral(contact: Contact, ephemeralSecret: Uint8Array): Uint8Array {
    return sealFirstContact(this.crypto, storedSecret(ephemeralSecret), this.identity, contact.card.x25519Public, new Uint8Array(0)).sessionSecret;
  }

  private sessionId(sessionSecret: Uint8Array): string {
    return toBase64Url(this.crypto.blake2b(32, SESSION_ID_LABEL, sessionSecret));
  }
}
