import { ByteReader, ByteWriter, concatBytes, hexOf, sameBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { MAX_CONSENSUS_NODES } from './consensus-document.js';
import { decodeDescriptor, decodeDescriptorUnverified, encodeDescriptor, MAX_BANDWIDTH, MAX_DESCRIPTOR_BYTES, type NodeDescriptor } from './descriptor.js';
import { MAX_EPOCH_MS, timingProblem, type EpochTiming } from './epoch.js';
import { PkiError } from './errors.js';
import { compareBytes, isBytes, KEY_BYTES, SIGNATURE_BYTES } from './fields.js';
import { copyNetworkParameters, networkParametersProblems, RELIABILITY_SCALE, type NetworkParameters } from './params.js';
import { readNetworkParameters, writeNetworkParameters } from './params-codec.js';

/**
 * An authority's vote for one epoch (docs/pki.md, "Voting"): what it would publish alone — its
 * timing, grace, network parameters, the descriptors it holds, its reliability score of each
 * node and the bandwidth it measured of each — signed with its identity key.
 * Votes are tallied by tallyVotes (tally.ts) into the consensus document.
 */
export interface Vote extends EpochTiming {
  readonly epoch: number;
  /** The voting authority's Ed25519 public key. */
  readonly voter: Uint8Array;
  readonly graceMs: number;
  readonly network: NetworkParameters;
  /** Strictly ascending by node ID, all for `epoch`. */
  readonly nodes: readonly NodeDescriptor[];
  /** The voter's per-mille reliability score of each node, in the order of `nodes`. */
  readonly scores: readonly number[];
  /**
   * The packets per second the voter measured each node to carry, in the order of `nodes`
   * (docs/network.md, "Measured bandwidth"); 0: not measured.
   */
  readonly measured: readonly number[];
  readonly signature: Uint8Array;
}

export interface VoteInput extends EpochTiming {
  readonly epoch: number;
  readonly graceMs: number;
  readonly network: NetworkParameters;
  /** In any order, one per node, all for `epoch`. */
  readonly descriptors: readonly NodeDescriptor[];
  /** Per-mille scores by node ID (hex); a node left out scores RELIABILITY_SCALE. */
  readonly scores?: ReadonlyMap<string, number>;
  /** Measured packets per second by node ID (hex); a node left out was not measured (0). */
  readonly measured?: ReadonlyMap<string, number>;
}

export const VOTE_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x56]); // "UMBV"
/**
 * 2: the reliability parameters, and a per-mille score (u16) per node after the descriptors;
 * 3: a measured bandwidth (u32) per node after the scores.
 */
export const VOTE_VERSION = 3;
export const VOTE_SIGNATURE_LABEL = new TextEncoder().encode('umbra authority vote v2');
/** magic, version, epoch, voter, genesis, epoch length, grace, parameters (at most 96), node count, nodes, scores, measured bandwidths, signature. */
export const MAX_VOTE_BYTES = 4 + 1 + 8 + KEY_BYTES + 8 * 3 + 96 + 2 + MAX_CONSENSUS_NODES * (2 + MAX_DESCRIPTOR_BYTES + 2 + 4) + SIGNATURE_BYTES;

function invalid(detail: string): PkiError {
  return new PkiError('invalid', `vote: ${detail}`);
}

function malformed(detail: string): PkiError {
  return new PkiError('malformed', `vote: ${detail}`);
}

/** What is wrong with a vote's fields (the same rules for making and decoding one), or undefined. */
function voteProblem(vote: Omit<Vote, 'voter' | 'signature'>): string | undefined {
  const timing = timingProblem(vote);
  if (timing !== undefined) return timing;
  if (!Number.isSafeInteger(vote.epoch) || vote.epoch < 0) return 'the epoch is not a non-negative safe integer';
  if (!Number.isSafeInteger(vote.graceMs) || vote.graceMs < 0 || vote.graceMs > vote.epochMs) return 'graceMs must be an integer in 0..epochMs';
  const problems = networkParametersProblems(vote.network);
  if (problems.length > 0) return problems.join('; ');
  if (vote.nodes.length > MAX_CONSENSUS_NODES) return `at most ${MAX_CONSENSUS_NODES} nodes`;
  for (let i = 0; i < vote.nodes.length; i++) {
    if (vote.nodes[i].epoch !== vote.epoch) return `a descriptor is for epoch ${vote.nodes[i].epoch}`;
    if (i > 0 && compareBytes(vote.nodes[i - 1].nodeId, vote.nodes[i].nodeId) >= 0) return 'nodes are not in strictly ascending node-ID order (one descriptor per node)';
  }
  if (!Array.isArray(vote.scores) || vote.scores.length !== vote.nodes.length) return 'there must be one score per node';
  if (vote.scores.some((score) => !Number.isInteger(score) || score < 0 || score > RELIABILITY_SCALE)) return `a score is not an integer in 0..${RELIABILITY_SCALE}`;
  if (!Array.isArray(vote.measured) || vote.measured.length !== vote.nodes.length) return 'there must be one measured bandwidth per node';
  if (vote.measured.some((pps) => !Number.isInteger(pps) || pps < 0 || pps > MAX_BANDWIDTH)) return `a measured bandwidth is not an integer in 0..${MAX_BANDWIDTH}`;
  return undefined;
}

