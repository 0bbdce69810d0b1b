import { ByteReader, ByteWriter } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import type { Geometry } from '../sphinx/geometry.js';
import type { PathHop, Sphinx } from '../sphinx/sphinx.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import { decodeAck, encodeAck, type Ack, type DecodedAck } from './ack.js';
import { E2eError } from './errors.js';
import { DEFAULT_FRAGMENT_PARAMS, type FragmentParams } from './fragment.js';

/**
 * Where the end-to-end layer meets Sphinx (docs/e2e.md): a fragment is exactly one packet's whole
 * payload, and an acknowledgement rides back in the SURB sealed inside the fragment. The SURB reply payload is encrypted for the SURB's creator alone, so no mix or mailbox
 * server reads an ACK; its length prefix lets the zero padding after it be told apart.
 */
export function fragmentParamsFor(geometry: Geometry, base: FragmentParams = DEFAULT_FRAGMENT_PARAMS): FragmentParams {
  // A fragment is a packet's whole payload and carries the SURB for its acknowledgement inside its
  // seal (docs/e2e-fragments.md): nothing of it is readable at the mailbox server.
  return { ...base, fragmentLength: geometry.payloadLength, surbLength: geometry.surbLength };
}

/**
 * The packet carrying one sealed fragment along `path`, whose last hop delivers it as a reply is
 * delivered (recipient and SURB-reply commands): the mailbox server stores it exactly as it stores
 * an acknowledgement or a loop.
 */
export function fragmentPacket(sphinx: Sphinx, path: readonly PathHop[], fragment: Uint8Array, random: RandomSource): Uint8Array {
  return sphinx.newPacketWithPayload(path, fragment, random);
}

/** The reply packet carrying `ack` through `surb`, and the node to hand it to. */
export function ackReplyPacket(sphinx: Sphinx, surb: Uint8Array, ack: Ack): { firstHop: Uint8Array; packet: Uint8Array } {
  const room = sphinx.geometry.forwardPayloadLength - 2;
  const body = new ByteWriter(room + 2).prefixed(2, encodeAck(ack, room)).finish();
  return sphinx.newPacketFromSurb(surb, body);
}

/** Reads an acknowledgement at the SURB's creator from the reply payload and the SURB's decryption token. */
export function readAckReply(sphinx: Sphinx, payload: Uint8Array, decryptionToken: Uint8Array): DecodedAck {
  const plain = sphinx.decryptSurbPayload(payload, decryptionToken);
  try {
    const reader = new ByteReader(plain, 'ack reply');
    return decodeAck(reader.prefixed(2, plain.length, 'ack'));
  } catch (error) {
    if (error instanceof DecodeError) throw new E2eError('bad-ack', error.message);
    throw error;
  }
}
