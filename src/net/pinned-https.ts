/**
 * HTTPS with a pinned key (docs/links.md, "Authority API"): what clients and nodes use for the
 * authority's API and for consensus mirrors. A target is an `https://host:port` URL and the Ed25519
 * keys the server's certificate may carry (an authority's certificate carries its identity key, a
 * mirror's the key given with it). `pinnedFetch` opens TLS 1.3 to it (dialTlsPinned: no CA), checks
 * the key before a byte of the request is written, then sends one HTTP/1.1 request on that
 * connection and answers with a fetch Response. A cleartext `http://` URL is refused: nothing of the
 * API is ever sent in the clear.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { fromBase64Url, hexOf } from '../codec/bytes.js';
import { dialTlsPinned } from './pinned-tls.js';
import { sameLinkKey } from './tls-identity.js';

/** Where an HTTPS request goes and which keys its server may present. */
export interface PinnedHttpsTarget {
  /** "https://host:port", with or without a path prefix. */
  readonly url: string;
  /** The raw 32-byte Ed25519 keys accepted in the server's certificate (one of them must be there). */
  readonly keys: readonly Uint8Array[];
  /** Who pins the keys, for the refusal's message (default "the settings"). */
  readonly pinnedBy?: string;
}

/** The server presented a key that is not pinned: refused before the request was sent. */
export class TlsKeyMismatchError extends Error {
  readonly code = 'wrong-key';
  constructor(
    readonly url: string,
    /** Hex of the key presented, or undefined when the certificate had no Ed25519 key. */
    readonly presented: string | undefined,
    pinnedBy: string,
    pinnedCount: number,
  ) {
    super(
      `${url} presented ${presented === undefined ? 'no Ed25519 key' : `TLS key ${presented.slice(0, 16)}…`}, which is not among the ` +
        `${pinnedCount} key${pinnedCount === 1 ? '' : 's'} pinned for it (${pinnedBy}): connection refused (a wrong server, or someone in the middle)`,
    );
    this.name = 'TlsKeyMismatchError';
  }
}

/** A target that is not an `https://` URL with 32-byte keys (a cleartext `http://` URL among them). */
export class PinnedHttpsTargetError extends Error {
  constructor(
    readonly code: 'cleartext' | 'bad-target',
    message: string,
  ) {
    super(message);
    this.name = 'PinnedHttpsTargetError';
  }
}

/** Problems with an https URL given in a configuration (empty when it is fine): `what` names it. */
export function httpsUrlProblems(what: string, url: unknown): string[] {
  if (typeof url !== 'string') return [`${what} must be an https:// URL`];
  if (/^http:\/\//i.test(url)) return [`${what} is ${url}: cleartext http:// is refused, the authority API and mirrors are TLS only (https://)`];
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' || parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '') {
      return [`${what} must be an https:// URL without query, fragment or user`];
    }
  } catch {
    return [`${what} must be an https:// URL`];
  }
  return [];
}

/**
 * A consensus mirror as settings write it: "https://host:port" for a mirror that is an authority (its
 * certificate carries one of the trusted authority keys), "https://host:port#<key>" for any other
 * server, a node for instance, whose certificate carries <key> (32 bytes, unpadded base64url; a node's
 * link key). The key rides in the fragment, which is never sent.
 */
export function mirrorTarget(entry: string, authorityKeys: readonly Uint8Array[]): PinnedHttpsTarget {
  const hash = entry.indexOf('#');
  if (hash < 0) return { url: entry, keys: authorityKeys, pinnedBy: 'the trusted authority keys' };
  return { url: entry.slice(0, hash), keys: [fromBase64Url(entry.slice(hash + 1), 'mirror key', 32)], pinnedBy: 'the mirror entry' };
}

/** Problems with a mirror entry (see mirrorTarget); empty when it is fine. */
export function mirrorEntryProblems(what: string, entry: unknown): string[] {
  if (typeof entry !== 'string') return [`${what} must be an https:// URL`];
  const hash = entry.indexOf('#');
  const problems = httpsUrlProblems(what, hash < 0 ? entry : entry.slice(0, hash));
  if (hash >= 0) {
    let key: Uint8Array | undefined;
    try {
      key = fromBase64Url(entry.slice(hash + 1), 'mirror key', 32);
    } catch {
      key = undefined;
    }
    if (key?.length !== 32) problems.push(`${what}: the key after # must be 32 bytes of unpadded base64url`);
  }
  return problems;
}

interface Parsed {
  readonly host: string;
  readonly port: number;
  readonly base: string;
}

function parseTarget(target: PinnedHttpsTarget): Parsed {
  if (/^http:\/\//i.test(target.url)) throw new PinnedHttpsTargetError('cleartext', `${target.url}: cleartext http:// is refused, the authority API and mirrors are TLS only (https://)`);
  const problems = httpsUrlProblems(target.url, target.url);
  if (problems.length > 0) throw new PinnedHttpsTargetError('bad-target', problems[0]);
  if (target.keys.length === 0 || !target.keys.every((key) => key instanceof Uint8Array && key.length === 32)) {
    throw new PinnedHttpsTargetError('bad-target', `${target.url}: the keys pinned for it must be 1 or more of 32 bytes`);
  }
  const url = new URL(target.url);
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 443 : Number(url.port), base: url.pathname.replace(/\/+$/, '') };
}

/** `key` is one of `keys` (every entry compared, in constant time each). */
function pinned(keys: readonly Uint8Array[], key: Uint8Array): boolean {
  let found = false;
  for (const candidate of keys) found = sameLinkKey(candidate, key) || found;
  return found;
}

export interface PinnedRequest {
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

/**
 * One request to `path` under the target, on its own TLS 1.3 connection (closed after the answer).
 * Rejects with PinnedHttpsTargetError for an http:// or malformed target, TlsKeyMismatchError when
 * the server's key is not pinned, Error when the server cannot be reached in `timeoutMs`.
 */
export async function pinnedFetch(target: PinnedHttpsTarget, path: string, init: PinnedRequest, timeoutMs: number): Promise<Response> {
  const { host, port, base } = parseTarget(target);
  const keys = target.keys.map((key) => new Uint8Array(key));
  const url = target.url;
  const deadline = Date.now() + timeoutMs; // one bound for the handshake and the answer together
  const socket = await dialTlsPinned({ url, host, port }, timeoutMs, (presented) =>
    presented !== undefined && pinned(keys, presented) ? undefined : new TlsKeyMismatchError(url, presented === undefined ? undefined : hexOf(presented), target.pinnedBy ?? 'the settings', keys.length));
  const body = init.body === undefined ? undefined : Buffer.from(init.body);
  return new Promise<Response>((resolve, reject) => {
    const req = httpRequest({
      createConnection: () => socket,
      method: init.method,
      path: `${base}${path}`,
      headers: { host: `${host.includes(':') ? `[${host}]` : host}:${port}`, connection: 'close', ...(body === undefined ? {} : { 'content-length': String(body.length) }), ...(init.headers ?? {}) },
      signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
    });
    req.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
    req.once('response', (res: IncomingMessage) => resolve(toResponse(res)));
    req.end(body);
  });
}

/** The node response as a fetch Response (its body streams; cancelling it closes the connection). */
function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const status = res.statusCode ?? 500;
  const empty = status === 204 || status === 304 || (status >= 100 && status < 200);
  if (empty) res.resume();
  return new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status: status < 200 ? 500 : status, statusText: res.statusMessage ?? '', headers });
}
