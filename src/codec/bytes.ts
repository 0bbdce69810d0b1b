import { DecodeError } from './errors.js';

/**
 * Bounded binary reading and writing for every wire format: big-endian integers, fixed-length
 * fields and length-prefixed fields whose length is checked against a maximum before any
 * allocation. A reader never reads past its input and reports what was malformed.
 */
export class ByteReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array, private readonly what: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(length: number, field: string): void {
    if (length > this.remaining) throw new DecodeError(this.what, `truncated in ${field}`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.offset++];
  }

  u16(field: string): number {
    this.need(2, field);
    const value = this.view.getUint16(this.offset, false);
    this.offset += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.view.getUint32(this.offset, false);
    this.offset += 4;
    return value;
  }

  /** A uint64 that must fit a JavaScript safe integer. */
  u64(field: string): number {
    this.need(8, field);
    const value = this.view.getBigUint64(this.offset, false);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(this.what, `${field} is too large`);
    return Number(value);
  }

  /** Exactly `length` bytes, copied. */
  bytesOf(length: number, field: string): Uint8Array {
    this.need(length, field);
    const out = this.bytes.slice(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** A field prefixed by its length (u8, u16 or u32), which must not exceed `max`. */
  prefixed(prefix: 1 | 2 | 4, max: number, field: string): Uint8Array {
    const length = prefix === 1 ? this.u8(field) : prefix === 2 ? this.u16(field) : this.u32(field);
    if (length > max) throw new DecodeError(this.what, `${field} is ${length} bytes, at most ${max} allowed`);
    return this.bytesOf(length, field);
  }

  /** UTF-8 text prefixed by its byte length; invalid UTF-8 is malformed. */
  text(prefix: 1 | 2, max: number, field: string): string {
    const raw = this.prefixed(prefix, max, field);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw new DecodeError(this.what, `${field} is not valid UTF-8`);
    }
  }

  /** The rest of the input, copied. */
  rest(): Uint8Array {
    return this.bytesOf(this.remaining, 'rest');
  }

  /** Fails unless every byte was consumed: trailing bytes would make encodings non-canonical. */
  end(): void {
    if (this.remaining !== 0) throw new DecodeError(this.what, `${this.remaining} unexpected trailing bytes`);
  }
}

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private length = 0;

  constructor(initialCapacity = 256) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = Math.max(16, this.buffer.length * 2);
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): this {
    this.reserve(1);
    this.buffer[this.length++] = value;
    return this;
  }

  u16(value: number): this {
    this.reserve(2);
    this.view.setUint16(this.length, value, false);
    this.length += 2;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    this.view.setUint32(this.length, value, false);
    this.length += 4;
    return this;
  }

  u64(value: number): this {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(value), false);
    this.length += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
    return this;
  }

  /** Writes the length (u8, u16 or u32) then the bytes; throws if the length does not fit the prefix. */
  prefixed(prefix: 1 | 2 | 4, value: Uint8Array): this {
    const max = prefix === 1 ? 0xff : prefix === 2 ? 0xffff : 0xffffffff;
    if (value.length > max) throw new RangeError(`field of ${value.length} bytes does not fit a ${prefix}-byte length`);
    if (prefix === 1) this.u8(value.length);
    else if (prefix === 2) this.u16(value.length);
    else this.u32(value.length);
    return this.bytes(value);
  }

  text(prefix: 1 | 2, value: string): this {
    return this.prefixed(prefix, new TextEncoder().encode(value));
  }

  /**
   * The bytes written. A writer filled to exactly its capacity hands over its buffer without a copy
   * (size it with `new ByteWriter(length)` for large messages): any later write grows into a new one.
   */
  finish(): Uint8Array {
    if (this.length === this.buffer.length) return this.buffer;
    return this.buffer.slice(0, this.length);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Byte equality of public values: keys, IDs, magic numbers, encodings. It returns early, so it is
 * not constant-time; secrets are compared with Crypto.constantTimeEqual.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const HEX_DIGITS = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/**
 * Lower-case hexadecimal, two digits a byte (no Buffer: the cores also run in browsers). A mix
 * looks up each packet's next hop by its hex ID: digits from a table, not formatted per byte.
 */
export function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_DIGITS[bytes[i]];
  return out;
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** RFC 4648 base64url without padding (no Buffer: the e2e core also runs in browsers). */
export function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const triple = (a << 16) | (b << 8) | c;
    out += BASE64URL[(triple >> 18) & 63] + BASE64URL[(triple >> 12) & 63];
    if (i + 1 < bytes.length) out += BASE64URL[(triple >> 6) & 63];
    if (i + 2 < bytes.length) out += BASE64URL[triple & 63];
  }
  return out;
}

export function fromBase64Url(text: string, what: string, maxBytes: number): Uint8Array {
  if (text.length > Math.ceil((maxBytes * 4) / 3)) throw new DecodeError(what, 'too long');
  if (text.length % 4 === 1) throw new DecodeError(what, 'not base64url');
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let index = 0;
  for (const char of text) {
    const digit = BASE64URL.indexOf(char);
    if (digit < 0) throw new DecodeError(what, 'not base64url');
    value = (value << 6) | digit;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (value >> bits) & 0xff;
    }
  }
  // Canonical: the unused low bits of the last character must be zero.
  if ((value & ((1 << bits) - 1)) !== 0) throw new DecodeError(what, 'not canonical base64url');
  return out;
}
