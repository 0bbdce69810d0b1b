import { concatBytes, hexOf } from '../codec/bytes.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from './errors.js';
import {
  decryptBody,
  dh,
  encodeMessage,
  encryptBody,
  generateDh,
  hdecrypt,
  hencrypt,
  initialHeaderKeys,
  kdfCk,
  kdfRkHe,
  KEY_LENGTH,
  MAX_MESSAGE_NUMBER,
  MAX_PLAINTEXT_LENGTH,
  parseMessage,
  type Header,
} from './ratchet-crypto.js';
import {
  checkLimits,
  cloneState,
  decodeState,
  DEFAULT_LIMITS,
  encodeState,
  skippedId,
  type RatchetLimits,
  type RatchetState,
} from './ratchet-state.js';

/**
 * The Double Ratchet with header encryption: Signal's "The Double Ratchet Algorithm" (Perrin and
 * Marlinspike, revision 1, 2016), section 4, with the functions of docs/e2e-ratchet.md. A session
 * starts from the 32-byte secret of the sealed first contact; every later message of a contact
 * goes through it. Pure: Crypto and RandomSource are parameters, nothing reads a clock.
 */

/** An X25519 key pair: `public` = X25519(`secret`, 9). */
export interface RatchetKeyPair {
  secret: Uint8Array;
  public: Uint8Array;
}

/** Optional bounds; the defaults are MAX_SKIP = 1000, 2000 stored skipped keys, 8 retired header keys. */
type RatchetOptions = Partial<RatchetLimits>;

function requireKey(what: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== KEY_LENGTH) throw new RangeError(`ratchet: ${what} must be ${KEY_LENGTH} bytes`);
}

/** One message's step of the sending chain (RatchetSession.encryptStep). */
export interface RatchetStep {
  readonly messageKey: Uint8Array;
  /** The body's associated data: the caller's AD ‖ the encrypted header. */
  readonly bodyAd: Uint8Array;
  readonly encryptedHeader: Uint8Array;
}

/** The ratchet message of a step: u16 encrypted-header length ‖ encrypted header ‖ ENCRYPT(mk, plaintext, AD). Pure. */
export function encryptWithStep(crypto: Crypto, step: RatchetStep, plaintext: Uint8Array): Uint8Array {
  return encodeMessage(step.encryptedHeader, encryptBody(crypto, step.messageKey, plaintext, step.bodyAd));
}

/**
 * One side of a ratchet session. Encrypting moves the sending chain; decrypting is transactional:
 * on any error the state is exactly as before, so a forged, tampered or replayed message never
 * disturbs the session. `encode` / `decode` store the whole state, skipped keys included.
 */
export class RatchetSession {
  private constructor(
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    private state: RatchetState,
  ) {}

  /**
   * RatchetInitAliceHE: the side that sends first. `sharedSecret` is SK (32 bytes) from the first
   * contact; `remotePublic` is the receiver's initial ratchet key (its identity X25519 key).
   * A small-order `remotePublic` is 'bad-message'.
   */
  static initSender(crypto: Crypto, random: RandomSource, sharedSecret: Uint8Array, remotePublic: Uint8Array, options: RatchetOptions = {}): RatchetSession {
    requireKey('the shared secret', sharedSecret);
    requireKey('the remote public key', remotePublic);
    const limits = checkLimits({ ...DEFAULT_LIMITS, ...options });
    const [sharedHka, sharedNhkb] = initialHeaderKeys(crypto, sharedSecret);
    const dhs = generateDh(crypto, random);
    const dhr = remotePublic.slice();
    const [rk, cks, nhks] = kdfRkHe(crypto, sharedSecret, dh(crypto, dhs.secret, dhr));
    return new RatchetSession(crypto, random, {
      ...limits,
      dhs,
      dhr,
      rk,
      cks,
      ckr: null,
      hks: sharedHka,
      hkr: null,
      nhks,
      nhkr: sharedNhkb,
      ns: 0,
      nr: 0,
      pn: 0,
      skipped: new Map(),
      retired: [],
    });
  }

