import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hexOf, sameBytes, toBase64Url } from '../../codec/bytes.js';
import { getCrypto } from '../../crypto/index.js';
import type { Crypto } from '../../crypto/types.js';
import {
  decodeConsensusUnverified,
  decodeDescriptor,
  encodeConsensus,
  epochAt,
  epochEnd,
  epochStart,
  makeConsensus,
  PkiError,
  signConsensus,
  type NodeDescriptor,
} from '../../pki/index.js';
import { MAX_TIMER_MS, systemClock, type Clock } from '../../net/clock.js';
import { AuthorityConfigError, authorityConfigProblems, type AuthorityConfig } from './config.js';
import { AuthorityMetrics } from './metrics.js';
import { AuthorityStore } from './store.js';

/**
 * The directory authority (docs/pki.md, "Authority"): takes node descriptors over HTTP, makes,
 * signs, stores and serves one consensus document per epoch. Single authority for now; the
 * document format already carries several signatures.
 */
export interface AuthorityDeps {
  /** Default: the sodium backend. */
  readonly crypto?: Crypto;
  /** Default: the wall clock and Node timers. */
  readonly clock?: Clock;
  /** One line per notable event (documents made, failures, files skipped). Default: nothing. */
  readonly log?: (line: string) => void;
}

export interface AuthorityHandle {
  /** "http://host:port" of the listener. */
  readonly url: string;
  readonly port: number;
  /** The authority's Ed25519 public key (its ID in consensus signatures). */
  readonly publicKey: Uint8Array;
  /** Runs the schedule now: makes every document that is due. The timer calls it too. */
  tick(): void;
  /** The stored document for `epoch`, exactly the served bytes, if made. */
  documentBytes(epoch: number): Uint8Array | undefined;
  readonly metrics: AuthorityMetrics;
  /** Stops the timer and the listener, closing open connections. */
  close(): Promise<void>;
}

/** The largest descriptor upload read (a descriptor is under 1 KiB). */
export const MAX_UPLOAD_BYTES = 64 * 1024;
/** Past this, an oversized upload is cut off instead of read to its end before the 413. */
const DRAIN_LIMIT = 1024 * 1024;

type UploadResult = 'new' | 'replaced' | 'unchanged';

