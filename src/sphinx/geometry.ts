import { SphinxError } from './errors.js';
import { NODE_ID_LENGTH, nextHopCommandLength, SURB_REPLY_COMMAND_LENGTH } from './commands.js';
import type { CipherSuite } from './suite.js';

/**
 * The sizes of every packet of one network. All packets of a geometry have the same length at
 * every hop, so a packet's size says nothing about its path, position or content.
 *
 * header  = additional data | group element (32) | routing information | MAC
 * routing information = hops x per-hop slot
 * payload = integrity tag | [SURB] | user payload          (the SURB only `withSurb`)
 * SURB    = header | first hop node ID (32) | payload key of the SURB's own layer
 */
export interface GeometryOptions {
  /** Maximum path length the header has room for. */
  readonly hops: number;
  /** Bytes of application data each forward packet carries. */
  readonly userForwardPayloadLength: number;
  /** Whether every forward payload also carries a SURB for the reply or acknowledgement. */
  readonly withSurb: boolean;
}

export interface Geometry extends GeometryOptions {
  readonly suite: CipherSuite['name'];
  readonly additionalDataLength: number;
  readonly groupElementLength: number;
  readonly macLength: number;
  readonly perHopLength: number;
  readonly routingInfoLength: number;
  readonly headerLength: number;
  readonly surbLength: number;
  readonly payloadTagLength: number;
  /** Plaintext bytes after the tag: [SURB] | user payload. Also the reply message length. */
  readonly forwardPayloadLength: number;
  readonly payloadLength: number;
  readonly packetLength: number;
}

/**
 * The network's default: gateway, three mix layers and the recipient's provider (5 hops); 2 KiB of mail
 * per packet; every forward packet carries a SURB for its acknowledgement.
 */
export const DEFAULT_GEOMETRY: GeometryOptions = Object.freeze({ hops: 5, userForwardPayloadLength: 2048, withSurb: true });

export const MAX_HOPS_LIMIT = 32;
const MAX_PAYLOAD = 1 << 20;

export function makeGeometry(suite: CipherSuite, options: GeometryOptions): Geometry {
  const { hops, userForwardPayloadLength, withSurb } = options;
  if (!Number.isInteger(hops) || hops < 1 || hops > MAX_HOPS_LIMIT) {
    throw new SphinxError('invalid-path', `hops must be an integer in 1..${MAX_HOPS_LIMIT}`);
  }
  if (!Number.isInteger(userForwardPayloadLength) || userForwardPayloadLength < 1 || userForwardPayloadLength > MAX_PAYLOAD) {
    throw new SphinxError('payload-too-long', `user payload length must be in 1..${MAX_PAYLOAD}`);
  }
  const additionalDataLength = suite.additionalData.length;
  const groupElementLength = 32;
  const macLength = suite.macLength;
  // Room for a next-hop command plus a SURB-reply command: this fits every hop a client builds
  // (next hop + delay, or recipient + SURB reply) and equals Katzenpost's 82 bytes.
  const perHopLength = nextHopCommandLength(macLength) + SURB_REPLY_COMMAND_LENGTH;
  const routingInfoLength = perHopLength * hops;
  const headerLength = additionalDataLength + groupElementLength + routingInfoLength + macLength;
  const surbLength = headerLength + NODE_ID_LENGTH + suite.payloadKeyLength;
  const forwardPayloadLength = userForwardPayloadLength + (withSurb ? surbLength : 0);
  const payloadLength = suite.payloadTagLength + forwardPayloadLength;
  return Object.freeze({
    suite: suite.name,
    hops,
    userForwardPayloadLength,
    withSurb,
    additionalDataLength,
    groupElementLength,
    macLength,
    perHopLength,
    routingInfoLength,
    headerLength,
    surbLength,
    payloadTagLength: suite.payloadTagLength,
    forwardPayloadLength,
    payloadLength,
    packetLength: headerLength + payloadLength,
  });
}