  /**
   * RatchetInitBobHE: the side that receives first (it cannot send before its first message).
   * `ownKeyPair` is its initial ratchet key pair, its identity X25519 key pair.
   */
  static initReceiver(crypto: Crypto, random: RandomSource, sharedSecret: Uint8Array, ownKeyPair: RatchetKeyPair, options: RatchetOptions = {}): RatchetSession {
    requireKey('the shared secret', sharedSecret);
    requireKey('the own secret key', ownKeyPair.secret);
    requireKey('the own public key', ownKeyPair.public);
    if (!crypto.constantTimeEqual(crypto.x25519Base(ownKeyPair.secret), ownKeyPair.public)) {
      throw new RangeError('ratchet: the own public key does not belong to the secret key');
    }
    const limits = checkLimits({ ...DEFAULT_LIMITS, ...options });
    const [sharedHka, sharedNhkb] = initialHeaderKeys(crypto, sharedSecret);
    return new RatchetSession(crypto, random, {
      ...limits,
      dhs: { secret: ownKeyPair.secret.slice(), public: ownKeyPair.public.slice() },
      dhr: null,
      rk: sharedSecret.slice(),
      cks: null,
      ckr: null,
      hks: null,
      hkr: null,
      nhks: sharedNhkb,
      nhkr: sharedHka,
      ns: 0,
      nr: 0,
      pn: 0,
      skipped: new Map(),
      retired: [],
    });
  }

  /**
   * RatchetEncryptHE. Returns u16 encrypted-header length ‖ encrypted header ‖ ciphertext; the
   * body's associated data is `ad` ‖ encrypted header. A receiver that has not yet received a
   * message has no sending chain ('bad-state'); a plaintext above 16 MiB is 'too-large'.
   */
  encrypt(plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
    return encryptWithStep(this.crypto, this.encryptStep(plaintext.length, ad), plaintext);
  }

  /**
   * `encrypt` without the body's AEAD, for a caller that encrypts a large body off its event loop
   * (encryptWithStep, pure): the sending chain moves and the header is encrypted here; the step
   * holds the message key, so it is as secret as the plaintext. Same errors as `encrypt`.
   */
  encryptStep(plaintextLength: number, ad: Uint8Array): RatchetStep {
    const state = this.state;
    if (state.cks === null || state.hks === null) throw new E2eError('bad-state', 'the receiver cannot send before its first message');
    if (plaintextLength > MAX_PLAINTEXT_LENGTH) throw new E2eError('too-large', 'the plaintext is above 16 MiB');
    if (state.ns > MAX_MESSAGE_NUMBER) throw new E2eError('bad-state', 'the sending chain is exhausted');
    const [nextCk, mk] = kdfCk(this.crypto, state.cks);
    const encryptedHeader = hencrypt(this.crypto, this.random, state.hks, { dh: state.dhs.public, pn: state.pn, n: state.ns });
    state.cks = nextCk;
    state.ns += 1;
    return { messageKey: mk, bodyAd: concatBytes(ad, encryptedHeader), encryptedHeader };
  }

  /**
   * RatchetDecryptHE, transactional. Errors: 'bad-message' (malformed, oversized, or a body that
   * does not authenticate), 'unknown-session' (no header key of this session opens the header),
   * 'replay' (the header opens but its message key was already used or dropped),
   * 'too-many-skipped' (more than MAX_SKIP keys to skip in one chain).
   */
  decrypt(message: Uint8Array, ad: Uint8Array): Uint8Array {
    const { encryptedHeader, body } = parseMessage(message);
    const s = cloneState(this.state);
    const associated = concatBytes(ad, encryptedHeader);

    // TrySkippedMessageKeysHE: one header open per distinct header key, then a lookup by N.
    let openedByOldKey = false;
    for (const [hkHex, hk] of this.skippedHeaderKeys(s)) {
      const header = hdecrypt(this.crypto, hk, encryptedHeader);
      if (header === null) continue;
      const id = skippedId(hkHex, header.n);
      const entry = s.skipped.get(id);
      if (entry !== undefined) {
        s.skipped.delete(id);
        const plaintext = decryptBody(this.crypto, entry.mk, body, associated);
        this.state = s;
        return plaintext;
      }
      openedByOldKey = true;
    }

    // DecryptHeader.
    let header: Header | null = s.hkr !== null ? hdecrypt(this.crypto, s.hkr, encryptedHeader) : null;
    const dhRatchet = header === null;
    if (header === null) header = hdecrypt(this.crypto, s.nhkr, encryptedHeader);
    if (header === null) {
      if (openedByOldKey || s.retired.some((hk) => hdecrypt(this.crypto, hk, encryptedHeader) !== null)) {
        throw new E2eError('replay', 'the message key of this ratchet message is already used');
      }
      throw new E2eError('unknown-session', 'no header key of this session opens the message');
    }
    if (header.n > MAX_MESSAGE_NUMBER) throw new E2eError('bad-message', 'message number out of range');
    if (!dhRatchet && header.n < s.nr) throw new E2eError('replay', 'the message key of this ratchet message is already used');

    if (dhRatchet) {
      this.skipMessageKeys(s, header.pn);
      this.dhRatchet(s, header);
    }
    this.skipMessageKeys(s, header.n);
    if (s.ckr === null) throw new E2eError('bad-state', 'no receiving chain'); // unreachable: HKr and CKr go together
    const [nextCk, mk] = kdfCk(this.crypto, s.ckr);
    s.ckr = nextCk;
    s.nr += 1;
    const plaintext = decryptBody(this.crypto, mk, body, associated);
    this.state = s;
    return plaintext;
  }

