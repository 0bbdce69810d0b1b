import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import { getCrypto, InvalidLengthError } from '../../src/crypto/index.js';
import { linkKeyOf, tlsIdentity } from '../../src/net/tls-identity.js';
import { seed } from './support.js';

describe('tlsIdentity', () => {
  test('produces a PKCS#8 key and a self-signed Ed25519 certificate that OpenSSL accepts', () => {
    const identity = tlsIdentity(seed(1));
    assert.match(identity.key, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
    assert.match(identity.cert, /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n$/);
    const key = createPrivateKey(identity.key);
    assert.equal(key.asymmetricKeyType, 'ed25519');
    const cert = new X509Certificate(identity.cert);
    assert.equal(cert.publicKey.asymmetricKeyType, 'ed25519');
    assert.ok(cert.verify(cert.publicKey), 'self-signature verifies');
    assert.ok(cert.checkPrivateKey(key), 'certificate matches the private key');
    assert.equal(cert.subject, 'CN=umbra-link');
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.ca, false);
    assert.equal(new Date(cert.validTo).getUTCFullYear(), 9999);
    // The key signs what the certificate's key verifies.
    const message = Buffer.from('link');
    assert.ok(verify(null, message, createPublicKey(identity.cert), sign(null, message, key)));
  });

  test('the link key is the seed\'s RFC 8032 public key (both crypto backends agree)', () => {
    for (const fill of [0, 1, 0xff]) {
      const { linkKey } = tlsIdentity(seed(fill));
      assert.deepEqual(linkKey, getCrypto('noble').ed25519PublicKey(seed(fill)));
      assert.deepEqual(linkKey, getCrypto('sodium').ed25519PublicKey(seed(fill)));
    }
  });

  test('is deterministic per seed and differs between seeds', () => {
    assert.equal(tlsIdentity(seed(2)).cert, tlsIdentity(seed(2)).cert);
    assert.notEqual(tlsIdentity(seed(2)).cert, tlsIdentity(seed(3)).cert);
  });

  test('refuses a seed that is not 32 bytes', () => {
    assert.throws(() => tlsIdentity(new Uint8Array(31)), InvalidLengthError);
    assert.throws(() => tlsIdentity(new Uint8Array(33)), InvalidLengthError);
  });
});

describe('linkKeyOf', () => {
  const identity = tlsIdentity(seed(4));
  const x509 = new X509Certificate(identity.cert);

  test('reads the raw key from an X509Certificate, a peer certificate\'s raw DER, or DER bytes', () => {
    assert.deepEqual(linkKeyOf(x509), identity.linkKey);
    assert.deepEqual(linkKeyOf({ raw: x509.raw }), identity.linkKey);
    assert.deepEqual(linkKeyOf(new Uint8Array(x509.raw)), identity.linkKey);
  });

  test('is undefined without a usable Ed25519 certificate', () => {
    assert.equal(linkKeyOf(undefined), undefined);
    assert.equal(linkKeyOf(null), undefined);
    assert.equal(linkKeyOf({} as { raw: Uint8Array }), undefined); // getPeerCertificate() of a peer that sent none
    assert.equal(linkKeyOf(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])), undefined);
  });
});
