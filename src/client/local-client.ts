import { bridgePassword, bridgeTls, rememberedPorts, rememberPorts, type BridgeCredentials, type BridgePorts } from './bridge/credentials.js';
import { hexOf, toBase64Url } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { cardFromUri, cardToUri, formatSafetyNumber, safetyNumber, type ContactCard } from '../e2e/card.js';
import { E2eError } from '../e2e/errors.js';
import type { Contact } from '../e2e/mail-endpoint.js';
import type { ClientCore } from './directory.js';
import { ClientError } from './errors.js';
import { clearRelay, readRelay, relayView, writeRelay, type RelayConfig, type RelayView } from './relay.js';
import { sendThroughRelay, type ExternalSendRequest, type ExternalSendResult } from './relay-send.js';
import type { KdfParams } from './keystore.js';
import { buildMail, SYNTHETIC_DOMAIN, syntheticAddress } from './mail-build.js';
import { parseMail, type ParsedMail } from './mail-format.js';
import type { MailFolders } from './mail-folders.js';
import type { InboxMeta, MailFolder, MailRecord, SentMeta } from './mail-store.js';
import type { ClientSettings } from './settings.js';

/**
 * What an opened client offers without the network (docs/client.md, "API"): the user's card, the
 * contacts, the local mail store. LocalClient serves it; the running agent extends it.
 */
export interface ContactInfo {
  readonly name: string;
  /** Hex of the contact's X25519 key: names the contact unambiguously (send({ to }) takes it too). */
  readonly key: string;
  readonly servers: readonly string[];
  /** When the contact's card was made (Unix seconds). */
  readonly cardCreatedAt: number;
  /** To compare with the contact over another channel (12 groups of 5 digits). */
  readonly safetyNumber: string;
  readonly cardUri: string;
}

/** `id`: the store's row id (the API's /messages/{id}); `number`: the mail's number in its folder. */
export type InboxEntry = InboxMeta & { readonly id: number; readonly number: number };
export type SentEntry = SentMeta & { readonly id: number; readonly number: number };

export interface MailView {
  readonly record: MailRecord;
  /** The RFC 5322 bytes exactly as received or sent. */
  readonly raw: Uint8Array;
  readonly parsed: ParsedMail;
}

/** What every opened client offers, running or not. */
export interface Client {
  readonly dir: string;
  readonly name: string;
  readonly settings: ClientSettings;
  /** The user's own card as an `umbra:card:` URI. */
  cardUri(): string;
  contacts(): ContactInfo[];
  /** Adds (or updates with a newer card) a contact from a verified `umbra:card:` URI. */
  addContact(uri: string): ContactInfo;
  /**
   * A new card with a new first-contact secret (docs/client.md, "Rotating the card"); its URI.
   * Contacts in a session are unaffected; the old card's address is polled for `graceDays` more.
   */
  rotateCard(graceDays: number): string;
  inbox(): InboxEntry[];
  sent(): SentEntry[];
  /**
   * The id of mail `number` of a folder (inbox #1 is the first mail received, sent #1 the first
   * sent); 'unknown-mail' if there is none.
   */
  mailIdOf(folder: MailFolder, number: number): number;
  /**
   * A mail with its bytes and parsed form; an inbox mail is marked read (the read flag IMAP shows
   * as \Seen). 'unknown-mail' if absent.
   */
  read(id: number): MailView;
  /** Deletes a mail from the local store (inbox or sent); 'unknown-mail' if absent. */
  deleteMail(id: number): void;
  /**
   * The bearer token of the agent's local API: made at random the first time, then kept in the
   * encrypted mail store (docs/api.md).
   */
  apiToken(): string;
  /** The mail bridge's login and STARTTLS certificate, made the first time (docs/bridge.md). */
  bridgeCredentials(): Promise<BridgeCredentials>;
  /**
   * Puts a notice from the agent itself into the inbox (a mail program's bounce: a mail accepted
   * by the bridge that then failed); its id. The sender is `Umbra <mailer-daemon@umbra>`.
   */
  addNotice(subject: string, text: string): number;
  /** The relay for ordinary email, without its password; undefined while none is set (relay.ts). */
  relay(): RelayView | undefined;
  /** Sets the relay for ordinary email ('bad-options' naming every problem). */
  setRelay(config: RelayConfig): RelayView;
  /** Forgets the relay; true when one was set. */
  clearRelay(): boolean;
  /**
   * Sends ordinary, NOT private email through the relay, to plain addresses (relay-send.ts): only
   * when the user asked for it for this message. 'no-relay' when none is set.
   */
  sendExternal(request: ExternalSendRequest): Promise<ExternalSendResult>;
  /** Keeps the bridge's SMTP and IMAP ports for the next run. */
  rememberBridgePorts(ports: BridgePorts): void;
  /** The mail folders (INBOX, Sent, Drafts, Trash, Archive, the user's) the bridge's IMAP shows. */
  folders(): MailFolders;
  /** Re-encrypts the keystore under a new passphrase (fresh salt). */
  changePassphrase(passphrase: string, kdf?: KdfParams): Promise<void>;
  close(): Promise<void>;
}