  /**
   * True if a header key of this session (current, next, skipped-message or retired receiving
   * header key) opens the message's header; how a caller finds the session a message belongs to.
   * Changes nothing; a malformed message is simply false.
   */
  opensHeader(message: Uint8Array): boolean {
    let encryptedHeader: Uint8Array;
    try {
      encryptedHeader = parseMessage(message, false).encryptedHeader;
    } catch {
      return false;
    }
    const s = this.state;
    const keys = [...(s.hkr !== null ? [s.hkr] : []), s.nhkr, ...this.skippedHeaderKeys(s).values(), ...s.retired];
    return keys.some((hk) => hdecrypt(this.crypto, hk, encryptedHeader) !== null);
  }

  /** The versioned binary state (docs/e2e-ratchet.md), skipped keys and bounds included. */
  encode(): Uint8Array {
    return encodeState(this.state);
  }

  /** A session from `encode()` output; anything that does not parse is 'bad-state'. */
  static decode(crypto: Crypto, random: RandomSource, bytes: Uint8Array): RatchetSession {
    try {
      return new RatchetSession(crypto, random, decodeState(crypto, bytes));
    } catch (error) {
      if (error instanceof E2eError) throw error;
      throw new E2eError('bad-state', `ratchet state: ${error instanceof Error ? error.message : 'does not parse'}`);
    }
  }

  /** The distinct header keys of the stored skipped message keys, by hex. */
  private skippedHeaderKeys(s: RatchetState): Map<string, Uint8Array> {
    const keys = new Map<string, Uint8Array>();
    for (const entry of s.skipped.values()) if (!keys.has(entry.hkHex)) keys.set(entry.hkHex, entry.hk);
    return keys;
  }

  /** SkipMessageKeysHE, then drops the oldest stored keys above the total bound. */
  private skipMessageKeys(s: RatchetState, until: number): void {
    if (s.nr + s.maxSkip < until) throw new E2eError('too-many-skipped', 'the message skips too many message keys');
    if (s.ckr === null || s.hkr === null) return;
    const hkHex = hexOf(s.hkr);
    while (s.nr < until) {
      const [nextCk, mk] = kdfCk(this.crypto, s.ckr);
      s.ckr = nextCk;
      s.skipped.set(skippedId(hkHex, s.nr), { hk: s.hkr, hkHex, n: s.nr, mk });
      s.nr += 1;
    }
    for (const id of s.skipped.keys()) {
      if (s.skipped.size <= s.maxSkippedKeys) break;
      s.skipped.delete(id);
    }
  }

  /** DHRatchetHE, keeping the replaced receiving header key among the retired ones. */
  private dhRatchet(s: RatchetState, header: Header): void {
    s.pn = s.ns;
    s.ns = 0;
    s.nr = 0;
    s.hks = s.nhks;
    if (s.hkr !== null && s.maxRetiredHeaderKeys > 0) {
      s.retired.push(s.hkr);
      if (s.retired.length > s.maxRetiredHeaderKeys) s.retired.shift();
    }
    s.hkr = s.nhkr;
    s.dhr = header.dh;
    [s.rk, s.ckr, s.nhkr] = kdfRkHe(this.crypto, s.rk, dh(this.crypto, s.dhs.secret, s.dhr));
    s.dhs = generateDh(this.crypto, this.random);
    [s.rk, s.cks, s.nhks] = kdfRkHe(this.crypto, s.rk, dh(this.crypto, s.dhs.secret, s.dhr));
  }
}
