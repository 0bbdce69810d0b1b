/**
 * What a client sends its gateway, one WebSocket binary message per frame (docs/network.md,
 * "Gateway frames"):
 *
 *   version (1 byte, = 1) ‖ first-hop node ID (32 bytes) ‖ Sphinx packet (the geometry's packet length)
 *
 * The gateway is a forwarder, not a Sphinx hop: it hands the packet, unchanged and at once, to the
 * layer-1 mix the frame names. Every frame of a network has the same length.
 */
export const GATEWAY_FRAME_VERSION = 1;
/** A node ID: its Ed25519 identity public key. */
export const GATEWAY_FRAME_NODE_ID_BYTES = 32;
const HEADER_BYTES = 1 + GATEWAY_FRAME_NODE_ID_BYTES;

export interface GatewayFrame {
  readonly firstHop: Uint8Array;
  readonly packet: Uint8Array;
}

/** The frame length for packets of `packetLength` bytes. */
export function gatewayFrameLength(packetLength: number): number {
  return HEADER_BYTES + packetLength;
}

export function encodeGatewayFrame(frame: GatewayFrame): Uint8Array {
  if (frame.firstHop.length !== GATEWAY_FRAME_NODE_ID_BYTES) throw new RangeError(`a first-hop node ID is ${GATEWAY_FRAME_NODE_ID_BYTES} bytes`);
  const out = new Uint8Array(HEADER_BYTES + frame.packet.length);
  out[0] = GATEWAY_FRAME_VERSION;
  out.set(frame.firstHop, 1);
  out.set(frame.packet, HEADER_BYTES);
  return out;
}

export type GatewayFrameProblem = 'wrong-size' | 'bad-version';

/**
 * The frame's parts (views into `bytes`), or the problem: a length other than the one for
 * `packetLength` (nothing more is read), or a version not known here.
 */
export function parseGatewayFrame(bytes: Uint8Array, packetLength: number): GatewayFrame | GatewayFrameProblem {
  if (bytes.length !== gatewayFrameLength(packetLength)) return 'wrong-size';
  if (bytes[0] !== GATEWAY_FRAME_VERSION) return 'bad-version';
  return { firstHop: bytes.subarray(1, HEADER_BYTES), packet: bytes.subarray(HEADER_BYTES) };
}