/** The agent-state entry holding the API token. */
const API_TOKEN_STATE = 'api-token';

const DAY_MS = 86_400_000;
/** The longest grace a rotated card's address is polled for. */
export const MAX_GRACE_DAYS = 365;
/** The default grace of `umbra client rotate-card`: mail's retention window. */
export const DEFAULT_GRACE_DAYS = 7;

function errorFromE2e(error: unknown): never {
  if (error instanceof E2eError && (error.code === 'bad-card' || error.code === 'bad-uri')) {
    throw new ClientError('bad-card', `not a valid contact card: ${error.message.replace(/^e2e: /, '')}`);
  }
  throw error;
}

export function contactInfo(crypto: Crypto, own: ContactCard, card: ContactCard): ContactInfo {
  return {
    name: card.name,
    key: hexOf(card.x25519Public),
    servers: [...card.servers],
    cardCreatedAt: card.createdAt,
    safetyNumber: formatSafetyNumber(safetyNumber(crypto, own, card)),
    cardUri: cardToUri(card),
  };
}

/**
 * The contact `to` names: its key in hex (or a unique prefix of at least 8 hex digits), else its
 * exact name, else its name ignoring case. 'unknown-contact' / 'ambiguous-contact' otherwise.
 */
export function resolveContact(contacts: readonly Contact[], to: string): Contact {
  const wanted = to.trim();
  const lower = wanted.toLowerCase();
  if (/^[0-9a-f]{8,64}$/.test(lower)) {
    const byKey = contacts.filter((contact) => contact.key.startsWith(lower));
    if (byKey.length === 1) return byKey[0];
  }
  for (const match of [(c: Contact) => c.card.name === wanted, (c: Contact) => c.card.name.toLowerCase() === lower]) {
    const found = contacts.filter(match);
    if (found.length === 1) return found[0];
    if (found.length > 1) {
      throw new ClientError('ambiguous-contact', `${found.length} contacts are named '${wanted}': use the key (${found.map((c) => c.key.slice(0, 12)).join(', ')})`);
    }
  }
  throw new ClientError('unknown-contact', `no contact named '${wanted}' (add their card first)`);
}

/** The offline client: everything but the network. The agent (agent.ts) extends it. */
export class LocalClient implements Client {
  constructor(protected readonly core: ClientCore) {}

  get dir(): string {
    return this.core.dir;
  }

  get name(): string {
    return this.core.endpoint.card.name;
  }

  get settings(): ClientSettings {
    return this.core.settings;
  }

  cardUri(): string {
    return cardToUri(this.core.endpoint.card);
  }

  contacts(): ContactInfo[] {
    const own = this.core.endpoint.card;
    return this.core.endpoint.contactList().map((contact) => contactInfo(this.core.crypto, own, contact.card));
  }

  addContact(uri: string): ContactInfo {
    let card: ContactCard;
    try {
      card = cardFromUri(this.core.crypto, typeof uri === 'string' ? uri.trim() : uri);
    } catch (error) {
      errorFromE2e(error);
    }
    let contact: Contact;
    try {
      contact = this.core.endpoint.addContact(card);
    } catch (error) {
      errorFromE2e(error);
    }
    this.core.persist();
    return contactInfo(this.core.crypto, this.core.endpoint.card, contact.card);
  }

