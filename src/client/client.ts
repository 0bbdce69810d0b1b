import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hexOf } from '../codec/bytes.js';
import { getCrypto } from '../crypto/index.js';
import { systemRandom, type RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { cardFromUri, cardToUri, formatSafetyNumber, safetyNumber, type ContactCard } from '../e2e/card.js';
import { E2eError } from '../e2e/errors.js';
import { DEFAULT_FRAGMENT_PARAMS, type FragmentParams } from '../e2e/fragment.js';
import { createIdentity } from '../e2e/identity.js';
import { MailEndpoint, type Contact } from '../e2e/mail-endpoint.js';
import { ConsensusUnavailableError, fetchCurrentConsensus as fetchVerifiedConsensus } from '../net/authority-client.js';
import type { ConsensusDocument } from '../pki/index.js';
import { keepAliveSystemClock, type Clock } from '../net/clock.js';
import type { ConsensusMinimums } from '../traffic/consensus-minimums.js';
import { ClientError } from './errors.js';
import {
  DEFAULT_KDF,
  newKeystoreKeys,
  openKeystore,
  readKeystoreFile,
  sealKeystore,
  writeFileAtomic,
  type KdfParams,
  type KeystoreKeys,
} from './keystore.js';
import { acquireLock, type DirectoryLock } from './lock.js';
import { parseMail, type ParsedMail } from './mail-format.js';
import { MailStore, type InboxMeta, type MailRecord, type SentMeta } from './mail-store.js';
import { pick } from './routes.js';
import { decodePayload, encodePayload, makeSettings, type AuthoritySettings, type ClientSettings, type SettingsInput } from './settings.js';

/**
 * The client directory (docs/client.md, "Directory"): `keystore` (every secret, encrypted),
 * `mail.db` (the local mail store, its rows sealed with a key from the keystore) and `lock` (the PID
 * of the process that has it open). initClient makes one; openClient opens it for the commands that
 * need no network (contacts, card, inbox, reading); startClient (agent.ts) runs the agent on it.
 */
export const KEYSTORE_FILE = 'keystore';
export const MAIL_DB_FILE = 'mail.db';
export const LOCK_FILE = 'lock';

export interface ClientDeps {
  /** Default: the sodium backend. */
  readonly crypto?: Crypto;
  /**
   * Randomness for the protocol (identity keys, paths, delays, Sphinx, fragment seals); default the
   * operating system's. What protects data at rest (keystore salt and nonces, the store key and the
   * store's nonces) always comes from the operating system: a seeded source replayed after a restart
   * must not repeat a nonce under the same key.
   */
  readonly random?: RandomSource;
}

export interface InitOptions extends ClientDeps, Partial<Omit<ClientSettings, 'authority' | 'minimums'>> {
  /** Minimums to lower or raise; the rest keep their defaults (docs/client.md, "Minimums"). */
  readonly minimums?: Partial<ConsensusMinimums>;
  /** The name on the user's card (1..64 bytes of UTF-8, no control characters). */
  readonly name: string;
  readonly passphrase: string;
  readonly authority: AuthoritySettings;
  /**
   * The user's providers as the card carries them: each the "host:port" WebSocket address a
   * provider publishes in its descriptor. Default: one provider of the current consensus, at random.
   */
  readonly servers?: readonly string[];
  /** Argon2id cost; default DEFAULT_KDF (tests pass the minimum). */
  readonly kdf?: KdfParams;
  /** For the card's creation time and the consensus check; default the wall clock. */
  readonly clock?: Clock;
}

export interface InitResult {
  readonly dir: string;
  readonly name: string;
  readonly servers: readonly string[];
  /** The user's own card, to hand to contacts. */
  readonly cardUri: string;
}

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

export type InboxEntry = InboxMeta & { readonly id: number };
export type SentEntry = SentMeta & { readonly id: number };

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
  inbox(): InboxEntry[];
  sent(): SentEntry[];
  /** A mail with its bytes and parsed form; an inbox mail is marked read. 'unknown-mail' if absent. */
  read(id: number): MailView;
  /** Re-encrypts the keystore under a new passphrase (fresh salt). */
  changePassphrase(passphrase: string, kdf?: KdfParams): Promise<void>;
  close(): Promise<void>;
}

