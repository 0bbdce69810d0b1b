import sodium from 'sodium-native';
import binding from 'sodium-native/binding.js';

/**
 * BLAKE2b, IETF ChaCha20 and the original ChaCha20's keystream through sodium-native's native binding, the layer its own JavaScript
 * wrapper calls. The wrapper re-checks every argument with `assert` on each call, which costs more
 * than the primitive itself on short inputs: about a fifth of a microsecond per call, and a Sphinx
 * unwrap makes nine of them (2 % of an unwrap). Our callers (sodium.ts) have already checked every
 * length, and the binding checks the bounds again in C, so the wrapper's checks are pure overhead
 * on this path. The keystream call is the PIR DPF's PRG: about a thousand 64-byte blocks under
 * different keys per full-domain evaluation (docs/pir.md, "The PRG").
 *
 * The binding is sodium-native's internal interface (its version is pinned exactly in
 * package.json). At load both calls are compared with the public wrapper on a known input; if they
 * throw or disagree, as they would after an incompatible upgrade, the public wrapper is used.
 */

type Blake2b = (out: Uint8Array, message: Uint8Array, key: Uint8Array | undefined) => void;
type ChaCha20Ietf = (out: Uint8Array, input: Uint8Array, nonce: Uint8Array, counter: number, key: Uint8Array) => void;
type ChaCha20Stream = (out: Uint8Array, nonce: Uint8Array, key: Uint8Array) => void;

const EMPTY = new Uint8Array(0);

/** Unreachable with the lengths sodium.ts checks; the public wrapper throws the same. */
function failed(what: string, status: number): never {
  throw new Error(`${what}: libsodium returned status ${status}`);
}

const directBlake2b: Blake2b = (out, message, key) => {
  const k = key ?? EMPTY;
  const status = binding.crypto_generichash(
    out.buffer, out.byteOffset, out.byteLength,
    message.buffer, message.byteOffset, message.byteLength,
    k.buffer, k.byteOffset, k.byteLength,
  );
  if (status !== 0) failed('BLAKE2b', status);
};

const directChaCha20Ietf: ChaCha20Ietf = (out, input, nonce, counter, key) => {
  const status = binding.crypto_stream_chacha20_ietf_xor_ic(out, input, nonce, counter, key);
  if (status !== 0) failed('ChaCha20', status);
};

const directChaCha20Stream: ChaCha20Stream = (out, nonce, key) => {
  const status = binding.crypto_stream_chacha20(out, nonce, key);
  if (status !== 0) failed('ChaCha20', status);
};

const wrappedBlake2b: Blake2b = (out, message, key) => {
  if (key === undefined) sodium.crypto_generichash(out, message);
  else sodium.crypto_generichash(out, message, key);
};

const wrappedChaCha20Ietf: ChaCha20Ietf = (out, input, nonce, counter, key) => {
  sodium.crypto_stream_chacha20_ietf_xor_ic(out, input, nonce, counter, key);
};

const wrappedChaCha20Stream: ChaCha20Stream = (out, nonce, key) => {
  sodium.crypto_stream_chacha20(out, nonce, key);
};

/** Whether the binding computes what the public wrapper does, on inputs at odd offsets of one buffer. */
function bindingAgrees(): boolean {
  try {
    const memory = new Uint8Array(512);
    for (let i = 0; i < memory.length; i++) memory[i] = (i * 37 + 11) & 0xff;
    const key = memory.subarray(1, 33);
    const nonce = memory.subarray(40, 52);
    const message = memory.subarray(53, 253);
    const run = (blake2b: Blake2b, chacha20: ChaCha20Ietf, stream: ChaCha20Stream): Uint8Array => {
      const out = new Uint8Array(2 * 32 + 2 * message.length);
      blake2b(out.subarray(0, 32), message, key);
      blake2b(out.subarray(32, 64), message, undefined);
      chacha20(out.subarray(64, 64 + message.length), message, nonce, 3, key);
      stream(out.subarray(64 + message.length + 1), nonce.subarray(0, 8), key);
      return out;
    };
    return sodium.sodium_memcmp(
      run(wrappedBlake2b, wrappedChaCha20Ietf, wrappedChaCha20Stream),
      run(directBlake2b, directChaCha20Ietf, directChaCha20Stream),
    );
  } catch {
    return false;
  }
}

const direct = bindingAgrees();

/** BLAKE2b of `message` into `out` (16..64 bytes), keyed when `key` (16..64 bytes) is given. */
export const sodiumBlake2b: Blake2b = direct ? directBlake2b : wrappedBlake2b;
/** IETF ChaCha20 (12-byte nonce) keystream from block `counter`, XORed with `input` into `out`. */
export const sodiumChaCha20IetfXor: ChaCha20Ietf = direct ? directChaCha20Ietf : wrappedChaCha20Ietf;
/** The original ChaCha20's keystream (8-byte nonce) from block 0 into `out`. */
export const sodiumChaCha20Stream: ChaCha20Stream = direct ? directChaCha20Stream : wrappedChaCha20Stream;
/** Whether the calls above go through the binding (false: through the public wrapper). */
export const sodiumBindingDirect = direct;
