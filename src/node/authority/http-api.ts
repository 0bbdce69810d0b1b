import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { toBase64Url } from '../../codec/bytes.js';
import { MAX_LOOP_REPORT_BYTES, MAX_VOTE_BYTES, SIGNATURE_SHARE_BYTES } from '../../pki/index.js';
import type { Clock } from '../../net/clock.js';
import { TLS_VERSIONS } from '../../net/link-settings.js';
import type { TlsIdentity } from '../../net/tls-identity.js';
import { HttpError } from './http-error.js';
import type { AuthorityMetrics } from './metrics.js';
import type { AuthorityState } from './state.js';
import { ThrottledLog, type NodeLog } from '../log.js';

/**
 * The authority's HTTP API (docs/pki.md, "Authority"): POST /v1/descriptors, POST /v1/loop-reports
 * (from mixes), POST /v1/votes and POST /v1/signatures (from peer authorities), GET /v1/consensus/<epoch | current>, GET /healthz,
 * GET /metrics. Errors are JSON
 * `{ error, message }` with a fixed code, counted by code. It is served over TLS 1.3 only (https://),
 * with a certificate of the authority's identity key, which clients and nodes pin (docs/links.md,
 * "Authority API"); there is no cleartext listener.
 */

/** The largest descriptor upload read (a descriptor is under 1 KiB). */
export const MAX_UPLOAD_BYTES = 64 * 1024;
/** Past this, an oversized upload is cut off instead of read to its end before the 413. */
const DRAIN_LIMIT = 1024 * 1024;

export interface AuthorityHttpListener {
  /** "https://host:port" of the listener. */
  readonly url: string;
  readonly port: number;
  /** Stops the listener, closing open connections. */
  close(): Promise<void>;
}

export class AuthorityHttpApi {
  /** Refusals are logged throttled: anyone can send bad requests (docs/nodes.md, "Logs"). */
  private readonly refusals: ThrottledLog;

  constructor(
    private readonly state: AuthorityState,
    private readonly clock: Clock,
    private readonly metrics: AuthorityMetrics,
    private readonly log: NodeLog,
  ) {
    this.refusals = new ThrottledLog(log, () => clock.now());
  }

  /** Answers one request; every failure becomes an error response (or a closed connection). */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    req.on('error', () => {}); // a client that goes away is not our error
    const fail = (error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        this.sendError(res, error);
      } else {
        this.log(`authority: internal error: ${error instanceof Error ? error.message : String(error)}`, 'error');
        this.sendError(res, new HttpError(500, 'internal', 'internal error'));
      }
    };
    try {
      const pending = this.route(req, res);
      if (pending instanceof Promise) pending.catch(fail);
    } catch (error) {
      fail(error);
    }
  };

  private route(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const only = (allowedMethod: string) => {
      if (method !== allowedMethod) {
        refuseBody(req, res);
        throw new HttpError(405, 'method-not-allowed', `${path} takes ${allowedMethod}`, { allow: allowedMethod });
      }
    };
    if (path === '/v1/descriptors') {
      only('POST');
      return this.handleUpload(req, res);
    }
    if (path === '/v1/votes') {
      only('POST');
      return this.handlePeerPost(req, res, 'votes', MAX_VOTE_BYTES, (body) => this.state.receiveVote(body));
    }
    if (path === '/v1/loop-reports') {
      only('POST');
      return this.handlePeerPost(req, res, 'loop_reports', MAX_LOOP_REPORT_BYTES, (body) => this.state.receiveLoopReport(body));
    }
    if (path === '/v1/signatures') {
      only('POST');
      return this.handlePeerPost(req, res, 'signatures', SIGNATURE_SHARE_BYTES, (body) => this.state.receiveSignature(body));
    }
    refuseBody(req, res); // no other endpoint reads a body
    const evidence = /^\/v1\/evidence\/(0|[1-9][0-9]{0,15})$/.exec(path);
    if (evidence !== null) {
      only('GET');
      const epoch = Number(evidence[1]);
      const equivocations = [...this.state.evidence(epoch)].map(([authorityHex, votes]) => ({
        authorityId: toBase64Url(Uint8Array.from(Buffer.from(authorityHex, 'hex'))),
        votes: votes.map(toBase64Url),
      }));
      return sendJson(res, 200, { epoch, equivocations });
    }
    const consensus = /^\/v1\/consensus\/([^/]+)$/.exec(path);
    if (consensus !== null) {
      only('GET');
      return this.handleConsensus(res, consensus[1]);
    }
    if (path === '/healthz') {
      only('GET');
      const { state } = this;
      const epoch = state.currentEpoch(this.clock.now());
      return sendJson(res, 200, {
        status: 'ok',
        epoch,
        authorityId: toBase64Url(state.publicKey),
        latestDocumentEpoch: state.latestDocumentEpoch() ?? null,
        descriptorsHeld: state.descriptorsHeld(),
        authorities: state.voting.authorityCount,
        threshold: state.voting.threshold,
        voting: Object.fromEntries([epoch, epoch + 1].filter((e) => e >= 0).map((e) => [String(e), { published: state.document(e) !== undefined, ...state.voting.status(e) }])),
      });
    }
    if (path === '/metrics') {
      only('GET');
      this.state.updateGauges(this.state.currentEpoch(this.clock.now()));
      return send(res, 200, 'text/plain; version=0.0.4', this.metrics.text());
    }
    throw new HttpError(404, 'not-found', 'no such endpoint');
  }

  private async handleUpload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/octet-stream') {
        refuseBody(req, res);
        throw new HttpError(415, 'bad-content-type', 'the body must be application/octet-stream');
      }
      const body = await readBody(req, res, MAX_UPLOAD_BYTES);
      const { result, descriptor } = this.state.accept(body);
      this.metrics.add('umbra_authority_descriptors_accepted_total', 1, { result });
      sendJson(res, result === 'new' ? 201 : 200, { status: result, epoch: descriptor.epoch, nodeId: toBase64Url(descriptor.nodeId) });
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      this.metrics.add('umbra_authority_descriptors_rejected_total', 1, { reason: error.code });
      this.sendError(res, error, 'a descriptor');
    }
  }

  /** A vote or a signature from a peer authority: counted by result or refusal reason. */
  private async handlePeerPost(req: IncomingMessage, res: ServerResponse, kind: 'votes' | 'signatures' | 'loop_reports', limit: number, take: (body: Uint8Array) => 'new' | 'unchanged'): Promise<void> {
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/octet-stream') {
        refuseBody(req, res);
        throw new HttpError(415, 'bad-content-type', 'the body must be application/octet-stream');
      }
      const result = take(await readBody(req, res, limit));
      this.metrics.add(`umbra_authority_${kind}_received_total`, 1, { result });
      sendJson(res, result === 'new' ? 201 : 200, { status: result });
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      this.metrics.add(`umbra_authority_${kind}_rejected_total`, 1, { reason: error.code });
      this.sendError(res, error, kind === 'votes' ? 'a vote' : kind === 'signatures' ? 'a signature' : 'a loop report');
    }
  }

  private handleConsensus(res: ServerResponse, which: string): void {
    const now = this.clock.now();
    let epoch: number;
    if (which === 'current') {
      epoch = this.state.currentEpoch(now);
    } else {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(which) || !Number.isSafeInteger(Number(which))) {
        throw new HttpError(400, 'bad-epoch', 'the epoch must be "current" or a decimal integer without leading zeros');
      }
      epoch = Number(which);
    }
    const current = this.state.currentEpoch(now);
    if (epoch > current + 1) throw new HttpError(404, 'not-found', `no consensus document for epoch ${epoch}: the current epoch is ${current}`);
    const bytes = epoch >= 0 ? this.state.documentFor(epoch, now) : undefined;
    if (bytes === undefined) {
      const problem = this.state.buildProblem(epoch);
      throw new HttpError(404, 'not-found', `no consensus document for epoch ${epoch}${problem === undefined ? '' : ` (${problem})`}`);
    }
    this.metrics.add('umbra_authority_consensus_served_total');
    send(res, 200, 'application/octet-stream', bytes, { 'x-umbra-epoch': String(epoch) });
  }

  /** Answers a refusal, counted and logged by code (an internal error is logged where it happens). */
  private sendError(res: ServerResponse, error: HttpError, what = 'a request'): void {
    this.metrics.add('umbra_authority_http_errors_total', 1, { code: error.code });
    if (error.status < 500) {
      // A document asked for before it is made is routine for polling nodes.
      const level = error.status === 404 ? 'info' : 'warn';
      this.refusals.note(`${what}|${error.code}`, `authority: refused ${what}`, level, { status: error.status, code: error.code });
    }
    // One line: JSON.stringify escapes any newline in a message.
    sendJson(res, error.status, { error: error.code, message: error.message }, { ...error.headers });
  }
}

