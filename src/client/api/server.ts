import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientAgent, ClientEvent } from '../agent/types.js';
import type { BridgeEndpoints } from '../bridge/index.js';
import { refuseBody, sendJson } from './http-io.js';
import { OPENAPI_DOCUMENT } from './openapi.js';
import { ApiProblem, sendProblem } from './problem.js';
import * as routes from './routes.js';
import { WebClientFiles } from './web-client.js';

/**
 * The agent's local REST API (docs/api.md): HTTP on 127.0.0.1 only, every route but the OpenAPI
 * document behind `Authorization: Bearer <token>`, request bodies validated against the document,
 * refusals as RFC 9457 problem details, and server-sent events for new mail and delivery changes.
 */
export interface ApiServerOptions {
  readonly agent: ClientAgent;
  readonly token: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** The largest request body (default 24 MiB: an 8 MiB mail's attachments as base64, and room). */
  readonly maxBodyBytes?: number;
  readonly now?: () => number;
  /** Where the mail bridge listens, when it runs (GET /api/v1/bridge). */
  readonly bridge?: () => BridgeEndpoints | undefined;
  /** Internal errors (a bug, never a caller's mistake): one line each, without request content. */
  readonly log?: (line: string) => void;
}

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Events worth a program's attention; polls, loops and consensus changes stay inside. */
const STREAMED: ReadonlySet<ClientEvent['type']> = new Set(['received', 'status', 'resend', 'alert']);

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const ctx: routes.RouteContext = { agent: options.agent, now: options.now ?? Date.now, maxBodyBytes: options.maxBodyBytes ?? 24 * 2 ** 20, ...(options.bridge ? { bridge: options.bridge } : {}) };
  const expected = Buffer.from(options.token);
  const streams = new Set<ServerResponse>();
  const webClient = new WebClientFiles();
  const server = createServer((req, res) => {
    req.on('error', () => undefined);
    if (webClient.serve(req, res, port)) return;
    handle(ctx, expected, streams, req, res).catch((error: unknown) => {
      if (error instanceof ApiProblem) {
        if (!res.headersSent) sendProblem(res, error);
        return;
      }
      options.log?.(`api: internal error: ${error instanceof Error ? error.message : String(error)}`);
      if (!res.headersSent) sendProblem(res, new ApiProblem(500, 'internal', 'internal error'));
      else res.destroy();
    });
  });
  let port = 0;
  server.headersTimeout = 10_000;
  server.requestTimeout = 120_000;
  server.maxHeadersCount = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const stream of streams) stream.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (match === null) return false;
  const given = Buffer.from(match[1]);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function handle(ctx: routes.RouteContext, token: Buffer, streams: Set<ServerResponse>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const only = (...allowed: string[]): void => {
    if (allowed.includes(method)) return;
    refuseBody(req, res);
    throw new ApiProblem(405, 'method-not-allowed', `${path} takes ${allowed.join(', ')}`, { allow: allowed.join(', ') });
  };
  if (path === '/api/v1/openapi.json') {
    only('GET');
    return sendJson(res, 200, OPENAPI_DOCUMENT);
  }
  if (!authorized(req, token)) {
    refuseBody(req, res);
    throw new ApiProblem(401, 'unauthorized', 'send Authorization: Bearer <token> (`umbra client --dir C api` prints it)', { 'www-authenticate': 'Bearer' });
  }
  const resend = /^\/api\/v1\/messages\/([^/]+)\/resend$/.exec(path);
  if (resend !== null) {
    only('POST');
    refuseBody(req, res);
    return routes.resendMessage(ctx, routes.messageId(resend[1]), res);
  }
  const message = /^\/api\/v1\/messages\/([^/]+)$/.exec(path);
  if (message !== null) {
    only('GET', 'DELETE');
    refuseBody(req, res);
    const id = routes.messageId(message[1]);
    return method === 'GET' ? routes.getMessage(ctx, id, res) : routes.deleteMessage(ctx, id, res);
  }
  switch (path) {
    case '/api/v1/zk-send': only('POST'); return routes.zkSend(ctx, req, res);
    case '/api/v1/zk-retrieve': only('POST'); return routes.zkRetrieve(ctx, req, res);
    case '/api/v1/zk-mailbox-db': only('GET'); refuseBody(req, res); return routes.zkMailboxDb(ctx, url.searchParams, res);
    case '/api/v1/contacts':
      only('GET', 'POST');
      if (method === 'POST') return routes.addContact(ctx, req, res);
      refuseBody(req, res);
      return routes.listContacts(ctx, res);
    case '/api/v1/card': only('GET'); refuseBody(req, res); return routes.ownCard(ctx, res);
    case '/api/v1/status': only('GET'); return routes.status(ctx, req, res);
    case '/api/v1/bridge': only('GET'); refuseBody(req, res); return routes.bridgeSettings(ctx, res);
    case '/api/v1/events': only('GET'); refuseBody(req, res); return openEventStream(ctx, streams, res);
    default:
      refuseBody(req, res);
      throw new ApiProblem(404, 'not-found', 'no such endpoint (see /api/v1/openapi.json)');
  }
}

/** Server-sent events: one `event: <type>` with a JSON `data:` line per agent event, and a comment every 15 s. */
function openEventStream(ctx: routes.RouteContext, streams: Set<ServerResponse>, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': umbra events\n\n');
  streams.add(res);
  const unsubscribe = ctx.agent.subscribe((event) => {
    if (STREAMED.has(event.type)) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
  });
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  keepAlive.unref();
  const end = (): void => {
    clearInterval(keepAlive);
    unsubscribe();
    streams.delete(res);
  };
  // Not req's 'close': that fires once the request is read, while the response stays open.
  res.on('close', end);
}
