import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FRAME_KEEPALIVE, FRAME_PACKET, FrameDecoder, FrameError, KEEPALIVE_FRAME, encodeFrame, type FrameErrorReason } from '../../src/net/frames.js';
import { packet } from './support.js';

const limits = { packetLength: 100, maxFrameBytes: 1000 };
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

  test('validates its limits', () => {
    assert.throws(() => new FrameDecoder({ packetLength: 100, maxFrameBytes: 100 }), RangeError);
    assert.throws(() => new FrameDecoder({ packetLength: 0, maxFrameBytes: 100 }), RangeError);
  });
});
