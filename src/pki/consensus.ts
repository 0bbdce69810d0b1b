import { ByteReader, ByteWriter, concatBytes, hexOf, sameBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import type { SuiteName } from '../sphinx/suite.js';
import {
  decodeDescriptor,
  decodeDescriptorUnverified,
  encodeDescriptor,
  GATEWAY_LAYER,
  LAYER_COUNT,
  MAX_DESCRIPTOR_BYTES,
  MIX_LAYERS,
  PROVIDER_LAYER,
  type NodeDescriptor,
} from './descriptor.js';
import { epochEnd, MAX_EPOCH_MS, timingProblem, type EpochTiming } from './epoch.js';
import { PkiError } from './errors.js';
import { compareBytes, isBytes, KEY_BYTES, SIGNATURE_BYTES } from './fields.js';
import {
  copyNetworkParameters,
  networkParametersProblems,
  PKI_SUITE_NAMES,
  RETRIEVAL_MODES,
  type NetworkParameters,
  type RetrievalMode,
} from './params.js';

/**
 * The consensus document (docs/pki.md, "Consensus document"): for one epoch, the network's
 * timing and parameters and every node's descriptor, signed by the authorities. Canonical
 * binary: nodes sorted by node ID, signatures sorted by authority ID, so the same inputs always
 * give the same bytes.
 */
export interface ConsensusSignature {
  /** The authority's Ed25519 public key. */
  readonly authorityId: Uint8Array;
  /** Ed25519 over CONSENSUS_SIGNATURE_LABEL ‖ the document's encoding without its signatures. */
  readonly signature: Uint8Array;
}

export interface ConsensusDocument extends NetworkParameters, EpochTiming {
  readonly version: typeof CONSENSUS_VERSION;
  readonly epoch: number;
  /** The document may be used until this Unix millisecond (end of the epoch plus a grace period). */
  readonly validUntilMs: number;
  /** Strictly ascending by node ID (so a node appears once). */
  readonly nodes: readonly NodeDescriptor[];
  /** Strictly ascending by authority ID; empty for a document not yet signed. */
  readonly signatures: readonly ConsensusSignature[];
}

export interface ConsensusInput extends EpochTiming {
  readonly epoch: number;
  /** How long after the epoch's end the document stays valid; default a quarter epoch, at most one epoch. */
  readonly graceMs?: number;
  readonly network: NetworkParameters;
  /** In any order; all for `epoch`, one per node. */
  readonly descriptors: readonly NodeDescriptor[];
}

export interface VerifyConsensusOptions {
  /** The trusted authorities' Ed25519 public keys. */
  readonly authorities: readonly Uint8Array[];
  /** Valid signatures needed; default a majority of `authorities` (floor(n / 2) + 1). */
  readonly threshold?: number;
  /** When given, a document for another epoch is 'wrong-epoch'. */
  readonly epoch?: number;
  /** The verifier's time (Unix ms): a document is 'expired' when nowMs > validUntilMs. */
  readonly nowMs: number;
  /**
   * Also verify every descriptor's own signature and Sphinx keys (default true). The authorities
   * already did; skipping it saves one Ed25519 verification per node for weak clients.
   */
  readonly verifyDescriptors?: boolean;
}

/** The nodes of a document by layer: [gateways, layer-1 mixes, layer-2, layer-3, providers]. */
export type PathLayers = readonly [
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
];

export const CONSENSUS_VERSION = 1;
export const CONSENSUS_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x4e]); // "UMBN"
export const CONSENSUS_SIGNATURE_LABEL = new TextEncoder().encode('umbra consensus document v1');
export const MAX_CONSENSUS_NODES = 1024;
export const MAX_CONSENSUS_SIGNATURES = 16;
const MAX_SUITE_NAME_BYTES = 32;
/** magic, version, epoch, genesis, epoch length, valid-until, suite, geometry, mixing, traffic, retrieval, node count. */
const HEADER_MAX = 4 + 1 + 8 * 4 + 1 + MAX_SUITE_NAME_BYTES + (1 + 4 + 1) + (4 + 4) + 8 * 4 + 1 + 2;
export const MAX_CONSENSUS_BYTES =
  HEADER_MAX + MAX_CONSENSUS_NODES * (2 + MAX_DESCRIPTOR_BYTES) + 1 + MAX_CONSENSUS_SIGNATURES * (KEY_BYTES + SIGNATURE_BYTES);

