import type { RequestListener } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { toBase64Url } from '../../src/codec/bytes.js';
import { TLS_VERSIONS } from '../../src/net/link-settings.js';
import { pinnedFetch } from '../../src/net/pinned-https.js';
import { tlsIdentity, type TlsIdentity } from '../../src/net/tls-identity.js';

/**
 * `fetch` for tests of servers that speak pinned TLS (the authority API, node mirrors): one request to
 * the full URL `url`, whose server must present `key`.
 */
export function httpsFetch(url: string, key: Uint8Array, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Response> {
  const parsed = new URL(url);
  return pinnedFetch({ url: parsed.origin, keys: [key] }, `${parsed.pathname}${parsed.search}`, { method: init.method ?? 'GET', ...(init.headers === undefined ? {} : { headers: init.headers }), ...(init.body === undefined ? {} : { body: init.body }) }, 10_000);
}

/**
 * An HTTPS server for tests (a mirror or proxy of the authority) presenting the certificate of
 * `seed` (tlsIdentity): clients pin `identity.linkKey`; `mirrorEntry` is how settings name it.
 */
export function createPinnedServer(seed: Uint8Array, handler: RequestListener): { server: Server; identity: TlsIdentity; mirrorEntry(): string } {
  const identity = tlsIdentity(seed);
  const server = createServer({ key: identity.key, cert: identity.cert, ...TLS_VERSIONS }, handler);
  return { server, identity, mirrorEntry: () => `https://127.0.0.1:${(server.address() as AddressInfo).port}#${toBase64Url(identity.linkKey)}` };
}