function errorFromE2e(error: unknown): never {
  if (error instanceof E2eError && (error.code === 'bad-card' || error.code === 'bad-uri')) {
    throw new ClientError('bad-card', `not a valid contact card: ${error.message.replace(/^e2e: /, '')}`);
  }
  throw error;
}

/** The state shared by the offline client and the agent: keystore, endpoint, mail store, lock. */
export class ClientCore {
  endpoint: MailEndpoint;
  private closed = false;
  /** The operating system's randomness: keystore and store nonces, salts. */
  private readonly secure: RandomSource;

  private constructor(
    readonly dir: string,
    readonly crypto: Crypto,
    readonly random: RandomSource,
    private keys: KeystoreKeys,
    readonly settings: ClientSettings,
    private readonly storeKey: Uint8Array,
    private endpointState: Uint8Array,
    readonly store: MailStore,
    private readonly lock: DirectoryLock,
  ) {
    this.endpoint = MailEndpoint.restore(crypto, random, endpointState, { fragment: DEFAULT_FRAGMENT_PARAMS });
    this.secure = systemRandom(crypto);
  }

  static async open(dir: string, passphrase: string, deps: ClientDeps = {}): Promise<ClientCore> {
    const crypto = deps.crypto ?? getCrypto();
    const random = deps.random ?? systemRandom(crypto);
    const root = resolve(dir);
    const bytes = readKeystoreFile(join(root, KEYSTORE_FILE));
    const { payload, keys } = await openKeystore(crypto, bytes, passphrase);
    const { settings, storeKey, endpoint } = decodePayload(payload);
    const lock = acquireLock(join(root, LOCK_FILE));
    let store: MailStore | undefined;
    try {
      store = MailStore.open(join(root, MAIL_DB_FILE), storeKey, crypto, systemRandom(crypto));
      return new ClientCore(root, crypto, random, keys, settings, storeKey, endpoint, store, lock);
    } catch (error) {
      store?.close();
      lock.release();
      if (error instanceof E2eError && error.code === 'bad-state') throw new ClientError('corrupt-keystore', `the stored endpoint state is invalid: ${error.message}`);
      throw error;
    }
  }

  /** Re-creates the endpoint for a network's fragment size (reassembly state is not kept anyway). */
  useFragmentParams(params: FragmentParams): void {
    this.live();
    this.endpointState = this.endpoint.exportState();
    this.endpoint = MailEndpoint.restore(this.crypto, this.random, this.endpointState, { fragment: params });
  }

  private live(): void {
    if (this.closed) throw new ClientError('closed', 'the client is closed');
  }

  /** Writes the keystore with the endpoint's current state (atomically). */
  persist(): void {
    this.live();
    this.endpointState = this.endpoint.exportState();
    const payload = encodePayload({ settings: this.settings, storeKey: this.storeKey, endpoint: this.endpointState });
    writeFileAtomic(join(this.dir, KEYSTORE_FILE), sealKeystore(this.crypto, this.secure, this.keys, payload), this.secure);
  }

  async changePassphrase(passphrase: string, kdf: KdfParams = this.keys.kdf): Promise<void> {
    this.live();
    this.keys = await newKeystoreKeys(this.crypto, this.secure, passphrase, kdf);
    this.persist();
  }