const encoder = new TextEncoder();

/** What is wrong with the topology of `nodes`, or undefined. */
export function topologyProblem(nodes: readonly NodeDescriptor[]): string | undefined {
  const counts = new Array<number>(LAYER_COUNT).fill(0);
  for (const node of nodes) counts[node.layer] += 1;
  if (counts[GATEWAY_LAYER] === 0) return 'no gateway';
  for (const layer of MIX_LAYERS) if (counts[layer] === 0) return `no mix on layer ${layer}`;
  if (counts[PROVIDER_LAYER] === 0) return 'no provider';
  return undefined;
}

/** The nodes grouped by layer (each group in node-ID order). */
export function pathLayers(doc: Pick<ConsensusDocument, 'nodes'>): PathLayers {
  const layers: NodeDescriptor[][] = [[], [], [], [], []];
  for (const node of doc.nodes) layers[node.layer].push(node);
  return layers as unknown as PathLayers;
}

/** The node with ID `nodeId`, or undefined. */
export function findNode(doc: Pick<ConsensusDocument, 'nodes'>, nodeId: Uint8Array): NodeDescriptor | undefined {
  return doc.nodes.find((node) => sameBytes(node.nodeId, nodeId));
}

function checkUnsignedDocument(doc: Omit<ConsensusDocument, 'signatures'>, code: 'invalid' | 'malformed'): void {
  const fail = (detail: string): never => {
    throw new PkiError(code, `consensus: ${detail}`);
  };
  if (doc.version !== CONSENSUS_VERSION) fail(`version ${String(doc.version)} is not ${CONSENSUS_VERSION}`);
  const timing = timingProblem(doc);
  if (timing !== undefined) fail(timing);
  if (!Number.isSafeInteger(doc.epoch) || doc.epoch < 0) fail('the epoch is not a non-negative safe integer');
  let end: number;
  try {
    end = epochEnd(doc.epoch, doc);
  } catch {
    return fail('the epoch is too far in the future');
  }
  if (!Number.isSafeInteger(doc.validUntilMs) || doc.validUntilMs < end || doc.validUntilMs > end + doc.epochMs) {
    fail('validUntilMs must lie between the end of the epoch and one epoch later');
  }
  const problems = networkParametersProblems(doc);
  if (problems.length > 0) fail(problems.join('; '));
  if (!Array.isArray(doc.nodes) || doc.nodes.length > MAX_CONSENSUS_NODES) fail(`at most ${MAX_CONSENSUS_NODES} nodes`);
  for (let i = 0; i < doc.nodes.length; i++) {
    if (doc.nodes[i].epoch !== doc.epoch) fail(`a descriptor is for epoch ${doc.nodes[i].epoch}`);
    if (i > 0 && compareBytes(doc.nodes[i - 1].nodeId, doc.nodes[i].nodeId) >= 0) fail('nodes are not in strictly ascending node-ID order');
  }
  const topology = topologyProblem(doc.nodes);
  if (topology !== undefined) throw new PkiError('incomplete-topology', `consensus: ${topology}`);
}

function writeF64(writer: ByteWriter, value: number): void {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, false);
  writer.bytes(bytes);
}