  rotateCard(graceDays: number): string {
    if (!Number.isFinite(graceDays) || graceDays < 0 || graceDays > MAX_GRACE_DAYS) {
      throw new ClientError('bad-options', `the grace period is 0 to ${MAX_GRACE_DAYS} days`);
    }
    const now = this.now();
    const card = this.core.endpoint.rotateCard(Math.floor(now / 1000), now, now + Math.round(graceDays * DAY_MS));
    this.core.persist();
    return cardToUri(card);
  }

  /** Unix ms: the system clock here, the agent's clock in the agent. */
  protected now(): number {
    return Date.now();
  }

  inbox(): InboxEntry[] {
    return this.core.store.list('inbox') as InboxEntry[];
  }

  sent(): SentEntry[] {
    return this.core.store.list('sent') as SentEntry[];
  }

  mailIdOf(folder: MailFolder, number: number): number {
    const id = Number.isSafeInteger(number) && number >= 1 ? this.core.store.idOf(folder, number) : undefined;
    if (id === undefined) throw new ClientError('unknown-mail', `no ${folder === 'inbox' ? 'inbox' : 'sent'} mail #${number}`);
    return id;
  }

  read(id: number): MailView {
    const found = this.core.store.get(id);
    if (found === undefined) throw new ClientError('unknown-mail', `no mail with id ${id}`);
    let record = found.record;
    if (record.folder === 'inbox' && !record.read) record = this.core.store.setRead(id, true) ?? record;
    return { record, raw: found.raw, parsed: parseMail(found.raw) };
  }

  deleteMail(id: number): void {
    if (!this.core.store.delete(id)) throw new ClientError('unknown-mail', `no mail with id ${id}`);
  }

  apiToken(): string {
    const stored = this.core.store.getAgentState(API_TOKEN_STATE);
    if (stored !== undefined) return new TextDecoder().decode(stored);
    const token = toBase64Url(this.core.crypto.randomBytes(32));
    this.core.store.putAgentState(API_TOKEN_STATE, new TextEncoder().encode(token));
    return token;
  }

  async bridgeCredentials(): Promise<BridgeCredentials> {
    const { store, crypto } = this.core;
    const ports = rememberedPorts(store);
    return {
      username: this.name,
      password: bridgePassword(store, (n) => crypto.randomBytes(n)),
      tls: await bridgeTls(store, this.now()),
      ...(ports.smtp === undefined ? {} : { smtpPort: ports.smtp }),
      ...(ports.imap === undefined ? {} : { imapPort: ports.imap }),
    };
  }

  relay(): RelayView | undefined {
    const config = readRelay(this.core.store);
    return config === undefined ? undefined : relayView(config);
  }

  setRelay(config: RelayConfig): RelayView {
    return writeRelay(this.core.store, config);
  }

  clearRelay(): boolean {
    return clearRelay(this.core.store);
  }

  sendExternal(request: ExternalSendRequest): Promise<ExternalSendResult> {
    return sendThroughRelay(this.core.store, readRelay(this.core.store), request, this.now());
  }

  addNotice(subject: string, text: string): number {
    const { crypto, store } = this.core;
    const now = this.now();
    const messageId = crypto.randomBytes(16);
    const raw = buildMail({
      from: { name: 'Umbra', address: `mailer-daemon@${SYNTHETIC_DOMAIN}` },
      to: [{ name: this.name, address: syntheticAddress(this.name) }],
      subject, body: text.endsWith('\n') ? text : `${text}\n`, dateMs: now, messageId: `${hexOf(messageId)}@${SYNTHETIC_DOMAIN}`,
    });
    const parsed = parseMail(raw);
    const id = store.addInbox(
      { messageId: hexOf(messageId), fromKey: '', fromName: 'Umbra', receivedMs: now, read: false, subject, date: parsed.date, size: raw.length, attachments: 0 },
      messageId,
      raw,
    );
    if (id === undefined) throw new Error('a notice with a fresh random id was already stored');
    return id;
  }

  rememberBridgePorts(ports: BridgePorts): void {
    rememberPorts(this.core.store, ports);
  }

  folders(): MailFolders {
    return this.core.store.folders;
  }

  async changePassphrase(passphrase: string, kdf?: KdfParams): Promise<void> {
    await this.core.changePassphrase(passphrase, kdf);
  }

  async close(): Promise<void> {
    this.core.close();
  }
}
