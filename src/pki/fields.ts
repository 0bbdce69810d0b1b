/** Field rules shared by descriptors and consensus documents (docs/pki.md, "Field rules"). */

export const KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const MAX_NAME_BYTES = 64;
export const MAX_ADDRESS_BYTES = 255;

export function isBytes(value: unknown, length?: number): value is Uint8Array {
  return value instanceof Uint8Array && (length === undefined || value.length === length);
}

/** Lexicographic byte order (shorter first on a common prefix). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const encoder = new TextEncoder();

export function utf8Length(text: string): number {
  return encoder.encode(text).length;
}

/** Strict UTF-8 decoding that keeps a leading U+FEFF (so decoding inverts encoding); undefined if invalid. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}


/**
 * What is wrong with a node name, or undefined: 1..64 bytes of ASCII letters, digits, '-', '_' and
 * '.', like a family name. Names are shown to operators and users (logs, `umbra up`, metrics
 * labels), so no character may change how others around it display: no control characters, no
 * bidi overrides (U+202E), no byte-order mark, no look-alike letters.
 */
export function nameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'the name is not a string';
  if (!SAFE_NAME.test(name)) return `the name must be 1..${MAX_NAME_BYTES} of A-Z a-z 0-9 - _ .`;
  return undefined;
}

const SAFE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
const FAMILY = SAFE_NAME;

/**
 * What is wrong with an operator (family) name, or undefined: 1..64 bytes of ASCII letters,
 * digits, '-', '_' and '.' (so no control, bidi or look-alike characters).
 */
export function familyProblem(family: unknown): string | undefined {
  if (typeof family !== 'string') return 'the family is not a string';
  if (!FAMILY.test(family)) return `the family must be 1..${MAX_NAME_BYTES} of A-Z a-z 0-9 - _ .`;
  return undefined;
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
const PORT = /^[1-9][0-9]{0,4}$/;

/**
 * Splits "host:port" (a hostname or IPv4 address, or a bracketed IPv6 address, then a port
 * 1..65535 without leading zeros). Undefined when the text is not such an address.
 */
export function parseHostPort(text: unknown): { host: string; port: number } | undefined {
  if (typeof text !== 'string' || text.length < 3 || text.length > MAX_ADDRESS_BYTES) return undefined;
  const colon = text.lastIndexOf(':');
  if (colon < 1) return undefined;
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (!PORT.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (host.startsWith('[')) {
    if (!host.endsWith(']')) return undefined;
    host = host.slice(1, -1);
    if (!IPV6.test(host) || !host.includes(':')) return undefined;
  } else if (!HOSTNAME.test(host) || host.length > 253) {
    return undefined;
  }
  return { host, port };
}

export function addressProblem(what: string, text: unknown): string | undefined {
  return parseHostPort(text) === undefined ? `the ${what} address is not "host:port" (port 1..65535)` : undefined;
}