/** The signed part: everything before the signature count. The document must be valid. */
function consensusBody(doc: Omit<ConsensusDocument, 'signatures'>): Uint8Array {
  const writer = new ByteWriter(4096)
    .bytes(CONSENSUS_MAGIC)
    .u8(CONSENSUS_VERSION)
    .u64(doc.epoch)
    .u64(doc.genesisMs)
    .u64(doc.epochMs)
    .u64(doc.validUntilMs)
    .text(1, doc.suite)
    .u8(doc.geometry.hops)
    .u32(doc.geometry.userForwardPayloadLength)
    .u8(doc.geometry.withSurb ? 1 : 0)
    .u32(doc.mixing.meanDelayMs)
    .u32(doc.mixing.maxDelayMs);
  writeF64(writer, doc.traffic.clientSendRate);
  writeF64(writer, doc.traffic.loopRate);
  writeF64(writer, doc.traffic.dropRate);
  writeF64(writer, doc.traffic.gatewayClientRate);
  writer.u8(RETRIEVAL_MODES.indexOf(doc.retrieval)).u16(doc.nodes.length);
  for (const node of doc.nodes) writer.prefixed(2, encodeDescriptor(node));
  return writer.finish();
}

/**
 * Builds the unsigned document for `input.epoch`: descriptors sorted by node ID, the network
 * parameters copied. Deterministic (same inputs, same bytes). Refuses a descriptor for another
 * epoch ('wrong-epoch'), two for one node ('conflict'), a layer without nodes
 * ('incomplete-topology') and parameters that break a rule ('invalid').
 */
export function makeConsensus(input: ConsensusInput): ConsensusDocument {
  if (typeof input !== 'object' || input === null) throw new PkiError('invalid', 'consensus: no input');
  const timing = timingProblem(input);
  if (timing !== undefined) throw new PkiError('invalid', `consensus: ${timing}`);
  if (!Number.isSafeInteger(input.epoch) || input.epoch < 0) throw new PkiError('invalid', 'consensus: the epoch is not a non-negative safe integer');
  const graceMs = input.graceMs ?? Math.floor(input.epochMs / 4);
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > input.epochMs) {
    throw new PkiError('invalid', 'consensus: graceMs must be an integer in 0..epochMs');
  }
  const problems = networkParametersProblems(input.network);
  if (problems.length > 0) throw new PkiError('invalid', `consensus: ${problems.join('; ')}`);
  if (!Array.isArray(input.descriptors)) throw new PkiError('invalid', 'consensus: descriptors is not an array');
  for (const descriptor of input.descriptors) {
    if (descriptor.epoch !== input.epoch) {
      throw new PkiError('wrong-epoch', `consensus: a descriptor is for epoch ${descriptor.epoch}, not ${input.epoch}`);
    }
  }
  const nodes = [...input.descriptors].sort((a, b) => compareBytes(a.nodeId, b.nodeId));
  for (let i = 1; i < nodes.length; i++) {
    if (sameBytes(nodes[i - 1].nodeId, nodes[i].nodeId)) {
      throw new PkiError('conflict', `consensus: two descriptors for node ${hexOf(nodes[i].nodeId)}`);
    }
  }
  let end: number;
  try {
    end = epochEnd(input.epoch, input);
  } catch {
    throw new PkiError('invalid', 'consensus: the epoch is too far in the future');
  }
  const doc: ConsensusDocument = {
    version: CONSENSUS_VERSION,
    epoch: input.epoch,
    genesisMs: input.genesisMs,
    epochMs: input.epochMs,
    validUntilMs: end + graceMs,
    ...copyNetworkParameters(input.network),
    nodes: Object.freeze(nodes),
    signatures: Object.freeze([]),
  };
  checkUnsignedDocument(doc, 'invalid');
  // Encoding checks every descriptor's fields too.
  consensusBody(doc);
  return doc;
}

