import type { Crypto } from '../crypto/types.js';

/**
 * A Sphinx cipher suite: everything that differs between `katzenpost-x25519` and `umbra-v1`.
 * Header construction, blinding, routing commands, SURBs and replay tags are shared (sphinx.ts);
 * a suite only says how a hop's shared secret turns into keys and which primitives use them.
 * The group is X25519 in both.
 */
export type SuiteName = 'katzenpost-x25519' | 'umbra-v1';

/** Everything one hop derives from its shared secret. */
export interface HopKeys {
  readonly headerMacKey: Uint8Array;
  /** Key (and for Katzenpost the IV) that encrypts the routing information. */
  readonly headerStreamKey: Uint8Array;
  readonly headerStreamIv: Uint8Array;
  /** Payload SPRP key material, exactly what a SURB carries for its own layer. */
  readonly payloadKey: Uint8Array;
  /** The scalar by which this hop blinds the group element for the next one. */
  readonly blindingFactor: Uint8Array;
  /** Replay tag: a one-way function of the shared secret, not of the group element's encoding. */
  readonly replayTag: Uint8Array;
}

export interface CipherSuite {
  readonly name: SuiteName;
  readonly crypto: Crypto;
  /** The unencrypted header prefix (version) every packet of the suite carries. */
  readonly additionalData: Uint8Array;
  readonly macLength: number;
  readonly payloadTagLength: number;
  readonly payloadKeyLength: number;

  deriveKeys(sharedSecret: Uint8Array): HopKeys;
  /**
   * The same keys for one unwrap: they may live in the suite's scratch memory and are valid only
   * until the next call (unwrapping is synchronous and copies what it keeps).
   */
  deriveUnwrapKeys(sharedSecret: Uint8Array): HopKeys;
  /** The header MAC; with `out` (macLength bytes) it is written there. */
  mac(key: Uint8Array, message: Uint8Array, out?: Uint8Array): Uint8Array;
  /** XORs the header keystream (from its start) into `data`, in place. */
  headerStreamXor(keys: HopKeys, data: Uint8Array): void;
  /** Payload SPRP, in place when the suite allows; always returns the result. */
  sprpEncrypt(payloadKey: Uint8Array, data: Uint8Array): Uint8Array;
  /**
   * The inverse; with `out` (data's length, not overlapping it) the plaintext is written there and
   * `out` returned, so that unwrapping deciphers straight into the outgoing packet.
   */
  sprpDecrypt(payloadKey: Uint8Array, data: Uint8Array, out?: Uint8Array): Uint8Array;
}
