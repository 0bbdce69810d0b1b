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
  writeFrame(frame, 0, type, body);
  return frame;
}

/** Writes a frame (header and `body`) into `target` at `at`; returns the offset after it. */
function writeFrame(target: Buffer, at: number, type: number, body: Uint8Array): number {
  target.writeUInt32BE(1 + body.length, at);
  target[at + 4] = type;
  target.set(body, at + FRAME_HEADER_BYTES);
  return at + FRAME_HEADER_BYTES + body.length;
}

export const KEEPALIVE_FRAME: Readonly<Buffer> = encodeFrame(FRAME_KEEPALIVE);

/** Packet frames per slab (about 100 KiB for 3 KiB packets). */
const SLAB_FRAMES = 32;

/**
 * Encodes frames one after another into shared slabs: a run of frames queued together is then one
 * contiguous range (joinAdjacent), written with one call, and no frame has a buffer of its own. A
 * slab is never written twice: a full one is left to the frames that view it, and a new one begun.
 */
export class FrameSlab {
  private slab: Buffer | undefined;
  private used = 0;

  /** `frameBytes`: the size of the frames expected (the slab holds SLAB_FRAMES of them). */
  constructor(private readonly frameBytes: number) {}

  /** One whole frame, as encodeFrame makes it, in the slab: a view of its header and a copy of `body`. */
  encode(type: number, body: Uint8Array): Buffer {
    const size = FRAME_HEADER_BYTES + body.length;
    let slab = this.slab;
    if (slab === undefined || slab.length - this.used < size) {
      slab = Buffer.allocUnsafeSlow(Math.max(size, this.frameBytes * SLAB_FRAMES));
      this.slab = slab;
      this.used = 0;
    }
    const start = this.used;
    this.used = writeFrame(slab, start, type, body);
    return slab.subarray(start, this.used);
  }
}

/**
 * The frames from `frames[from]` on that lie side by side in one buffer, as one view, and the
 * index after the last of them (at most `to`).
 */
export function joinAdjacent(frames: readonly Buffer[], from: number, to: number): { bytes: Buffer; end: number } {
  const first = frames[from];
  let end = from + 1;
  let length = first.length;
  while (end < to) {
    const next = frames[end];
    if (next.buffer !== first.buffer || next.byteOffset !== first.byteOffset + length) break;
    length += next.length;
    end++;
  }
  return { bytes: end === from + 1 ? first : Buffer.from(first.buffer, first.byteOffset, length), end };
}

export interface Frame {
  readonly type: typeof FRAME_PACKET | typeof FRAME_KEEPALIVE;
  /**
   * The packet, or an empty array for a keepalive. A view of the chunk it arrived in (or, when it
   * was split across chunks, a buffer of its own): the receiver may keep it and change its bytes, but
   * must not transfer its buffer, which the chunk's other frames share.
   */
  readonly body: Uint8Array;
}

/** What a keepalive frame carries. */
const EMPTY_BODY = new Uint8Array(0);

/**
 * Incremental decoder. `push` returns the complete frames in a chunk or throws FrameError at the
 * first bad header; after an error the decoder must not be used again (the peer is disconnected).
 * A frame that lies whole in one chunk comes back as a view of that chunk, with no copy (the
 * caller must not reuse a chunk it pushed); only a frame split across chunks is assembled in
 * a buffer of its own. The decoder holds at most one incomplete frame (≤ maxFrameBytes + 4 bytes).
 */
export class FrameDecoder {
  /** The header of the frame being assembled, and how many of its bytes have arrived. */
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES);
  private headerHave = 0;
  /** The body of the packet frame being assembled (its header complete), and its bytes so far. */
  private body: Uint8Array | undefined;
  private bodyHave = 0;

  constructor(private readonly limits: FrameLimits) {
    checkLimits(limits);
  }

  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    let offset = this.headerHave > 0 ? this.resume(chunk, frames) : 0;
    if (this.headerHave > 0) return frames; // the chunk ended inside the frame being assembled
    const { buffer, byteOffset } = chunk;
    for (;;) {
      const available = chunk.length - offset;
      if (available < 4) break;
      const length = lengthAt(chunk, offset);
      this.checkLength(length);
      if (available < FRAME_HEADER_BYTES) break;
      const type = this.checkType(length, chunk[offset + 4]);
      if (available < 4 + length) break;
      frames.push({ type, body: type === FRAME_PACKET ? new Uint8Array(buffer, byteOffset + offset + FRAME_HEADER_BYTES, length - 1) : EMPTY_BODY });
      offset += 4 + length;
    }
    if (offset < chunk.length) this.resume(chunk.subarray(offset), frames);
    return frames;
  }

  /** Bytes of an incomplete frame held back. */
  get buffered(): number {
    return this.headerHave + this.bodyHave;
  }

  /**
   * Feeds the frame being assembled (or a new one) from the start of `chunk`, checking its header
   * as soon as each part of it arrives; a frame it completes goes to `frames`. Returns the bytes
   * of `chunk` used.
   */
  private resume(chunk: Uint8Array, frames: Frame[]): number {
    let offset = 0;
    const header = this.header;
    while (this.headerHave < FRAME_HEADER_BYTES && offset < chunk.length) {
      header[this.headerHave++] = chunk[offset++];
      if (this.headerHave === 4) this.checkLength(lengthAt(header, 0));
    }
    if (this.headerHave < FRAME_HEADER_BYTES) return offset;
    if (this.body === undefined) {
      const length = lengthAt(header, 0);
      const type = this.checkType(length, header[4]);
      if (type === FRAME_KEEPALIVE) {
        this.headerHave = 0;
        frames.push({ type, body: EMPTY_BODY });
        return offset;
      }
      this.body = new Uint8Array(length - 1);
      this.bodyHave = 0;
    }
    const body = this.body;
    const take = Math.min(body.length - this.bodyHave, chunk.length - offset);
    body.set(chunk.subarray(offset, offset + take), this.bodyHave);
    this.bodyHave += take;
    offset += take;
    if (this.bodyHave === body.length) {
      frames.push({ type: FRAME_PACKET, body });
      this.body = undefined;
      this.bodyHave = 0;
      this.headerHave = 0;
    }
    return offset;
  }

  private checkLength(length: number): void {
    if (length === 0) throw new FrameError('malformed', 'empty frame');
    if (length > this.limits.maxFrameBytes) throw new FrameError('oversized', `frame of ${length} bytes`);
  }

  private checkType(length: number, type: number): Frame['type'] {
    if (type === FRAME_PACKET) {
      if (length !== this.limits.packetLength + 1) throw new FrameError('wrong-size', `packet of ${length - 1} bytes`);
      return type;
    }
    if (type === FRAME_KEEPALIVE) {
      if (length !== 1) throw new FrameError('malformed', 'keepalive with a body');
      return type;
    }
    throw new FrameError('unknown-type', `frame type ${type}`);
  }
}

/** The big-endian u32 at `offset`. */
function lengthAt(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}