function checkSignatureList(signatures: readonly ConsensusSignature[], code: 'invalid' | 'malformed'): void {
  if (!Array.isArray(signatures) || signatures.length > MAX_CONSENSUS_SIGNATURES) {
    throw new PkiError(code, `consensus: at most ${MAX_CONSENSUS_SIGNATURES} signatures`);
  }
  for (let i = 0; i < signatures.length; i++) {
    const { authorityId, signature } = signatures[i];
    if (!isBytes(authorityId, KEY_BYTES) || !isBytes(signature, SIGNATURE_BYTES)) {
      throw new PkiError(code, 'consensus: a signature entry is not 32 + 64 bytes');
    }
    if (i > 0 && compareBytes(signatures[i - 1].authorityId, authorityId) >= 0) {
      throw new PkiError(code, 'consensus: signatures are not in strictly ascending authority-ID order');
    }
  }
}

/** The canonical encoding, signatures included ('invalid' if a rule is broken). */
export function encodeConsensus(doc: ConsensusDocument): Uint8Array {
  checkUnsignedDocument(doc, 'invalid');
  checkSignatureList(doc.signatures, 'invalid');
  const writer = new ByteWriter(64 + doc.signatures.length * 96).bytes(consensusBody(doc)).u8(doc.signatures.length);
  for (const { authorityId, signature } of doc.signatures) writer.bytes(authorityId).bytes(signature);
  return writer.finish();
}

/** The bytes every authority signs: the label ‖ the encoding without the signatures. */
export function consensusSignedBytes(doc: ConsensusDocument): Uint8Array {
  checkUnsignedDocument(doc, 'invalid');
  return concatBytes(CONSENSUS_SIGNATURE_LABEL, consensusBody(doc));
}

/** A 32-byte BLAKE2b digest of the signed part: names a document independently of its signatures. */
export function consensusDigest(crypto: Crypto, doc: ConsensusDocument): Uint8Array {
  return crypto.blake2b(32, consensusSignedBytes(doc));
}

/**
 * The document with the authority's signature added (replacing an earlier one by the same
 * authority), the signatures kept in authority-ID order.
 */
export function signConsensus(crypto: Crypto, doc: ConsensusDocument, authoritySeed: Uint8Array): ConsensusDocument {
  if (!isBytes(authoritySeed, KEY_BYTES)) throw new PkiError('invalid', 'consensus: the authority seed is not 32 bytes');
  const authorityId = crypto.ed25519PublicKey(authoritySeed);
  const signature = crypto.ed25519Sign(authoritySeed, consensusSignedBytes(doc));
  const signatures = [...doc.signatures.filter((entry) => !sameBytes(entry.authorityId, authorityId)), { authorityId, signature }];
  signatures.sort((a, b) => compareBytes(a.authorityId, b.authorityId));
  if (signatures.length > MAX_CONSENSUS_SIGNATURES) throw new PkiError('invalid', `consensus: at most ${MAX_CONSENSUS_SIGNATURES} signatures`);
  return { ...doc, signatures: Object.freeze(signatures) };
}

function malformed(detail: string): PkiError {
  return new PkiError('malformed', `consensus: ${detail}`);
}

function readF64(reader: ByteReader, field: string): number {
  const bytes = reader.bytesOf(8, field);
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, false);
}

/**
 * Parses a document and checks every structural rule (bounds, order, topology, timing,
 * parameters) and, when `verifyDescriptors`, every descriptor's signature, but NOT the authority
 * signatures: use verifyConsensus for anything received from the network.
 */
export function decodeConsensusUnverified(
  crypto: Crypto,
  bytes: Uint8Array,
  verifyDescriptors = true,
): { doc: ConsensusDocument; signedBytes: Uint8Array } {
  const { doc, signedBytes, descriptorBytes } = parseConsensus(bytes);
  if (verifyDescriptors) verifyDescriptorsOf(crypto, descriptorBytes);
  return { doc, signedBytes };
}

