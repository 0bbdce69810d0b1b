/**
 * A node's TLS identity from its Ed25519 link seed: the PKCS#8 private key and a self-signed X.509
 * certificate, both PEM, as node:tls wants them; `linkKeyOf`, the raw Ed25519 key of a peer's
 * certificate, which is what the link layer pins (docs/links.md); and the pin checks themselves,
 * `sameLinkKey` and `pinnedPeers`.
 *
 * Node 20 cannot create certificates, and the packages that can either need a global polyfill
 * (@peculiar/x509 → tsyringe → reflect-metadata) or have no Ed25519 certificates (node-forge). An
 * Ed25519 certificate with fixed fields is a fixed ASN.1 structure, so it is written here as DER
 * (RFC 5280, RFC 8410) and signed with node:crypto. Everything is deterministic: the same seed gives
 * the same certificate (Ed25519 signatures are deterministic, the dates and serial are fixed).
 */
import { createHash, createPrivateKey, createPublicKey, sign, timingSafeEqual, X509Certificate } from 'node:crypto';
import { requireLength } from '../crypto/errors.js';

export interface TlsIdentity {
  /** The PKCS#8 private key, PEM ("-----BEGIN PRIVATE KEY-----"). */
  readonly key: string;
  /** The self-signed X.509 v3 certificate, PEM. */
  readonly cert: string;
  /** The raw 32-byte Ed25519 public key: what peers pin. */
  readonly linkKey: Uint8Array;
}

const ED25519_ALGORITHM = Uint8Array.of(0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70); // id-Ed25519, no parameters
const PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, ...ED25519_ALGORITHM, 0x04, 0x22, 0x04, 0x20);
const SPKI_PREFIX = Uint8Array.of(0x30, 0x2a, ...ED25519_ALGORITHM, 0x03, 0x21, 0x00);
const COMMON_NAME = 'umbra-link';
const NOT_BEFORE = '000101000000Z'; // UTCTime 2000-01-01
const NOT_AFTER = '99991231235959Z'; // GeneralizedTime: "no well-defined expiration" (RFC 5280 4.1.2.5)

function derLength(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let n = length; n > 0; n >>>= 8) bytes.unshift(n & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

function tlv(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts);
  return Buffer.concat([Uint8Array.of(tag, ...derLength(body.length)), body]);
}

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'ascii'));

function name(commonName: string): Uint8Array {
  const cn = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03); // id-at-commonName
  return tlv(0x30, tlv(0x31, tlv(0x30, cn, tlv(0x0c, ascii(commonName)))));
}

/** basicConstraints (critical, cA FALSE) and keyUsage (critical, digitalSignature). */
const EXTENSIONS = tlv(0xa3, tlv(0x30,
  Uint8Array.of(0x30, 0x0c, 0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff, 0x04, 0x02, 0x30, 0x00),
  Uint8Array.of(0x30, 0x0e, 0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x07, 0x80),
));

function pem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

/** The key and self-signed certificate that node:tls needs, from a 32-byte Ed25519 seed. */
export function tlsIdentity(seed: Uint8Array): TlsIdentity {
  requireLength('Ed25519 link seed', seed, 32);
  const pkcs8 = Buffer.concat([PKCS8_PREFIX, seed]);
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  const linkKey = spki.slice(SPKI_PREFIX.length);

  // A positive 16-byte serial from the key, first byte in 0x40..0x7f so the INTEGER is minimal.
  const serial = new Uint8Array(createHash('sha256').update('umbra link certificate serial').update(linkKey).digest()).slice(0, 16);
  serial[0] = (serial[0] & 0x3f) | 0x40;

  const tbs = tlv(0x30,
    Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02), // [0] version v3
    tlv(0x02, serial),
    ED25519_ALGORITHM,
    name(COMMON_NAME),
    tlv(0x30, tlv(0x17, ascii(NOT_BEFORE)), tlv(0x18, ascii(NOT_AFTER))),
    name(COMMON_NAME),
    spki,
    EXTENSIONS,
  );
  const signature = sign(null, tbs, privateKey);
  const certificate = tlv(0x30, tbs, ED25519_ALGORITHM, tlv(0x03, Uint8Array.of(0x00), signature));
  return { key: pem('PRIVATE KEY', pkcs8), cert: pem('CERTIFICATE', certificate), linkKey };
}

/** What `linkKeyOf` reads: an X509Certificate, a peer certificate with `.raw` DER, or DER bytes. */
export type CertificateInput = X509Certificate | { readonly raw: Uint8Array } | Uint8Array;

/**
 * The raw 32-byte Ed25519 public key of a certificate, or undefined when there is no certificate
 * (a peer that sent none gives `{}` from getPeerCertificate()), it does not parse, or its key is not
 * Ed25519. Only the key is read: the certificate's names, dates and signature do not matter for a
 * pinned link (TLS 1.3's CertificateVerify proves the peer holds the key).
 */
export function linkKeyOf(cert: CertificateInput | undefined | null): Uint8Array | undefined {
  if (cert === undefined || cert === null) return undefined;
  let x509: X509Certificate;
  try {
    if (cert instanceof X509Certificate) x509 = cert;
    else if (cert instanceof Uint8Array) x509 = new X509Certificate(cert);
    else if (cert.raw instanceof Uint8Array) x509 = new X509Certificate(cert.raw);
    else return undefined;
  } catch {
    return undefined;
  }
  const publicKey = x509.publicKey;
  if (publicKey.asymmetricKeyType !== 'ed25519') return undefined;
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') return undefined;
  const raw = new Uint8Array(Buffer.from(jwk.x, 'base64url'));
  return raw.length === 32 ? raw : undefined;
}

/** Constant-time equality of two link keys (their length is public). */
export function sameLinkKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * An `isKnownPeer` for a fixed list (e.g. the consensus entries a node accepts links from): compares
 * the key with every entry in constant time and without stopping early.
 */
export function pinnedPeers<P>(entries: Iterable<{ readonly linkKey: Uint8Array; readonly peer: P }>): (linkKey: Uint8Array) => P | undefined {
  const list = [...entries].map((e) => ({ linkKey: new Uint8Array(e.linkKey), peer: e.peer }));
  return (linkKey) => {
    let found: P | undefined;
    for (const entry of list) if (sameLinkKey(entry.linkKey, linkKey) && found === undefined) found = entry.peer;
    return found;
  };
}