  close(): void {
    if (this.closed) return;
    try {
      // Written only if the endpoint changed since the last write (reading mail changes nothing).
      const state = this.endpoint.exportState();
      if (!this.crypto.constantTimeEqual(state, this.endpointState)) this.persist();
    } finally {
      this.closed = true;
      this.store.close();
      this.lock.release();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }
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

  inbox(): InboxEntry[] {
    return this.core.store.list('inbox') as InboxEntry[];
  }

  sent(): SentEntry[] {
    return this.core.store.list('sent') as SentEntry[];
  }

  read(id: number): MailView {
    const found = this.core.store.get(id);
    if (found === undefined) throw new ClientError('unknown-mail', `no mail with id ${id}`);
    let record = found.record;
    if (record.folder === 'inbox' && !record.read) {
      record = this.core.store.updateMeta<InboxMeta>(id, (meta) => ({ ...meta, read: true })) ?? record;
    }
    return { record, raw: found.raw, parsed: parseMail(found.raw) };
  }

  async changePassphrase(passphrase: string, kdf?: KdfParams): Promise<void> {
    await this.core.changePassphrase(passphrase, kdf);
  }

  async close(): Promise<void> {
    this.core.close();
  }
}

/** The current consensus, fetched and verified with the client's settings; ClientError 'no-consensus' when there is none. */
export async function fetchCurrentConsensus(crypto: Crypto, authority: AuthoritySettings, nowMs: number, verifyDescriptors = true): Promise<ConsensusDocument> {
  try {
    return await fetchVerifiedConsensus(crypto, authority, nowMs, verifyDescriptors);
  } catch (error) {
    if (error instanceof ConsensusUnavailableError) throw new ClientError('no-consensus', error.message);
    throw error;
  }
}

/**
 * Creates a client directory: a fresh identity (name, servers), the settings, an empty mail store,
 * the keystore encrypted under the passphrase. 'already-initialized' if the directory has a keystore.
 */
export async function initClient(dir: string, options: InitOptions): Promise<InitResult> {
  const crypto = options.crypto ?? getCrypto();
  const random = options.random ?? systemRandom(crypto);
  const clock = options.clock ?? keepAliveSystemClock;
  const root = resolve(dir);
  const settings = makeSettings(options as SettingsInput);
  if (typeof options.passphrase !== 'string' || options.passphrase.length === 0) throw new ClientError('bad-options', 'the passphrase must be a non-empty string');
  if (existsSync(join(root, KEYSTORE_FILE))) throw new ClientError('already-initialized', `${root} already holds a client keystore`);
  let servers = options.servers;
  if (servers === undefined) {
    const doc = await fetchCurrentConsensus(crypto, settings.authority, clock.now(), settings.verifyDescriptors);
    const providers = doc.nodes.filter((node) => node.role === 'provider' && node.addresses.ws !== undefined);
    servers = [pick(random, providers).addresses.ws!];
  }
  let endpoint: MailEndpoint;
  try {
    const identity = createIdentity(crypto, random, { name: options.name, servers });
    endpoint = new MailEndpoint(crypto, random, identity, { cardCreatedAt: Math.floor(clock.now() / 1000) });
  } catch (error) {
    if (error instanceof E2eError) throw new ClientError('bad-options', error.message.replace(/^e2e: /, ''));
    throw error;
  }
  const secure = systemRandom(crypto);
  const keys = await newKeystoreKeys(crypto, secure, options.passphrase, options.kdf ?? DEFAULT_KDF);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const lock = acquireLock(join(root, LOCK_FILE));
  try {
    if (existsSync(join(root, KEYSTORE_FILE))) throw new ClientError('already-initialized', `${root} already holds a client keystore`);
    const storeKey = secure(32);
    MailStore.open(join(root, MAIL_DB_FILE), storeKey, crypto, secure).close();
    const payload = encodePayload({ settings, storeKey, endpoint: endpoint.exportState() });
    writeFileAtomic(join(root, KEYSTORE_FILE), sealKeystore(crypto, secure, keys, payload), secure);
  } finally {
    lock.release();
  }
  return { dir: root, name: endpoint.card.name, servers: [...servers], cardUri: cardToUri(endpoint.card) };
}

/** Opens a client directory for the commands that need no network. */
export async function openClient(dir: string, passphrase: string, deps: ClientDeps = {}): Promise<Client> {
  return new LocalClient(await ClientCore.open(dir, passphrase, deps));
}