function verifyDescriptorsOf(crypto: Crypto, descriptorBytes: readonly Uint8Array[]): void {
  for (const encoded of descriptorBytes) {
    try {
      decodeDescriptor(crypto, encoded);
    } catch (error) {
      if (error instanceof PkiError && error.code === 'bad-signature') throw error;
      throw malformed(`a descriptor is malformed (${error instanceof Error ? error.message : 'unknown'})`);
    }
  }
}

/** Structure only: no signature of any kind is checked. */
function parseConsensus(bytes: Uint8Array): { doc: ConsensusDocument; signedBytes: Uint8Array; descriptorBytes: Uint8Array[] } {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_CONSENSUS_BYTES) throw malformed(`over ${MAX_CONSENSUS_BYTES} bytes`);
  let doc: ConsensusDocument;
  let bodyLength: number;
  const descriptorBytes: Uint8Array[] = [];
  try {
    const reader = new ByteReader(bytes, 'consensus');
    if (!sameBytes(reader.bytesOf(4, 'magic'), CONSENSUS_MAGIC)) throw malformed('not a consensus document');
    const version = reader.u8('version');
    if (version !== CONSENSUS_VERSION) throw malformed(`unknown version ${version}`);
    const epoch = reader.u64('epoch');
    const genesisMs = reader.u64('genesis');
    const epochMs = reader.u64('epoch length');
    if (epochMs > MAX_EPOCH_MS) throw malformed('the epoch length is out of range');
    const validUntilMs = reader.u64('valid until');
    const suiteBytes = reader.prefixed(1, MAX_SUITE_NAME_BYTES, 'suite');
    const suite = PKI_SUITE_NAMES.find((name) => sameBytes(encoder.encode(name), suiteBytes));
    if (suite === undefined) throw malformed('unknown Sphinx suite');
    const hops = reader.u8('hops');
    const userForwardPayloadLength = reader.u32('user payload length');
    const surbFlag = reader.u8('with SURB');
    if (surbFlag > 1) throw malformed('the SURB flag is not 0 or 1');
    const meanDelayMs = reader.u32('mean delay');
    const maxDelayMs = reader.u32('max delay');
    const clientSendRate = readF64(reader, 'client send rate');
    const loopRate = readF64(reader, 'loop rate');
    const dropRate = readF64(reader, 'drop rate');
    const gatewayClientRate = readF64(reader, 'gateway client rate');
    const retrievalCode = reader.u8('retrieval');
    const retrieval: RetrievalMode | undefined = RETRIEVAL_MODES[retrievalCode];
    if (retrieval === undefined) throw malformed('unknown retrieval mode');
    const count = reader.u16('node count');
    if (count > MAX_CONSENSUS_NODES) throw malformed(`over ${MAX_CONSENSUS_NODES} nodes`);
    for (let i = 0; i < count; i++) descriptorBytes.push(reader.prefixed(2, MAX_DESCRIPTOR_BYTES, 'descriptor'));
    bodyLength = bytes.length - reader.remaining;
    const signatureCount = reader.u8('signature count');
    if (signatureCount > MAX_CONSENSUS_SIGNATURES) throw malformed(`over ${MAX_CONSENSUS_SIGNATURES} signatures`);
    const signatures: ConsensusSignature[] = [];
    for (let i = 0; i < signatureCount; i++) {
      signatures.push({ authorityId: reader.bytesOf(KEY_BYTES, 'authority ID'), signature: reader.bytesOf(SIGNATURE_BYTES, 'signature') });
    }
    reader.end();
    doc = {
      version: CONSENSUS_VERSION,
      epoch,
      genesisMs,
      epochMs,
      validUntilMs,
      suite: suite as SuiteName,
      geometry: Object.freeze({ hops, userForwardPayloadLength, withSurb: surbFlag === 1 }),
      mixing: Object.freeze({ meanDelayMs, maxDelayMs }),
      traffic: Object.freeze({ clientSendRate, loopRate, dropRate, gatewayClientRate }),
      retrieval,
      nodes: [],
      signatures: Object.freeze(signatures),
    };
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw malformed(error instanceof Error ? error.message : 'does not parse'); // a DecodeError
  }
  // Cheap checks before the descriptors' signatures.
  checkSignatureList(doc.signatures, 'malformed');
  const nodes = descriptorBytes.map((encoded) => {
    try {
      return decodeDescriptorUnverified(encoded);
    } catch (error) {
      throw malformed(`a descriptor is malformed (${error instanceof Error ? error.message : 'unknown'})`);
    }
  });
  doc = { ...doc, nodes: Object.freeze(nodes) };
  checkUnsignedDocument(doc, 'malformed');
  return { doc, signedBytes: concatBytes(CONSENSUS_SIGNATURE_LABEL, bytes.subarray(0, bodyLength)), descriptorBytes };
}

