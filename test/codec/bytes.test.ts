import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hexOf, sameBytes } from '../../src/codec/bytes.js';

test('hexOf writes two lower-case digits a byte', () => {
  assert.equal(hexOf(new Uint8Array(0)), '');
  assert.equal(hexOf(Uint8Array.of(0, 1, 0x0f, 0x10, 0xab, 0xff)), '00010f10abff');
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(hexOf(bytes), Buffer.from(bytes).toString('hex'));
  assert.equal(hexOf(bytes.subarray(250, 252)), 'fafb');
});

test('sameBytes compares length and content', () => {
  assert.ok(sameBytes(new Uint8Array(0), new Uint8Array(0)));
  assert.ok(sameBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)));
  assert.ok(!sameBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)));
  assert.ok(!sameBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2)));
  assert.ok(sameBytes(Uint8Array.of(9, 1, 2).subarray(1), Uint8Array.of(1, 2)));
});