function voteBody(vote: Omit<Vote, 'signature'>): Uint8Array {
  const writer = new ByteWriter(4096)
    .bytes(VOTE_MAGIC)
    .u8(VOTE_VERSION)
    .u64(vote.epoch)
    .bytes(vote.voter)
    .u64(vote.genesisMs)
    .u64(vote.epochMs)
    .u64(vote.graceMs);
  writeNetworkParameters(writer, vote.network);
  writer.u16(vote.nodes.length);
  for (const node of vote.nodes) writer.prefixed(2, encodeDescriptor(node));
  for (const score of vote.scores) writer.u16(score);
  for (const pps of vote.measured) writer.u32(pps);
  return writer.finish();
}

/** Makes and signs this authority's vote; returns it with its encoding. 'invalid' when a rule is broken. */
export function makeVote(crypto: Crypto, authoritySeed: Uint8Array, input: VoteInput): { vote: Vote; bytes: Uint8Array } {
  if (!isBytes(authoritySeed, KEY_BYTES)) throw invalid('the authority seed is not 32 bytes');
  const nodes = Object.freeze([...input.descriptors].sort((a, b) => compareBytes(a.nodeId, b.nodeId)));
  const unsigned = {
    epoch: input.epoch,
    voter: crypto.ed25519PublicKey(authoritySeed),
    genesisMs: input.genesisMs,
    epochMs: input.epochMs,
    graceMs: input.graceMs,
    network: copyNetworkParameters(input.network),
    nodes,
    scores: Object.freeze(nodes.map((node) => input.scores?.get(hexOf(node.nodeId)) ?? RELIABILITY_SCALE)),
    measured: Object.freeze(nodes.map((node) => input.measured?.get(hexOf(node.nodeId)) ?? 0)),
  };
  const problem = voteProblem(unsigned);
  if (problem !== undefined) throw invalid(problem);
  const body = voteBody(unsigned);
  const signature = crypto.ed25519Sign(authoritySeed, concatBytes(VOTE_SIGNATURE_LABEL, body));
  return { vote: { ...unsigned, signature }, bytes: concatBytes(body, signature) };
}

export interface DecodeVoteOptions {
  /** The authorities whose votes count (this one's included). */
  readonly authorities: readonly Uint8Array[];
  /** When given, a vote for another epoch is 'wrong-epoch'. */
  readonly epoch?: number;
}

/**
 * Parses and verifies a vote received from a peer. In order: 'malformed' (over MAX_VOTE_BYTES,
 * does not parse, breaks a rule, a descriptor that does not verify), 'unknown-authority' (the
 * voter is not listed), 'bad-signature', 'wrong-epoch'.
 */
export function decodeVote(crypto: Crypto, bytes: Uint8Array, options: DecodeVoteOptions): Vote {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_VOTE_BYTES) throw malformed(`over ${MAX_VOTE_BYTES} bytes`);
  if (bytes.length < SIGNATURE_BYTES) throw malformed('too short');
  const body = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  let unsigned: Omit<Vote, 'signature'>;
  const descriptorBytes: Uint8Array[] = [];
  try {
    const reader = new ByteReader(body, 'vote');
    if (!sameBytes(reader.bytesOf(4, 'magic'), VOTE_MAGIC)) throw malformed('not a vote');
    const version = reader.u8('version');
    if (version !== VOTE_VERSION) throw malformed(`unknown version ${version}`);
    const epoch = reader.u64('epoch');
    const voter = reader.bytesOf(KEY_BYTES, 'voter');
    const genesisMs = reader.u64('genesis');
    const epochMs = reader.u64('epoch length');
    if (epochMs > MAX_EPOCH_MS) throw malformed('the epoch length is out of range');
    const graceMs = reader.u64('grace');
    const network = readNetworkParameters(reader);
    const count = reader.u16('node count');
    if (count > MAX_CONSENSUS_NODES) throw malformed(`over ${MAX_CONSENSUS_NODES} nodes`);
    for (let i = 0; i < count; i++) descriptorBytes.push(reader.prefixed(2, MAX_DESCRIPTOR_BYTES, 'descriptor'));
    const scores: number[] = [];
    for (let i = 0; i < count; i++) scores.push(reader.u16('score'));
    const measured: number[] = [];
    for (let i = 0; i < count; i++) measured.push(reader.u32('measured bandwidth'));
    reader.end();
    const nodes = descriptorBytes.map((encoded) => decodeDescriptorUnverified(encoded));
    unsigned = { epoch, voter, genesisMs, epochMs, graceMs, network, nodes: Object.freeze(nodes), scores: Object.freeze(scores), measured: Object.freeze(measured) };
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw malformed(error instanceof Error ? error.message : 'does not parse');
  }
  const problem = voteProblem(unsigned);
  if (problem !== undefined) throw malformed(problem);
  if (!options.authorities.some((key) => sameBytes(key, unsigned.voter))) throw new PkiError('unknown-authority', 'vote: the voter is not a listed authority');
  const signature = bytes.slice(bytes.length - SIGNATURE_BYTES);
  if (!crypto.ed25519Verify(unsigned.voter, concatBytes(VOTE_SIGNATURE_LABEL, body), signature)) {
    throw new PkiError('bad-signature', "vote: the voter's signature does not verify");
  }
  if (options.epoch !== undefined && unsigned.epoch !== options.epoch) {
    throw new PkiError('wrong-epoch', `vote: for epoch ${unsigned.epoch}, not ${options.epoch}`);
  }
  // The descriptors' own signatures last: a forged vote costs one verification.
  for (const encoded of descriptorBytes) {
    try {
      decodeDescriptor(crypto, encoded);
    } catch (error) {
      throw malformed(`a descriptor does not verify (${error instanceof Error ? error.message : 'unknown'})`);
    }
  }
  return { ...unsigned, signature };
}
