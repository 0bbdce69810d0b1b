import type { Crypto } from '../crypto/types.js';
import { PinnedHttpsTargetError, pinnedFetch, TlsKeyMismatchError, type PinnedHttpsTarget, type PinnedRequest } from './pinned-https.js';
import { decodeConsensusUnverified, MAX_CONSENSUS_BYTES, verifyConsensus, type ConsensusDocument, type VerifyConsensusOptions } from '../pki/index.js';

/**
 * What nodes and clients use to talk to an authority (docs/pki.md, "HTTP API"): upload a
 * descriptor, fetch and verify a consensus document. Every request is HTTPS (TLS 1.3) to a pinned
 * key (pinned-https.ts): an authority's certificate carries its identity key, so a consensus fetch
 * pins the keys trusted to sign the consensus, and an upload the keys its caller trusts. Any
 * mirror serving the same paths works: documents are trusted for their signatures, not for where
 * they come from; the TLS keeps what is fetched from whoever watches the link.
 */
export class AuthorityRequestError extends Error {
  /** The HTTP status (0 when there was no response) and the authority's error code. */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AuthorityRequestError';
  }
}

export interface UploadResult {
  readonly status: 'new' | 'replaced' | 'unchanged';
  readonly epoch: number;
}

export interface RequestOptions {
  /** Default 10 s. */
  readonly timeoutMs?: number;
}

export interface FetchOptions extends RequestOptions {
  /** The keys the server's TLS certificate may carry; default the authorities trusted to sign (`verify.authorities`). */
  readonly tlsKeys?: readonly Uint8Array[];
}

/**
 * A pinned HTTPS request; every failure is an AuthorityRequestError: 'cleartext' for an http:// URL,
 * 'wrong-key' when the server's key is not pinned, 'unreachable' when there is no answer.
 */