/** An error response: HTTP status, a fixed code (also the metric label) and a one-line message. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

const PKI_STATUS: Record<string, number> = {
  malformed: 400,
  invalid: 400,
  'bad-signature': 403,
  'wrong-epoch': 422,
  conflict: 409,
};

interface Held {
  readonly descriptor: NodeDescriptor;
  readonly bytes: Uint8Array;
}

export async function startAuthority(config: AuthorityConfig, deps: AuthorityDeps = {}): Promise<AuthorityHandle> {
  const crypto = deps.crypto ?? getCrypto();
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? (() => {});
  const problems = authorityConfigProblems(config, crypto);
  if (problems.length > 0) throw new AuthorityConfigError(problems);

  const timing = { genesisMs: config.genesisMs, epochMs: config.epochMs };
  const publicKey = crypto.ed25519PublicKey(config.identitySeed);
  const allowed = config.allowedNodes;
  const metrics = new AuthorityMetrics();
  const store = new AuthorityStore(config.dataDir);
  const documents = new Map<number, Uint8Array>();
  const descriptors = new Map<number, Map<string, Held>>();
  const buildProblems = new Map<number, string>();

  /** The current epoch, or BEFORE_GENESIS (-1). */
  const currentEpoch = (now: number): number => epochAt(now, timing);
  const publishTime = (epoch: number): number => epochStart(epoch, timing) - config.publishLeadMs;

  // --- Restore from the data directory -------------------------------------------------------
  for (const [epoch, bytes] of store.readDocuments()) {
    try {
      const { doc, signedBytes } = decodeConsensusUnverified(crypto, bytes, false);
      const own = doc.signatures.find((entry) => sameBytes(entry.authorityId, publicKey));
      if (doc.epoch !== epoch || own === undefined || !crypto.ed25519Verify(publicKey, signedBytes, own.signature)) {
        throw new Error('not a document signed by this authority for its epoch');
      }
      documents.set(epoch, bytes);
    } catch (error) {
      log(`authority: skipping stored document ${epoch}.bin: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const startEpoch = currentEpoch(clock.now());
  for (const [epoch, byNode] of store.readDescriptors()) {
    if (epoch < startEpoch || documents.has(epoch)) continue;
    const held = new Map<string, Held>();
    for (const [nodeHex, bytes] of byNode) {
      try {
        const descriptor = decodeDescriptor(crypto, bytes, epoch);
        if (hexOf(descriptor.nodeId) !== nodeHex) throw new Error('the file name is not its node ID');
        held.set(nodeHex, { descriptor, bytes });
      } catch (error) {
        log(`authority: skipping stored descriptor ${epoch}/${nodeHex}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    descriptors.set(epoch, held);
  }

  // --- Documents ---------------------------------------------------------------------------
  /** Makes, signs and stores the document for `epoch`; returns it, or undefined (problem recorded). */
  function build(epoch: number): Uint8Array | undefined {
    const held = [...(descriptors.get(epoch)?.values() ?? [])].map((entry) => entry.descriptor);
    try {
      const unsigned = makeConsensus({ ...timing, epoch, graceMs: config.graceMs, network: config.network, descriptors: held });
      const bytes = encodeConsensus(signConsensus(crypto, unsigned, config.identitySeed));
      store.writeDocument(epoch, bytes); // on disk before anyone can see it
      documents.set(epoch, bytes);
      buildProblems.delete(epoch);
      descriptors.delete(epoch);
      metrics.add('umbra_authority_documents_published_total');
      log(`authority: published the document for epoch ${epoch} (${held.length} nodes, ${bytes.length} bytes)`);
      return bytes;
    } catch (error) {
      const reason = error instanceof PkiError ? error.code : 'storage';
      const message = error instanceof Error ? error.message : String(error);
      if (buildProblems.get(epoch) !== message) log(`authority: no document for epoch ${epoch} yet: ${message}`);
      buildProblems.set(epoch, message);
      metrics.add('umbra_authority_documents_failed_total', 1, { reason });
      return undefined;
    }
  }

  /** The document for `epoch`, made now if it is due (publish time reached, epoch not over). */
  function documentFor(epoch: number, now: number): Uint8Array | undefined {
    const existing = documents.get(epoch);
    if (existing !== undefined) return existing;
    if (epoch < 0 || now < publishTime(epoch) || now >= epochEnd(epoch, timing)) return undefined;
    return build(epoch);
  }

  // --- Schedule ------------------------------------------------------------------------------
  let timer: unknown;
  let closed = false;

  function tick(): void {
    if (closed) return;
    const now = clock.now();
    const current = currentEpoch(now);
    try {
      for (const epoch of [current, current + 1]) if (epoch >= 0) documentFor(epoch, now);
      prune(current);
      updateGauges(current);
    } catch (error) {
      log(`authority: scheduled work failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (timer !== undefined) clock.clearTimer(timer);
    // Wake at the next publish time or epoch boundary, whichever comes first.
    const next = Math.max(0, current + 1);
    const wake = Math.min(
      ...[publishTime(next), epochStart(next, timing), publishTime(next + 1)].filter((time) => time > now),
    );
    timer = clock.setTimer(tick, Math.min(MAX_TIMER_MS, wake - now));
  }

  function prune(current: number): void {
    const oldestKept = current - config.retainEpochs + 1;
    for (const epoch of [...documents.keys()]) {
      if (epoch < oldestKept) {
        documents.delete(epoch);
        included.delete(epoch);
        store.deleteDocument(epoch);
      }
    }
    for (const epoch of [...descriptors.keys()]) if (epoch < current) descriptors.delete(epoch);
    for (const epoch of [...buildProblems.keys()]) if (epoch < current) buildProblems.delete(epoch);
    store.pruneDescriptorsBefore(current);
  }

  function updateGauges(current: number): void {
    metrics.set('umbra_authority_epoch', current);
    metrics.set('umbra_authority_latest_document_epoch', documents.size === 0 ? -1 : Math.max(...documents.keys()));
    let held = 0;
    for (const byNode of descriptors.values()) held += byNode.size;
    metrics.set('umbra_authority_descriptors_held', held);
  }

  // --- Uploads -------------------------------------------------------------------------------
  /** The signatures (hex) of the descriptors a published document holds, to recognise re-uploads. */
  const included = new Map<number, Set<string>>();
  function includedIn(epoch: number): Set<string> {
    let signatures = included.get(epoch);
    if (signatures === undefined) {
      const bytes = documents.get(epoch);
      const nodes = bytes === undefined ? [] : decodeConsensusUnverified(crypto, bytes, false).doc.nodes;
      signatures = new Set(nodes.map((node) => hexOf(node.signature)));
      included.set(epoch, signatures);
    }
    return signatures;
  }

  function accept(body: Uint8Array): { result: UploadResult; descriptor: NodeDescriptor } {
    let descriptor: NodeDescriptor;
    try {
      descriptor = decodeDescriptor(crypto, body);
    } catch (error) {
      if (error instanceof PkiError) throw new HttpError(PKI_STATUS[error.code] ?? 400, error.code, error.message);
      throw error;
    }
    const nodeHex = hexOf(descriptor.nodeId);
    if (allowed !== undefined && !allowed.some((key) => sameBytes(key, descriptor.nodeId))) {
      throw new HttpError(403, 'unknown-node', `node ${nodeHex} is not on this authority's list`);
    }
    const now = clock.now();
    const current = currentEpoch(now);
    const { epoch } = descriptor;
    if (epoch !== current && epoch !== current + 1) {
      const accepted = current < 0 ? 'epoch 0 (before genesis)' : `epochs ${current} and ${current + 1}`;
      throw new HttpError(422, 'wrong-epoch', `descriptor for epoch ${epoch}; this authority takes ${accepted}`);
    }
    if (documents.has(epoch)) {
      if (includedIn(epoch).has(hexOf(descriptor.signature))) return { result: 'unchanged', descriptor };
      throw new HttpError(409, 'too-late', `the document for epoch ${epoch} is already published; upload for epoch ${epoch + 1}`);
    }
    let byNode = descriptors.get(epoch);
    const earlier = byNode?.get(nodeHex);
    if (earlier !== undefined) {
      if (sameBytes(earlier.bytes, body)) return { result: 'unchanged', descriptor };
      if (descriptor.serial <= earlier.descriptor.serial) {
        throw new HttpError(409, 'conflict', `a different descriptor with serial ${earlier.descriptor.serial} is held; a replacement needs a larger serial`);
      }
    } else if ((byNode?.size ?? 0) >= config.maxNodesPerEpoch) {
      throw new HttpError(429, 'full', `this authority holds ${config.maxNodesPerEpoch} descriptors for epoch ${epoch} already`);
    }
    const stored = body.slice();
    store.writeDescriptor(epoch, nodeHex, stored);
    if (byNode === undefined) {
      byNode = new Map();
      descriptors.set(epoch, byNode);
    }
    byNode.set(nodeHex, { descriptor, bytes: stored });
    updateGauges(current);
    return { result: earlier === undefined ? 'new' : 'replaced', descriptor };
  }

  // --- HTTP ----------------------------------------------------------------------------------
  function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': type, 'content-length': String(typeof body === 'string' ? Buffer.byteLength(body) : body.length), 'cache-control': 'no-cache', ...headers });
    res.end(body);
  }

  function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    send(res, status, 'application/json', `${JSON.stringify(value)}\n`, headers);
  }

  function sendError(res: ServerResponse, error: HttpError): void {
    metrics.add('umbra_authority_http_errors_total', 1, { code: error.code });
    // One line: JSON.stringify escapes any newline in a message.
    sendJson(res, error.status, { error: error.code, message: error.message }, { ...error.headers });
  }

  /** Reads an upload of at most MAX_UPLOAD_BYTES; larger ones end in HttpError 413. */
  function readBody(req: IncomingMessage, res: ServerResponse): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      const tooLarge = () => new HttpError(413, 'too-large', `the body exceeds ${MAX_UPLOAD_BYTES} bytes`);
      if (declared > DRAIN_LIMIT) {
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
        if (total <= MAX_UPLOAD_BYTES) chunks.push(chunk);
        else if (total > DRAIN_LIMIT && !settled) {
          settled = true;
          res.setHeader('connection', 'close');
          res.on('finish', () => req.destroy());
          reject(tooLarge());
        }
      });
      req.on('end', () => {
        if (settled) return;
        settled = true;
        if (total > MAX_UPLOAD_BYTES) reject(tooLarge());
        else resolve(new Uint8Array(Buffer.concat(chunks, total)));
      });
      req.on('error', (error) => {
        if (settled) return;
        settled = true;
        reject(error);
      });
    });
  }

  async function handleUpload(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/octet-stream') {
        req.resume();
        throw new HttpError(415, 'bad-content-type', 'the body must be application/octet-stream');
      }
      const body = await readBody(req, res);
      const { result, descriptor } = accept(body);
      metrics.add('umbra_authority_descriptors_accepted_total', 1, { result });
      sendJson(res, result === 'new' ? 201 : 200, { status: result, epoch: descriptor.epoch, nodeId: toBase64Url(descriptor.nodeId) });
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      metrics.add('umbra_authority_descriptors_rejected_total', 1, { reason: error.code });
      sendError(res, error);
    }
  }

  function handleConsensus(res: ServerResponse, which: string): void {
    const now = clock.now();
    let epoch: number;
    if (which === 'current') {
      epoch = currentEpoch(now);
    } else {
      if (!/^(0|[1-9][0-9]{0,15})$/.test(which) || !Number.isSafeInteger(Number(which))) {
        throw new HttpError(400, 'bad-epoch', 'the epoch must be "current" or a decimal integer without leading zeros');
      }
      epoch = Number(which);
    }
    const bytes = epoch >= 0 ? documentFor(epoch, now) : undefined;
    if (bytes === undefined) {
      const problem = buildProblems.get(epoch);
      throw new HttpError(404, 'not-found', `no consensus document for epoch ${epoch}${problem === undefined ? '' : ` (${problem})`}`);
    }
    metrics.add('umbra_authority_consensus_served_total');
    send(res, 200, 'application/octet-stream', bytes, { 'x-umbra-epoch': String(epoch) });
  }

  function route(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    const only = (allowedMethod: string) => {
      if (method !== allowedMethod) {
        req.resume();
        throw new HttpError(405, 'method-not-allowed', `${path} takes ${allowedMethod}`, { allow: allowedMethod });
      }
    };
    if (path === '/v1/descriptors') {
      only('POST');
      return handleUpload(req, res);
    }
    req.resume(); // no other endpoint reads a body
    const consensus = /^\/v1\/consensus\/([^/]+)$/.exec(path);
    if (consensus !== null) {
      only('GET');
      return handleConsensus(res, consensus[1]);
    }
    if (path === '/healthz') {
      only('GET');
      const current = currentEpoch(clock.now());
      return sendJson(res, 200, {
        status: 'ok',
        epoch: current,
        authorityId: toBase64Url(publicKey),
        latestDocumentEpoch: documents.size === 0 ? null : Math.max(...documents.keys()),
        descriptorsHeld: Object.fromEntries([...descriptors].map(([epoch, byNode]) => [String(epoch), byNode.size])),
      });
    }
    if (path === '/metrics') {
      only('GET');
      updateGauges(currentEpoch(clock.now()));
      return send(res, 200, 'text/plain; version=0.0.4', metrics.text());
    }
    throw new HttpError(404, 'not-found', 'no such endpoint');
  }

  const server: Server = createServer((req, res) => {
    req.on('error', () => {}); // a client that goes away is not our error
    const fail = (error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        sendError(res, error);
      } else {
        log(`authority: internal error: ${error instanceof Error ? error.message : String(error)}`);
        sendError(res, new HttpError(500, 'internal', 'internal error'));
      }
    };
    try {
      const pending = route(req, res);
      if (pending instanceof Promise) pending.catch(fail);
    } catch (error) {
      fail(error);
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 64;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log(`authority: server error: ${error.message}`));
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  tick();

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    publicKey,
    tick,
    documentBytes: (epoch) => documents.get(epoch),
    metrics,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        if (timer !== undefined) clock.clearTimer(timer);
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
