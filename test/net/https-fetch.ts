import { pinnedFetch } from '../../src/net/pinned-https.js';

/**
 * `fetch` for tests of servers that speak pinned TLS (the authority API, node mirrors): one request to
 * the full URL `url`, whose server must present `key`.
 */
export function httpsFetch(url: string, key: Uint8Array, init: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Response> {
  const parsed = new URL(url);
  return pinnedFetch({ url: parsed.origin, keys: [key] }, `${parsed.pathname}${parsed.search}`, { method: init.method ?? 'GET', ...(init.headers === undefined ? {} : { headers: init.headers }), ...(init.body === undefined ? {} : { body: init.body }) }, 10_000);
}
