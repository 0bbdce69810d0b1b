import { concatBytes } from '../codec/bytes.js';
import { CryptoError, LowOrderPointError } from '../crypto/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { E2eError } from './errors.js';
import { isKey, KEY_BYTES, type Identity } from './identity.js';

/**
 * The sealed first contact (docs/e2e-card.md): one message of the Noise Protocol Framework's
 * one-way pattern X (revision 34, sections 5 and 7.4),
 *
 *     <- s
 *     ...
 *     -> e, es, s, ss
 *
 * with DH = X25519, HASH = SHA-256 (HASHLEN 32, HMAC-SHA256 and Noise's HKDF) and, as cipher,
 * XChaCha20-Poly1305 with the 24-byte nonce 16 zero bytes ‖ the 64-bit Noise counter little-endian
 * (Noise's ChaChaPoly uses 4 zero bytes ‖ the same 8 bytes with a 12-byte nonce; ours is that AEAD
 * under the key HChaCha20(k, 16 zero bytes)). The protocol name and the prologue are both
 * "umbra sealed v1": not a registered Noise name, because Noise names no XChaCha cipher.
 *
 * The sender's static key travels encrypted (authenticated by es and, for the payload, ss); the
 * output holds nothing derived from the recipient's key except through encryption, so it does not
 * tell whom it is for (key privacy).
 */

export const SEALED_PROTOCOL_NAME = new TextEncoder().encode('umbra sealed v1');
export const SEALED_PROLOGUE = SEALED_PROTOCOL_NAME;
const HASHLEN = 32;
const TAG_BYTES = 16;
/** Bytes a sealed first contact adds to its payload: e (32), encrypted s (32 + 16), payload tag (16). */
export const SEALED_OVERHEAD = KEY_BYTES + KEY_BYTES + TAG_BYTES + TAG_BYTES;

// --- Noise, generic over the cipher (so the standard vectors can check it) ---------------------

