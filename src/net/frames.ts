/**
 * Link frames: `u32 length (big-endian) ‖ u8 type ‖ body`, where `length` counts the type byte and
 * the body (so a keepalive is 00 00 00 01 02). Type 0x01 carries exactly one Sphinx packet of the
 * configured length; 0x02 is a keepalive with an empty body. The decoder checks each frame as soon
 * as its header arrives, so a bad frame is refused before its body is buffered.
 */
export const FRAME_PACKET = 0x01;
export const FRAME_KEEPALIVE = 0x02;
export const FRAME_HEADER_BYTES = 5;

/** Why a peer's byte stream was refused; also the `reason` of the frames_rejected counter. */
export type FrameErrorReason = 'oversized' | 'malformed' | 'unknown-type' | 'wrong-size';

export class FrameError extends Error {
  constructor(readonly reason: FrameErrorReason, message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export interface FrameLimits {
  /** Bytes in one Sphinx packet; a packet frame's body must be exactly this long. */
  readonly packetLength: number;
  /** Largest accepted `length` field (type byte + body). At least packetLength + 1. */
  readonly maxFrameBytes: number;
}

export function checkLimits(limits: FrameLimits): void {
  const { packetLength, maxFrameBytes } = limits;
  if (!Number.isSafeInteger(packetLength) || packetLength < 1) throw new RangeError(`bad packetLength: ${packetLength}`);
  if (!Number.isSafeInteger(maxFrameBytes) || maxFrameBytes < packetLength + 1 || maxFrameBytes > 0xffffffff) {
    throw new RangeError(`maxFrameBytes must be an integer in ${packetLength + 1}..2^32-1, got ${maxFrameBytes}`);
  }
}

/** One whole frame, ready to write: header and a copy of `body`. */
export function encodeFrame(type: number, body: Uint8Array = new Uint8Array(0)): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(1 + body.length, 0);
  frame[4] = type;
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export const KEEPALIVE_FRAME: Readonly<Buffer> = encodeFrame(FRAME_KEEPALIVE);

export interface Frame {
  readonly type: typeof FRAME_PACKET | typeof FRAME_KEEPALIVE;
  /** The packet (a copy, owned by the receiver) or an empty array for a keepalive. */
  readonly body: Uint8Array;
}

/**
 * Incremental decoder. `push` returns the complete frames in a chunk or throws FrameError at the
 * first bad header; after an error the decoder must not be used again (the peer is disconnected).
 * It never holds more than one partial frame (≤ maxFrameBytes + 4 bytes) plus one chunk.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly limits: FrameLimits) {
    checkLimits(limits);
  }

  push(chunk: Uint8Array): Frame[] {
    const data = this.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    let offset = 0;
    for (;;) {
      const available = data.length - offset;
      if (available < 4) break;
      const length = data.readUInt32BE(offset);
      if (length === 0) throw new FrameError('malformed', 'empty frame');
      if (length > this.limits.maxFrameBytes) throw new FrameError('oversized', `frame of ${length} bytes`);
      if (available < FRAME_HEADER_BYTES) break;
      const type = data[offset + 4];
      if (type === FRAME_PACKET) {
        if (length !== this.limits.packetLength + 1) throw new FrameError('wrong-size', `packet of ${length - 1} bytes`);
      } else if (type === FRAME_KEEPALIVE) {
        if (length !== 1) throw new FrameError('malformed', 'keepalive with a body');
      } else {
        throw new FrameError('unknown-type', `frame type ${type}`);
      }
      if (available < 4 + length) break;
      const body = new Uint8Array(length - 1);
      body.set(data.subarray(offset + FRAME_HEADER_BYTES, offset + 4 + length));
      frames.push({ type, body });
      offset += 4 + length;
    }
    // Copy the remainder so the decoder never pins a large chunk the socket handed us.
    this.pending = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
    return frames;
  }

  /** Bytes of an incomplete frame held back. */
  get buffered(): number {
    return this.pending.length;
  }
}