async function request(target: PinnedHttpsTarget, path: string, init: PinnedRequest, timeoutMs: number): Promise<Response> {
  try {
    return await pinnedFetch(target, path, init, timeoutMs);
  } catch (error) {
    if (error instanceof TlsKeyMismatchError) throw new AuthorityRequestError(0, 'wrong-key', error.message);
    if (error instanceof PinnedHttpsTargetError) throw new AuthorityRequestError(0, error.code, error.message);
    throw new AuthorityRequestError(0, 'unreachable', `${target.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function errorOf(response: Response): Promise<AuthorityRequestError> {
  let code = `http-${response.status}`;
  let message = response.statusText;
  try {
    const body = (await readLimited(response, 4096)) ?? new Uint8Array(0);
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { error?: unknown; message?: unknown };
    if (typeof parsed.error === 'string') code = parsed.error;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not the authority's JSON error: keep the status
  }
  return new AuthorityRequestError(response.status, code, message);
}

/** The body, or undefined when it is longer than `limit` bytes (reading stops there). */
async function readLimited(response: Response, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > limit) {
    await response.body?.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** POSTs an encoded descriptor. Refusals are AuthorityRequestError with the authority's code. */
export async function uploadDescriptor(authority: PinnedHttpsTarget, descriptorBytes: Uint8Array, options: RequestOptions = {}): Promise<UploadResult> {
  const response = await request(
    authority,
    '/v1/descriptors',
    { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: descriptorBytes },
    options.timeoutMs ?? 10_000,
  );
  if (!response.ok) throw await errorOf(response);
  const body = await readLimited(response, 4096);
  const parsed = JSON.parse(new TextDecoder().decode(body)) as UploadResult;
  return { status: parsed.status, epoch: parsed.epoch };
}

/** Posts a mix's signed loop report (docs/network.md, "Reliability"); AuthorityRequestError when refused. */
export async function uploadLoopReport(authority: PinnedHttpsTarget, reportBytes: Uint8Array, options: RequestOptions = {}): Promise<'new' | 'unchanged'> {
  const response = await request(
    authority,
    '/v1/loop-reports',
    { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: reportBytes },
    options.timeoutMs ?? 10_000,
  );
  if (!response.ok) throw await errorOf(response);
  const body = await readLimited(response, 4096);
  return (JSON.parse(new TextDecoder().decode(body)) as { status: 'new' | 'unchanged' }).status;
}

/**
 * Fetches the document for `epoch` ('current': the authority's current epoch), reading at most
 * MAX_CONSENSUS_BYTES, and verifies it (verifyConsensus, with `epoch` checked when a number).
 * Undefined when the authority has none yet (404); PkiError when the document does not verify.
 */
export async function fetchConsensus(
  crypto: Crypto,
  authorityUrl: string,
  epoch: number | 'current',
  verify: Omit<VerifyConsensusOptions, 'epoch'>,
  options: FetchOptions = {},
): Promise<{ doc: ConsensusDocument; bytes: Uint8Array } | undefined> {
  const result = await fetchConsensusOrReason(crypto, authorityUrl, epoch, verify, options);
  return 'missing' in result ? undefined : result;
}

/** As fetchConsensus, but a 404 gives the authority's reason (such as too few authorities signing). */
async function fetchConsensusOrReason(
  crypto: Crypto,
  authorityUrl: string,
  epoch: number | 'current',
  verify: Omit<VerifyConsensusOptions, 'epoch'>,
  options: FetchOptions,
): Promise<{ doc: ConsensusDocument; bytes: Uint8Array } | { missing: string }> {
  const which = epoch === 'current' ? 'current' : String(epoch);
  const target = { url: authorityUrl, keys: options.tlsKeys ?? verify.authorities, pinnedBy: 'the trusted authority keys' };
  const response = await request(target, `/v1/consensus/${which}`, { method: 'GET' }, options.timeoutMs ?? 10_000);
  if (response.status === 404) return { missing: (await errorOf(response)).message };
  if (!response.ok) throw await errorOf(response);
  const bytes = await readLimited(response, MAX_CONSENSUS_BYTES);
  if (bytes === undefined) throw new AuthorityRequestError(response.status, 'too-large', 'the document exceeds the largest consensus size');
  const doc = verifyConsensus(crypto, bytes, { ...verify, ...(epoch === 'current' ? {} : { epoch }) });
  return { doc, bytes };
}

/** Where an authority (or a mirror) answers, and whose signatures a consensus needs. */
export interface AuthorityEndpoint {
  /** "https://host:port": its TLS certificate must carry one of `publicKeys`. */
  readonly url: string;
  /** The trusted authorities' Ed25519 public keys (32 bytes each). */
  readonly publicKeys: readonly Uint8Array[];
  /** Signatures a consensus needs; default a majority of publicKeys. */
  readonly threshold?: number;
}

/** No verified consensus for the current epoch: the authority is unreachable, has none yet, or sent one that does not verify. */
export class ConsensusUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConsensusUnavailableError';
  }
}

/** Fetches and verifies the consensus of the authority's current epoch; ConsensusUnavailableError when there is none to be had. */
/** The current consensus from `authority`, verified; `timeoutMs` bounds the request (default 10 s). */
export async function fetchCurrentConsensus(crypto: Crypto, authority: AuthorityEndpoint, nowMs: number, verifyDescriptors = true, timeoutMs?: number): Promise<ConsensusDocument> {
  let result: { doc: ConsensusDocument } | { missing: string };
  try {
    result = await fetchConsensusOrReason(crypto, authority.url, 'current', {
      authorities: authority.publicKeys,
      ...(authority.threshold === undefined ? {} : { threshold: authority.threshold }),
      nowMs,
      verifyDescriptors,
    }, timeoutMs === undefined ? {} : { timeoutMs });
  } catch (error) {
    throw new ConsensusUnavailableError(`no consensus from ${authority.url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The authority's reason, e.g. "no consensus document for epoch 12 (2 of 5 authorities voted, 3 needed)".
  if ('missing' in result) throw new ConsensusUnavailableError(`the authority at ${authority.url} has no consensus for the current epoch: ${result.missing}`);
  return result.doc;
}

/**
 * The digest (consensusDigest) of the document a mirror serves for `epoch`, decoded but not
 * verified: the partition check compares it with the verified one. AuthorityRequestError when the
 * mirror has none ('not-found'), cannot be reached, or serves bytes that do not decode ('malformed').
 */
export async function fetchMirrorDigest(crypto: Crypto, mirror: PinnedHttpsTarget, epoch: number, options: RequestOptions = {}): Promise<Uint8Array> {
  const response = await request(mirror, `/v1/consensus/${epoch}`, { method: 'GET' }, options.timeoutMs ?? 10_000);
  if (response.status === 404) {
    await response.body?.cancel();
    throw new AuthorityRequestError(404, 'not-found', `no document for epoch ${epoch}`);
  }
  if (!response.ok) throw await errorOf(response);
  const bytes = await readLimited(response, MAX_CONSENSUS_BYTES);
  if (bytes === undefined) throw new AuthorityRequestError(response.status, 'too-large', 'the document exceeds the largest consensus size');
  try {
    return crypto.blake2b(32, decodeConsensusUnverified(crypto, bytes, false).signedBytes);
  } catch (error) {
    throw new AuthorityRequestError(response.status, 'malformed', error instanceof Error ? error.message : String(error));
  }
}