/** The threshold verifyConsensus applies by default: a majority of `authorityCount`. */
export function majority(authorityCount: number): number {
  return Math.floor(authorityCount / 2) + 1;
}

/**
 * Parses and verifies a document received from anyone (integrity comes from the signatures).
 * In order: 'malformed' (does not parse or breaks a rule; 'incomplete-topology' for a missing
 * layer), 'unknown-authority' (any signature by a key not in `authorities`), 'bad-signature' (any
 * signature that does not verify, or a descriptor's), 'not-enough-signatures' (fewer than the
 * threshold, including none), 'wrong-epoch', 'expired' (nowMs > validUntilMs).
 */
export function verifyConsensus(crypto: Crypto, bytes: Uint8Array, options: VerifyConsensusOptions): ConsensusDocument {
  const trusted = trustedAuthorities(options.authorities);
  const threshold = options.threshold ?? majority(trusted.length);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > trusted.length) {
    throw new PkiError('invalid', `the threshold must be an integer in 1..${trusted.length}`);
  }
  if (typeof options.nowMs !== 'number' || !Number.isFinite(options.nowMs)) throw new PkiError('invalid', 'nowMs is not a finite number');
  // Signatures are checked before the descriptors' own signatures (cheaper to refuse a forgery).
  const { doc, signedBytes, descriptorBytes } = parseConsensus(bytes);
  for (const { authorityId } of doc.signatures) {
    if (!trusted.some((key) => sameBytes(key, authorityId))) {
      throw new PkiError('unknown-authority', `consensus signed by unknown authority ${hexOf(authorityId)}`);
    }
  }
  for (const { authorityId, signature } of doc.signatures) {
    if (!crypto.ed25519Verify(authorityId, signedBytes, signature)) {
      throw new PkiError('bad-signature', `the signature of authority ${hexOf(authorityId)} does not verify`);
    }
  }
  if (doc.signatures.length < threshold) {
    throw new PkiError('not-enough-signatures', `${doc.signatures.length} valid signatures, ${threshold} needed`);
  }
  if (options.verifyDescriptors ?? true) verifyDescriptorsOf(crypto, descriptorBytes);
  if (options.epoch !== undefined && doc.epoch !== options.epoch) {
    throw new PkiError('wrong-epoch', `the document is for epoch ${doc.epoch}, not ${options.epoch}`);
  }
  if (options.nowMs > doc.validUntilMs) throw new PkiError('expired', `the document for epoch ${doc.epoch} has expired`);
  return doc;
}

function trustedAuthorities(authorities: readonly Uint8Array[]): Uint8Array[] {
  if (!Array.isArray(authorities) || authorities.length === 0) throw new PkiError('invalid', 'no trusted authorities');
  const unique: Uint8Array[] = [];
  for (const key of authorities) {
    if (!isBytes(key, KEY_BYTES)) throw new PkiError('invalid', 'an authority key is not 32 bytes');
    if (!unique.some((other) => sameBytes(other, key))) unique.push(key);
  }
  return unique;
}