/** Serves `api` on `listen` (port 0 picks a free port); resolves once bound. */
export async function listenAuthorityHttp(
  listen: { readonly host: string; readonly port: number },
  api: AuthorityHttpApi,
  identity: TlsIdentity,
  log: NodeLog,
): Promise<AuthorityHttpListener> {
  const server = createServer({ key: identity.key, cert: identity.cert, ...TLS_VERSIONS }, api.handle);
  // A handshake that fails (a cleartext request, a client refusing our key) closes the connection.
  server.on('tlsClientError', (_error, socket) => socket.destroy());
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log(`authority: server error: ${error.message}`, 'error'));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `https://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length), 'cache-control': 'no-cache', ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, 'application/json', `${JSON.stringify(value)}\n`, headers);
}

/** Reads an upload of at most `limit` bytes; larger ones end in HttpError 413. */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Uint8Array> {
  const drainLimit = Math.max(DRAIN_LIMIT, limit);
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => new HttpError(413, 'too-large', `the body exceeds ${limit} bytes`);
    if (declared > drainLimit) {
      // Not worth reading: answer and close the connection.
      res.setHeader('connection', 'close');
      res.on('finish', () => req.destroy());
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total <= limit) chunks.push(chunk);
      else if (total > drainLimit && !settled) {
        settled = true;
        res.setHeader('connection', 'close');
        res.on('finish', () => req.destroy());
        reject(tooLarge());
      }
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      if (total > limit) reject(tooLarge());
      else resolve(new Uint8Array(Buffer.concat(chunks, total)));
    });
    // A body cut short, a bad chunk or one too slow for the request timeout is the client's fault.
    const broken = (why: string) => {
      if (settled) return;
      settled = true;
      reject(new HttpError(400, 'bad-body', why));
    };
    req.on('error', (error: NodeJS.ErrnoException) => broken(error.code === 'ECONNRESET' ? 'the body ended early' : 'the body is malformed'));
    req.on('close', () => broken('the body ended early'));
  });
}

/**
 * A request whose body no handler reads: its body is not read (not even drained), and the
 * connection closes after the answer, so an unwanted upload costs the server nothing.
 */
function refuseBody(req: IncomingMessage, res: ServerResponse): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    req.resume();
    return;
  }
  res.setHeader('connection', 'close');
  res.on('finish', () => req.destroy());
}
