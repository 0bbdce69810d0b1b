import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeGatewayFrame, gatewayFrameLength, GATEWAY_FRAME_VERSION, parseGatewayFrame } from '../../src/wire/gateway-frame.js';
import { fill, hex } from './support.js';

/** The client → gateway frame (docs/network.md, "Gateway frames"). */
test('gateway frame bytes: version 1 ‖ first-hop node ID ‖ packet', () => {
  const frame = encodeGatewayFrame({ firstHop: fill(32, 0x20), packet: Uint8Array.of(0xaa, 0xbb, 0xcc) });
  assert.equal(hex(frame), '01202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3faabbcc');
  assert.equal(GATEWAY_FRAME_VERSION, 1);
  assert.equal(gatewayFrameLength(3), 36);
  const parsed = parseGatewayFrame(frame, 3);
  assert.ok(typeof parsed !== 'string');
  assert.deepEqual(parsed.firstHop, fill(32, 0x20));
  assert.deepEqual(parsed.packet, Uint8Array.of(0xaa, 0xbb, 0xcc));
  assert.throws(() => encodeGatewayFrame({ firstHop: fill(31, 0), packet: new Uint8Array(3) }), RangeError);
});

test('gateway frames: only the exact length for the packet length, and only version 1, are accepted', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: 0, max: 160 }), (bytes, packetLength) => {
      const parsed = parseGatewayFrame(bytes, packetLength);
      if (bytes.length !== 33 + packetLength) return parsed === 'wrong-size';
      if (bytes[0] !== 1) return parsed === 'bad-version';
      return typeof parsed !== 'string' && parsed.packet.length === packetLength && hex(encodeGatewayFrame(parsed)) === hex(bytes);
    }),
    { seed: 9 },
  );
});
