import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import sodium from 'sodium-native';
import { sodiumBindingDirect, sodiumBlake2b, sodiumChaCha20IetfXor, sodiumChaCha20Stream } from '../../src/crypto/sodium-binding.js';

/**
 * The direct calls into sodium-native's binding (src/crypto/sodium-binding.ts) compute what its
 * public functions do, at any offset of any buffer; and with the pinned sodium-native they are the
 * ones in use (an upgrade that changes the binding falls back silently: this says so).
 */
const RUNS = { seed: 0x50d1, numRuns: 300 };

test('with the pinned sodium-native, BLAKE2b and ChaCha20 go through the binding', () => {
  assert.equal(sodiumBindingDirect, true);
});

test('binding BLAKE2b = sodium-native crypto_generichash, keyed or not, at any offset', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 16, max: 64 }),
    fc.option(fc.integer({ min: 16, max: 64 }), { nil: undefined }), fc.integer({ min: 0, max: 2 ** 31 }),
    (offset, length, outLength, keyLength, seed) => {
      const memory = new Uint8Array(offset + length + 64 + 64);
      for (let i = 0; i < memory.length; i++) memory[i] = (seed + i * 131) & 0xff;
      const message = memory.subarray(offset, offset + length);
      const key = keyLength === undefined ? undefined : memory.subarray(offset + length, offset + length + keyLength);
      const expected = new Uint8Array(outLength);
      if (key === undefined) sodium.crypto_generichash(expected, message);
      else sodium.crypto_generichash(expected, message, key);
      const actual = new Uint8Array(outLength + 3).subarray(3);
      sodiumBlake2b(actual, message, key);
      assert.deepEqual(actual, expected);
    }), RUNS);
});

test('binding ChaCha20 = sodium-native crypto_stream_chacha20_ietf_xor_ic, in place or not', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 1000 }),
    fc.boolean(), fc.integer({ min: 0, max: 2 ** 31 }),
    (offset, length, counter, inPlace, seed) => {
      const memory = new Uint8Array(offset + length + 44);
      for (let i = 0; i < memory.length; i++) memory[i] = (seed + i * 29) & 0xff;
      const input = memory.subarray(offset, offset + length);
      const key = memory.subarray(offset + length, offset + length + 32);
      const nonce = memory.subarray(offset + length + 32);
      const expected = new Uint8Array(length);
      sodium.crypto_stream_chacha20_ietf_xor_ic(expected, input, nonce, counter, key);
      const actual = inPlace ? input : new Uint8Array(length);
      sodiumChaCha20IetfXor(actual, input, nonce, counter, key);
      assert.deepEqual(actual, expected);
    }), RUNS);
});

test('binding ChaCha20 keystream = sodium-native crypto_stream_chacha20 (8-byte nonce), into a view at any offset', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 700 }), fc.integer({ min: 0, max: 2 ** 31 }),
    (offset, length, seed) => {
      const memory = new Uint8Array(40 + offset + length + 5);
      for (let i = 0; i < memory.length; i++) memory[i] = (seed + i * 53) & 0xff;
      const key = memory.subarray(0, 32);
      const nonce = memory.subarray(32, 40);
      const expected = new Uint8Array(length);
      sodium.crypto_stream_chacha20(expected, nonce, key);
      const before = memory.slice();
      sodiumChaCha20Stream(memory.subarray(40 + offset, 40 + offset + length), nonce, key);
      assert.deepEqual(memory.subarray(40 + offset, 40 + offset + length), expected);
      assert.deepEqual(memory.subarray(0, 40 + offset), before.subarray(0, 40 + offset));
      assert.deepEqual(memory.subarray(40 + offset + length), before.subarray(40 + offset + length));
    }), RUNS);
});
