import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getCrypto } from '../crypto/index.js';
import { systemRandom } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { cardToUri } from '../e2e/card.js';
import { E2eError } from '../e2e/errors.js';
import { createIdentity } from '../e2e/identity.js';
import { MailEndpoint } from '../e2e/mail-endpoint.js';
import { ConsensusUnavailableError, fetchCurrentConsensus as fetchVerifiedConsensus } from '../net/authority-client.js';
import { keepAliveSystemClock, type Clock } from '../net/clock.js';
import type { ConsensusDocument } from '../pki/index.js';
import type { ConsensusMinimums } from '../traffic/consensus-minimums.js';
import { ClientCore, KEYSTORE_FILE, LOCK_FILE, MAIL_DB_FILE, type ClientDeps } from './directory.js';
import { ClientError } from './errors.js';
import { DEFAULT_KDF, newKeystoreKeys, sealKeystore, writeFileAtomic, type KdfParams } from './keystore.js';
import { LocalClient, type Client } from './local-client.js';
import { acquireLock } from './lock.js';
import { MailStore } from './mail-store.js';
import { pick } from './routes.js';
import { encodePayload, makeSettings, type AuthoritySettings, type ClientSettings, type SettingsInput } from './settings.js';

/** Making a client directory (initClient), opening it offline (openClient), and the consensus a client starts from. */
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

/** The current consensus, fetched and verified with the client's settings; ClientError 'no-consensus' when there is none. */
export async function fetchCurrentConsensus(crypto: Crypto, authority: AuthoritySettings, nowMs: number, verifyDescriptors = true, timeoutMs?: number): Promise<ConsensusDocument> {
  try {
    return await fetchVerifiedConsensus(crypto, authority, nowMs, verifyDescriptors, timeoutMs);
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
