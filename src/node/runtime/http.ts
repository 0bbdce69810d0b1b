import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { toBase64Url } from '../../codec/bytes.js';
import { TLS_VERSIONS } from '../../net/link-settings.js';
import type { TlsIdentity } from '../../net/tls-identity.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeLog } from '../log.js';

/**
 * The node's HTTP listener: `GET /metrics` (Prometheus text; with a `token`, only for
 * `Authorization: Bearer <token>`), `GET /healthz` (JSON), and, as a
 * mirror of the authority, `GET /v1/consensus/current` and `GET /v1/consensus/<epoch>` (the signed
 * document bytes it holds: clients trust the signatures, not the server). Anything
 * else is a one-line JSON error, counted in umbra_node_http_errors_total{code}; bytes that are not
 * HTTP get a 400 and the connection is closed.
 *
 * The one port takes cleartext HTTP (for /metrics and /healthz: an operator's loopback scrape) and
 * TLS 1.3 with the node's link certificate, told apart by the first byte (a TLS handshake record
 * starts with 0x16, which no HTTP method does). The mirror answers over TLS only: clients pin the
 * node's link key (docs/links.md, "Authority API"); over cleartext it is refused ('tls-required').
 */
export interface StatusServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface StatusServerOptions {
  readonly host: string;
  readonly port: number;
  readonly metrics: NodeMetrics;
  /** When set, /metrics answers only requests bearing it (401 otherwise). */
  readonly token?: string;
  readonly health: () => Record<string, unknown>;
  /** The signed bytes of a held consensus document ('current' or an epoch), if any. */
  readonly consensus?: (which: 'current' | number) => Uint8Array | undefined;
  /** The certificate the TLS side presents (the node's link identity); without it the port is cleartext only. */
  readonly tls?: TlsIdentity;
  readonly log: NodeLog;
}

/**
 * A node's consensus mirror as client settings name it (docs/client.md, "Partition check"):
 * `https://host:port#<link key>`, the status port over TLS 1.3 with the link certificate.
 */
export function mirrorUrlOf(node: { readonly metricsUrl: string; readonly linkKey: Uint8Array }): string {
  return `${node.metricsUrl.replace(/^http:/, 'https:').replace(/\/metrics$/, '')}#${toBase64Url(node.linkKey)}`;
}

/** How long a new connection may wait before its first byte says whether it is TLS. */
const FIRST_BYTE_TIMEOUT_MS = 10_000;

export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const { metrics } = options;
  const send = (res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-cache', ...headers });
    res.end(body);
  };
  const fail = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void => {
    metrics.count('node_http_errors_total', { code });
    send(res, status, 'application/json', `${JSON.stringify({ error: code, message })}\n`, headers);
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.on('error', () => undefined);
    // No endpoint here takes a body: one that comes is not read, and the connection closes after the answer.
    if (Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined) {
      res.setHeader('connection', 'close');
      res.on('finish', () => req.destroy());
    } else {
      req.resume();
    }
    try {
      const path = (req.url ?? '/').split('?')[0];
      const mirror = /^\/v1\/consensus\/(current|0|[1-9][0-9]{0,14})$/.exec(path);
      if (mirror !== null && options.consensus !== undefined) {
        if ((req.socket as Partial<TLSSocket>).encrypted !== true) return fail(res, 403, 'tls-required', 'the consensus mirror answers over TLS only (https://)');
        if (req.method !== 'GET') return fail(res, 405, 'method-not-allowed', `${path} takes GET`, { allow: 'GET' });
        const bytes = options.consensus(mirror[1] === 'current' ? 'current' : Number(mirror[1]));
        if (bytes === undefined) return fail(res, 404, 'not-found', 'no document for that epoch here');
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length), 'cache-control': 'no-cache' });
        return res.end(bytes);
      }
      if (path !== '/metrics' && path !== '/healthz') return fail(res, 404, 'not-found', 'no such endpoint (try /metrics, /healthz or /v1/consensus/current)');
      if (req.method !== 'GET') return fail(res, 405, 'method-not-allowed', `${path} takes GET`, { allow: 'GET' });
      if (path === '/metrics') {
        if (!authorized(req, options.token)) return fail(res, 401, 'unauthorized', '/metrics needs the bearer token', { 'www-authenticate': 'Bearer' });
        return send(res, 200, 'text/plain; version=0.0.4', metrics.text());
      }
      return send(res, 200, 'application/json', `${JSON.stringify(options.health())}\n`);
    } catch (error) {
      options.log(`node: status request failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
      if (!res.headersSent) fail(res, 500, 'internal', 'internal error');
      else res.destroy();
    }
  });
  // A connection whose first bytes were read to tell TLS from cleartext can report its parse error
  // twice (once for those bytes, once at its end): it is answered and counted once.
  const answered = new WeakSet<Duplex>();
  server.on('clientError', (_error: Error, socket: Duplex) => {
    if (answered.has(socket)) return void socket.destroy();
    answered.add(socket);
    metrics.count('node_http_errors_total', { code: 'bad-request' });
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 64;
  const { listener, destroyAll } = listenBoth(server, options.tls);
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(options.port, options.host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  listener.on('error', (error) => options.log(`node: status server error: ${error.message}`, 'error'));
  const port = (listener.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        listener.close(() => resolve());
        server.closeAllConnections();
        destroyAll(); // those not handed to the HTTP server yet (first byte or TLS handshake pending)
      });
      return closing;
    },
  };
}

/**
 * A TCP listener handing each connection to `server`: as it is when its first byte is not a TLS
 * handshake, through TLS 1.3 with `identity` when it is (and `identity` is given).
 */
function listenBoth(server: Server, identity: TlsIdentity | undefined): { listener: ReturnType<typeof createTcpServer>; destroyAll(): void } {
  const tls = identity === undefined ? undefined : createTlsServer({ key: identity.key, cert: identity.cert, ...TLS_VERSIONS }, (socket) => server.emit('connection', socket));
  tls?.on('tlsClientError', (_error, socket) => socket.destroy());
  const open = new Set<Socket>();
  const listener = createTcpServer({ pauseOnConnect: true }, (socket) => {
    open.add(socket);
    socket.setTimeout(FIRST_BYTE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.once('close', () => open.delete(socket));
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      socket.setTimeout(0);
      if (first === null) return void socket.destroy();
      socket.unshift(first);
      if (first[0] === 0x16 && tls !== undefined) tls.emit('connection', socket);
      else server.emit('connection', socket);
    });
  });
  return {
    listener,
    destroyAll: () => {
      for (const socket of open) socket.destroy();
    },
  };
}

/** True without a token, or when the request bears it (compared in constant time). */
function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return true;
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (match === null) return false;
  const given = Buffer.from(match[1]);
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