/** A Noise cipher: ENCRYPT(k, n, ad, plaintext) and DECRYPT, which throws a CryptoError on failure. */
export interface NoiseCipher {
  encrypt(key: Uint8Array, counter: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  decrypt(key: Uint8Array, counter: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array;
}

/** The protocol name, prologue and cipher of a Noise_X_25519_*_SHA256 instance. */
export interface NoiseXSuite {
  readonly protocolName: Uint8Array;
  readonly prologue: Uint8Array;
  readonly cipher: NoiseCipher;
}

/** XChaCha20-Poly1305 with nonce = 16 zero bytes ‖ u64 little-endian counter. */
export function xchachaNoiseCipher(crypto: Crypto): NoiseCipher {
  const nonce = (counter: number): Uint8Array => {
    const bytes = new Uint8Array(24);
    new DataView(bytes.buffer).setBigUint64(16, BigInt(counter), true);
    return bytes;
  };
  return {
    encrypt: (key, counter, ad, plaintext) => crypto.xchacha20Poly1305Seal(key, nonce(counter), plaintext, ad),
    decrypt: (key, counter, ad, ciphertext) => crypto.xchacha20Poly1305Open(key, nonce(counter), ciphertext, ad),
  };
}

export function sealedSuite(crypto: Crypto): NoiseXSuite {
  return { protocolName: SEALED_PROTOCOL_NAME, prologue: SEALED_PROLOGUE, cipher: xchachaNoiseCipher(crypto) };
}

/** Noise's SymmetricState (section 5.2) with its CipherState (5.1), HASH = SHA-256. */
class SymmetricState {
  h: Uint8Array;
  private ck: Uint8Array;
  private k: Uint8Array | undefined;
  private n = 0;

  constructor(private readonly crypto: Crypto, private readonly cipher: NoiseCipher, protocolName: Uint8Array) {
    if (protocolName.length <= HASHLEN) {
      this.h = new Uint8Array(HASHLEN);
      this.h.set(protocolName);
    } else {
      this.h = crypto.sha256(protocolName);
    }
    this.ck = this.h.slice();
  }

  /** HKDF(ck, ikm, 2) of section 4.3: HMAC-SHA256 with ck as the salt, two outputs. */
  private hkdf(ikm: Uint8Array): [Uint8Array, Uint8Array] {
    const temp = this.crypto.hmacSha256(this.ck, ikm);
    const first = this.crypto.hmacSha256(temp, new Uint8Array([1]));
    const second = this.crypto.hmacSha256(temp, concatBytes(first, new Uint8Array([2])));
    return [first, second];
  }

  mixHash(data: Uint8Array): void {
    this.h = this.crypto.sha256(concatBytes(this.h, data));
  }

  mixKey(ikm: Uint8Array): void {
    [this.ck, this.k] = this.hkdf(ikm);
    this.n = 0;
  }

  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.k === undefined ? plaintext.slice() : this.cipher.encrypt(this.k, this.n++, this.h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.k === undefined ? ciphertext.slice() : this.cipher.decrypt(this.k, this.n, this.h, ciphertext);
    if (this.k !== undefined) this.n++;
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** What the next encryptAndHash seals under (key, counter, AD = h): its AEAD can then run elsewhere. */
  nextSeal(): { key: Uint8Array; counter: number; ad: Uint8Array } {
    if (this.k === undefined) throw new Error('noise: no cipher key yet');
    return { key: this.k.slice(), counter: this.n, ad: this.h.slice() };
  }

  /** Split(): the two transport keys (HASHLEN = 32, so no truncation). */
  split(): [Uint8Array, Uint8Array] {
    return this.hkdf(new Uint8Array(0));
  }
}

/** What one X message gives either side: the two Split() keys and the final handshake hash. */
export interface NoiseXKeys {
  readonly initiatorToResponder: Uint8Array;
  readonly responderToInitiator: Uint8Array;
  readonly handshakeHash: Uint8Array;
}

function start(crypto: Crypto, suite: NoiseXSuite, responderStatic: Uint8Array): SymmetricState {
  const state = new SymmetricState(crypto, suite.cipher, suite.protocolName);
  state.mixHash(suite.prologue);
  state.mixHash(responderStatic); // pre-message "<- s"
  return state;
}

function finish(state: SymmetricState): NoiseXKeys {
  const [initiatorToResponder, responderToInitiator] = state.split();
  return { initiatorToResponder, responderToInitiator, handshakeHash: state.h };
}

/**
 * The initiator's only message of pattern X: e, es, s, ss, then the payload. DH failures (a
 * small-order responder key) raise LowOrderPointError.
 */
export function noiseXWrite(
  crypto: Crypto,
  suite: NoiseXSuite,
  staticSecret: Uint8Array,
  ephemeralSecret: Uint8Array,
  responderStatic: Uint8Array,
  payload: Uint8Array,
): NoiseXKeys & { readonly message: Uint8Array } {
  const { state, head } = noiseXHead(crypto, suite, staticSecret, ephemeralSecret, responderStatic);
  const encryptedPayload = state.encryptAndHash(payload);
  return { message: concatBytes(head, encryptedPayload), ...finish(state) };
}

/** The tokens e, es, s, ss of the initiator's message: e ‖ encrypted s, and the state that seals the payload. */
function noiseXHead(crypto: Crypto, suite: NoiseXSuite, staticSecret: Uint8Array, ephemeralSecret: Uint8Array, responderStatic: Uint8Array): { state: SymmetricState; head: Uint8Array } {
  const state = start(crypto, suite, responderStatic);
  const ephemeralPublic = crypto.x25519Base(ephemeralSecret);
  state.mixHash(ephemeralPublic); // e
  state.mixKey(crypto.x25519(ephemeralSecret, responderStatic)); // es
  const encryptedStatic = state.encryptAndHash(crypto.x25519Base(staticSecret)); // s
  state.mixKey(crypto.x25519(staticSecret, responderStatic)); // ss
  return { state, head: concatBytes(ephemeralPublic, encryptedStatic) };
}

/**
 * The responder's reading of that message. Raises a CryptoError (AuthenticationError,
 * LowOrderPointError) when it does not open; `message` must be at least SEALED_OVERHEAD bytes.
 */
export function noiseXRead(
  crypto: Crypto,
  suite: NoiseXSuite,
  staticSecret: Uint8Array,
  staticPublic: Uint8Array,
  message: Uint8Array,
): NoiseXKeys & { readonly initiatorStatic: Uint8Array; readonly payload: Uint8Array } {
  const state = start(crypto, suite, staticPublic);
  const ephemeralPublic = message.subarray(0, KEY_BYTES);
  state.mixHash(ephemeralPublic); // e
  state.mixKey(crypto.x25519(staticSecret, ephemeralPublic)); // es
  const initiatorStatic = state.decryptAndHash(message.subarray(KEY_BYTES, 2 * KEY_BYTES + TAG_BYTES)); // s
  state.mixKey(crypto.x25519(staticSecret, initiatorStatic)); // ss
  const payload = state.decryptAndHash(message.subarray(2 * KEY_BYTES + TAG_BYTES));
  return { initiatorStatic, payload, ...finish(state) };
}

// --- the umbra API --------------------------------------------------------------------------

export interface SealedFirstContact {
  /** e (32) ‖ encrypted sender key (48) ‖ encrypted payload (payload length + 16). */
  readonly sealed: Uint8Array;
  /** The first Split() key (initiator to responder): the caller starts a Double Ratchet from it. */
  readonly sessionSecret: Uint8Array;
  /** Noise's final handshake hash h: the same on both sides; a replay cache can key on it. */
  readonly handshakeHash: Uint8Array;
}

export interface OpenedFirstContact {
  /** The sender's X25519 identity key, authenticated by the static-static DH. */
  readonly senderX25519Public: Uint8Array;
  readonly payload: Uint8Array;
  readonly sessionSecret: Uint8Array;
  readonly handshakeHash: Uint8Array;
}

/**
 * Seals `payload` from `sender` to the holder of `recipientX25519Public`. Draws exactly 32 bytes
 * from `random` (the ephemeral secret), once, and is otherwise deterministic: the same 32 bytes
 * give the same output and session secret. It neither keeps nor overwrites the drawn bytes. A
 * recipient key that is not 32 bytes or has small order is 'bad-card' (cards with such keys do
 * not decode).
 */
export function sealFirstContact(
  crypto: Crypto,
  random: RandomSource,
  sender: Identity,
  recipientX25519Public: Uint8Array,
  payload: Uint8Array,
): SealedFirstContact {
  if (!isKey(sender.x25519Secret)) throw new E2eError('bad-state', "the sender's X25519 secret is not 32 bytes");
  if (!isKey(recipientX25519Public)) throw new E2eError('bad-card', "the recipient's X25519 key is not 32 bytes");
  if (!(payload instanceof Uint8Array)) throw new TypeError('the payload must be a Uint8Array');
  const ephemeralSecret = random(KEY_BYTES);
  try {
    const result = noiseXWrite(crypto, sealedSuite(crypto), sender.x25519Secret, ephemeralSecret, recipientX25519Public, payload);
    return { sealed: result.message, sessionSecret: result.initiatorToResponder, handshakeHash: result.handshakeHash };
  } catch (error) {
    if (error instanceof LowOrderPointError) throw new E2eError('bad-card', "the recipient's X25519 key has small order");
    throw error;
  }
}

/**
 * sealFirstContact in two steps, for a caller that seals a large payload off its event loop: the
 * handshake (three X25519, drawing the same 32 bytes), then `sealFirstContactPayload` (one AEAD,
 * pure: any thread). Together they give exactly sealFirstContact's `sealed` bytes. The head holds the
 * payload's one-time key: it is as secret as the payload.
 */
export interface FirstContactHead {
  /** e (32) ‖ encrypted sender key (48). */
  readonly head: Uint8Array;
  /** The payload's cipher key, its Noise counter and its AD (the handshake hash so far). */
  readonly key: Uint8Array;
  readonly counter: number;
  readonly ad: Uint8Array;
}

export function firstContactHead(crypto: Crypto, random: RandomSource, sender: Identity, recipientX25519Public: Uint8Array): FirstContactHead {
  if (!isKey(sender.x25519Secret)) throw new E2eError('bad-state', "the sender's X25519 secret is not 32 bytes");
  if (!isKey(recipientX25519Public)) throw new E2eError('bad-card', "the recipient's X25519 key is not 32 bytes");
  const ephemeralSecret = random(KEY_BYTES);
  try {
    const { state, head } = noiseXHead(crypto, sealedSuite(crypto), sender.x25519Secret, ephemeralSecret, recipientX25519Public);
    return { head, ...state.nextSeal() };
  } catch (error) {
    if (error instanceof LowOrderPointError) throw new E2eError('bad-card', "the recipient's X25519 key has small order");
    throw error;
  }
}

/** The sealed first contact of `payload` under a head from firstContactHead: head ‖ encrypted payload. */
export function sealFirstContactPayload(crypto: Crypto, head: FirstContactHead, payload: Uint8Array): Uint8Array {
  return concatBytes(head.head, xchachaNoiseCipher(crypto).encrypt(head.key, head.counter, head.ad, payload));
}

/**
 * Opens a sealed first contact with `recipient`'s X25519 key. Anything that does not open — too
 * short, tampered with, sealed to someone else, a small-order ephemeral or sender key — is
 * 'not-for-me'. It does not detect replays: the caller keeps the handshake hashes it has seen.
 */
export function openFirstContact(crypto: Crypto, recipient: Identity, sealed: Uint8Array): OpenedFirstContact {
  if (!isKey(recipient.x25519Secret) || !isKey(recipient.x25519Public)) {
    throw new E2eError('bad-state', "the recipient's X25519 keys are not 32 bytes");
  }
  if (!(sealed instanceof Uint8Array) || sealed.length < SEALED_OVERHEAD) {
    throw new E2eError('not-for-me', 'too short to be a sealed first contact');
  }
  try {
    const result = noiseXRead(crypto, sealedSuite(crypto), recipient.x25519Secret, recipient.x25519Public, sealed);
    return {
      senderX25519Public: result.initiatorStatic,
      payload: result.payload,
      sessionSecret: result.initiatorToResponder,
      handshakeHash: result.handshakeHash,
    };
  } catch (error) {
    if (error instanceof CryptoError) throw new E2eError('not-for-me', 'the sealed first contact does not open');
    throw error;
  }
}

/** A RandomSource that yields one stored secret: a version-1 state's ephemeral key, to recover its session secret. */
export function storedSecret(secret: Uint8Array): RandomSource {
  return (length) => {
    if (length !== secret.length) throw new Error('first contact: unexpected randomness request');
    return secret.slice();
  };
}
