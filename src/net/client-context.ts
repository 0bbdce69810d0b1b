import { createSecureContext, type SecureContext } from 'node:tls';
import { TLS_VERSIONS } from './link-settings.js';

/**
 * The TLS context a dialling end uses, made once per certificate it presents (or once for none)
 * and shared by its connections. `tls.connect` given a key and a certificate builds a new context
 * for every connection: parsing the key and the certificate and loading the root store each time,
 * about 5 % of a process's CPU where an authority probes every node every round (measured in a
 * CPU profile of test/client/unobservability.test.ts). No CA is used: every dialler checks the
 * peer's key itself (pinning), so one context per identity serves every peer.
 */
const MAX_CONTEXTS = 16;
const contexts = new Map<string, SecureContext>();

export function clientContext(identity?: { readonly key: string; readonly cert: string }): SecureContext {
  const name = identity === undefined ? '' : identity.cert;
  let context = contexts.get(name);
  if (context === undefined) {
    if (contexts.size >= MAX_CONTEXTS) contexts.clear(); // a bound; a process presents one or two certificates
    context = createSecureContext(identity === undefined ? { ...TLS_VERSIONS } : { key: identity.key, cert: identity.cert, ...TLS_VERSIONS });
    contexts.set(name, context);
  }
  return context;
}
