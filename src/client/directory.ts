import { join, resolve } from 'node:path';
import { getCrypto } from '../crypto/index.js';
import { systemRandom, type RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from '../e2e/errors.js';
import { DEFAULT_FRAGMENT_PARAMS, type FragmentParams } from '../e2e/fragment.js';
import { MailEndpoint } from '../e2e/mail-endpoint.js';
import { ClientError } from './errors.js';
import { newKeystoreKeys, openKeystore, readKeystoreFile, sealKeystore, writeFileAtomic, writeFileAtomicInBackground, type KdfParams, type KeystoreKeys } from './keystore.js';
import { acquireLock, LOCK_FILE, type DirectoryLock } from './lock.js';
import { MailStore } from './mail-store.js';
import { decodePayload, encodePayload, type ClientSettings } from './settings.js';

/**
 * The client directory (docs/client.md, "Directory"): `keystore` (every secret, encrypted),
 * `mail.db` (the local mail store, its rows sealed with a key from the keystore) and `lock` (the PID
 * of the process that has it open). initClient makes one; openClient opens it for the commands that
 * need no network (contacts, card, inbox, reading); startClient (agent/agent.ts) runs the agent on it.
 */
export const KEYSTORE_FILE = 'keystore';
export const MAIL_DB_FILE = 'mail.db';
export { LOCK_FILE };

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

/** The state shared by the offline client and the agent: keystore, endpoint, mail store, lock. */
export class ClientCore {
  endpoint: MailEndpoint;
  private closed = false;
  /** Keystore writes begun (persist, persistInBackground): a background write older than the last is dropped. */
  private writes = 0;
  /** Background keystore writes not finished. */
  private writing = 0;
  /** The newest background write, while it is the newest write. */
  private newestWrite: Promise<boolean> | undefined;
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
    this.writes++;
    this.newestWrite = undefined;
    writeFileAtomic(join(this.dir, KEYSTORE_FILE), this.sealedKeystore(), this.secure);
  }

  /**
   * persist() with the file written and synced off the event loop (a send: its sync took 2–30 ms
   * on a loaded machine); resolves once the state is on disk, by this write or by a newer one
   * that went first. close() writes synchronously while one is unfinished.
   */
  async persistInBackground(): Promise<void> {
    this.live();
    const bytes = this.sealedKeystore();
    const write = ++this.writes;
    this.writing++;
    const written = writeFileAtomicInBackground(join(this.dir, KEYSTORE_FILE), bytes, this.secure, () => this.writes === write && !this.closed);
    this.newestWrite = written;
    try {
      if (await written) return;
    } finally {
      this.writing--;
    }
    // A newer write went first, with this state in it: done when it is.
    const newer = this.newestWrite;
    if (newer !== undefined && newer !== written) await newer;
  }

  /** The keystore's bytes with the endpoint's current state (taken as the last written). */
  private sealedKeystore(): Uint8Array {
    this.endpointState = this.endpoint.exportState();
    const payload = encodePayload({ settings: this.settings, storeKey: this.storeKey, endpoint: this.endpointState });
    return sealKeystore(this.crypto, this.secure, this.keys, payload);
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
      // A background write not finished is overtaken by this one (it then leaves the file alone).
      if (this.writing > 0 || !this.crypto.constantTimeEqual(state, this.endpointState)) this.persist();
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
