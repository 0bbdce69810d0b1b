import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FRAME_KEEPALIVE, FRAME_PACKET, FrameDecoder, FrameError, FrameSlab, KEEPALIVE_FRAME, encodeFrame, joinAdjacent, type FrameErrorReason } from '../../src/net/frames.js';
import { packet } from './support.js';

const limits = { packetLength: 100, maxFrameBytes: 1000 };
const RUNS = { seed: 20261207, numRuns: 300 };
const header = (length: number, type: number): Uint8Array => {
  const bytes = Buffer.alloc(5);
  bytes.writeUInt32BE(length, 0);
  bytes[4] = type;
  return bytes;
};
const refuses = (chunk: Uint8Array, reason: FrameErrorReason): void => {
  assert.throws(() => new FrameDecoder(limits).push(chunk), (e: unknown) => e instanceof FrameError && e.reason === reason);
};

describe('frames', () => {
  test('encode: u32 length (type + body) ‖ type ‖ body', () => {
    assert.deepEqual([...KEEPALIVE_FRAME], [0, 0, 0, 1, FRAME_KEEPALIVE]);
    const frame = encodeFrame(FRAME_PACKET, packet(0, 9, 100));
    assert.equal(frame.length, 105);
    assert.equal(frame.readUInt32BE(0), 101);
    assert.equal(frame[4], FRAME_PACKET);
    assert.deepEqual(new Uint8Array(frame.subarray(5)), packet(0, 9, 100));
  });

  test('decodes frames split at every byte and glued together', () => {
    const stream = Buffer.concat([encodeFrame(FRAME_PACKET, packet(0, 1, 100)), KEEPALIVE_FRAME, encodeFrame(FRAME_PACKET, packet(0, 2, 100))]);
    const one = new FrameDecoder(limits).push(stream);
    assert.deepEqual(one.map((f) => f.type), [FRAME_PACKET, FRAME_KEEPALIVE, FRAME_PACKET]);
    assert.deepEqual(one[2].body, packet(0, 2, 100));
    const decoder = new FrameDecoder(limits);
    const bytewise = [...stream].flatMap((byte) => decoder.push(Uint8Array.of(byte)));
    assert.deepEqual(bytewise, one);
    assert.equal(decoder.buffered, 0);
  });

  test('refuses a bad frame from its header, before the body arrives', () => {
    refuses(Uint8Array.of(0, 0xa0, 0, 0), 'oversized'); // a 10 MiB length prefix, 4 bytes suffice
    refuses(Uint8Array.of(0, 0, 0, 0), 'malformed');
    refuses(header(1001, FRAME_PACKET), 'oversized');
    refuses(header(100, FRAME_PACKET), 'wrong-size');
    refuses(header(102, FRAME_PACKET), 'wrong-size');
    refuses(header(2, FRAME_KEEPALIVE), 'malformed');
    refuses(header(1, 0x00), 'unknown-type');
    refuses(header(1, 0x7f), 'unknown-type');
    refuses(Buffer.from('GET / HTTP/1.1\r\n\r\n'), 'oversized');
  });

  test('property: any frames, cut into chunks anywhere, decode to the same frames; a chunk is never changed', () => {
    const frame = fc.oneof(fc.constant(undefined), fc.uint8Array({ minLength: 100, maxLength: 100 }));
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 12 }), fc.array(fc.nat(1200), { maxLength: 12 }), (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map((body) => (body === undefined ? KEEPALIVE_FRAME : encodeFrame(FRAME_PACKET, body))));
        const points = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((start, i) => Uint8Array.from(stream.subarray(start, [...points, stream.length][i])));
        const copies = chunks.map((chunk) => chunk.slice());
        const decoder = new FrameDecoder(limits);
        const frames = chunks.flatMap((chunk) => decoder.push(chunk));
        assert.equal(decoder.buffered, 0);
        assert.deepEqual(frames.map((f) => f.type), bodies.map((body) => (body === undefined ? FRAME_KEEPALIVE : FRAME_PACKET)));
        frames.forEach((f, i) => assert.deepEqual(f.body, bodies[i] ?? new Uint8Array(0)));
        chunks.forEach((chunk, i) => assert.deepEqual(chunk, copies[i]));
      }),
      RUNS,
    );
  });

  test('a frame whole in its chunk is a view of it; a split frame is assembled apart', () => {
    const stream = Buffer.concat([encodeFrame(FRAME_PACKET, packet(0, 1, 100)), encodeFrame(FRAME_PACKET, packet(0, 2, 100))]);
    const decoder = new FrameDecoder(limits);
    const [whole] = decoder.push(stream.subarray(0, 150));
    assert.equal(whole.body.buffer, stream.buffer);
    assert.equal(decoder.buffered, 45);
    const [split] = decoder.push(stream.subarray(150));
    assert.notEqual(split.body.buffer, stream.buffer);
    assert.deepEqual(split.body, packet(0, 2, 100));
  });

  test('slab frames hold the bytes encodeFrame makes, side by side, and join into one view per slab', () => {
    const slab = new FrameSlab(105);
    const frames = Array.from({ length: 40 }, (_, i) => slab.encode(FRAME_PACKET, packet(0, i, 100)));
    frames.forEach((frame, i) => assert.deepEqual(frame, encodeFrame(FRAME_PACKET, packet(0, i, 100))));
    const first = joinAdjacent(frames, 0, frames.length);
    assert.equal(first.end, 32); // a slab holds 32 frames of the size given
    assert.deepEqual(first.bytes, Buffer.concat(frames.slice(0, 32)));
    const rest = joinAdjacent(frames, 32, 35);
    assert.equal(rest.end, 35);
    assert.deepEqual(rest.bytes, Buffer.concat(frames.slice(32, 35)));
    assert.equal(joinAdjacent(frames, 5, 6).bytes, frames[5]);
  });

  test('validates its limits', () => {
    assert.throws(() => new FrameDecoder({ packetLength: 100, maxFrameBytes: 100 }), RangeError);
    assert.throws(() => new FrameDecoder({ packetLength: 0, maxFrameBytes: 100 }), RangeError);
  });
});
