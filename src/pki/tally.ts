import { hexOf, sameBytes } from '../codec/bytes.js';
import type { SuiteName } from '../sphinx/suite.js';
import { majority, makeConsensus } from './consensus.js';
import type { ConsensusDocument } from './consensus-document.js';
import { encodeDescriptor, type NodeDescriptor } from './descriptor.js';
import type { EpochTiming } from './epoch.js';
import { PkiError } from './errors.js';
import type { NetworkParameters, RetrievalMode } from './params.js';
import type { Vote } from './vote.js';

/**
 * The tally (docs/pki.md, "Tally"): from the votes of one epoch, the one consensus document every
 * honest authority computes. With n listed authorities, t = floor(n / 2) + 1:
 *
 * - a node is listed when t votes carry exactly the same descriptor bytes for it;
 * - each parameter (grace and every network parameter) takes the value that t votes carry
 *   exactly; if a parameter has no such value there is no document;
 * - a listed node's reliability score is the lower median of the scores the votes give it, and
 *   its measured bandwidth the lower median of the bandwidths they measured, a vote that did not
 *   measure it counting as unbounded;
 * - a voter with two different votes counts for nothing; a vote for another epoch or timing,
 *   or by a key that is not listed, is ignored.
 *
 * So fewer than t authorities can neither add a node nor change a parameter (lowering a privacy
 * parameter included), whatever else they vote. Order of the votes does not matter; the same votes
 * always give the same bytes. Pure: the votes are already decoded and verified (decodeVote).
 */
export interface TallyInput extends EpochTiming {
  readonly epoch: number;
  /** Every listed authority's public key (n), voting or not. */
  readonly authorities: readonly Uint8Array[];
  readonly votes: readonly Vote[];
}

export type TallyResult =
  | { readonly ok: true; readonly doc: ConsensusDocument; readonly voters: number }
  | { readonly ok: false; readonly problem: string; readonly voters: number };

type Scalar = string | number | boolean;

/** Every parameter a vote carries, by name, with how to read it. */
const PARAMETERS: readonly (readonly [string, (vote: Vote) => Scalar])[] = [
  ['graceMs', (v) => v.graceMs],
  ['suite', (v) => v.network.suite],
  ['geometry.hops', (v) => v.network.geometry.hops],
  ['geometry.userForwardPayloadLength', (v) => v.network.geometry.userForwardPayloadLength],
  ['geometry.withSurb', (v) => v.network.geometry.withSurb],
  ['mixing.meanDelayMs', (v) => v.network.mixing.meanDelayMs],
  ['mixing.maxDelayMs', (v) => v.network.mixing.maxDelayMs],
  ['traffic.clientSendRate', (v) => v.network.traffic.clientSendRate],
  ['traffic.loopRate', (v) => v.network.traffic.loopRate],
  ['traffic.dropRate', (v) => v.network.traffic.dropRate],
  ['traffic.gatewayClientRate', (v) => v.network.traffic.gatewayClientRate],
  ['retrieval', (v) => v.network.retrieval],
  ['pir.rowBytes', (v) => v.network.pir.rowBytes],
  ['pir.queriesPerPoll', (v) => v.network.pir.queriesPerPoll],
  ['retentionMs', (v) => v.network.retentionMs],
  ['reliability.mixLoopRate', (v) => v.network.reliability.mixLoopRate],
  ['reliability.floor', (v) => v.network.reliability.floor],
];

/** The votes that count: listed voter, this epoch and timing, one vote per voter (an equivocating voter's are all dropped). */
export function countedVotes(input: TallyInput): Vote[] {
  const byVoter = new Map<string, Vote[]>();
  for (const vote of input.votes) {
    if (vote.epoch !== input.epoch || vote.genesisMs !== input.genesisMs || vote.epochMs !== input.epochMs) continue;
    if (!input.authorities.some((key) => sameBytes(key, vote.voter))) continue;
    const key = hexOf(vote.voter);
    const list = byVoter.get(key) ?? [];
    if (!list.some((other) => sameBytes(other.signature, vote.signature))) list.push(vote);
    byVoter.set(key, list);
  }
  return [...byVoter.values()].filter((list) => list.length === 1).map((list) => list[0]);
}

/** The value `threshold` of the `values` share, or undefined. */
function majorityValue<T extends Scalar>(values: readonly T[], threshold: number): T | undefined {
  const counts = new Map<T, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  for (const [value, count] of counts) if (count >= threshold) return value;
  return undefined;
}

function majorityNodes(votes: readonly Vote[], threshold: number): NodeDescriptor[] {
  const byDescriptor = new Map<string, { descriptor: NodeDescriptor; count: number }>();
  for (const vote of votes) {
    for (const descriptor of vote.nodes) {
      const key = hexOf(encodeDescriptor(descriptor));
      const entry = byDescriptor.get(key) ?? { descriptor, count: 0 };
      entry.count += 1;
      byDescriptor.set(key, entry);
    }
  }
  // Each vote holds one descriptor per node, so at most one descriptor of a node reaches a majority.
  return [...byDescriptor.values()].filter((entry) => entry.count >= threshold).map((entry) => entry.descriptor);
}

/**
 * Per listed node, the lower median (sorted, element floor((k − 1) / 2) of k) of the values the
 * counted votes listing it give, as `read` takes them from a vote (by the node's index in it).
 * Fewer than half the voters cannot move it outside the range the others voted.
 */
function lowerMedians(votes: readonly Vote[], nodes: readonly NodeDescriptor[], read: (vote: Vote, i: number) => number): Map<string, number> {
  const byNode = new Map<string, number[]>();
  for (const node of nodes) byNode.set(hexOf(node.nodeId), []);
  for (const vote of votes) vote.nodes.forEach((node, i) => byNode.get(hexOf(node.nodeId))?.push(read(vote, i)));
  const medians = new Map<string, number>();
  for (const [key, list] of byNode) {
    if (list.length === 0) continue;
    list.sort((a, b) => a - b);
    medians.set(key, list[Math.floor((list.length - 1) / 2)]);
  }
  return medians;
}

/** Each listed node's score: the lower median of the scores the counted votes listing it give. */
export function medianScores(votes: readonly Vote[], nodes: readonly NodeDescriptor[]): Map<string, number> {
  return lowerMedians(votes, nodes, (vote, i) => vote.scores[i]);
}

/**
 * Each listed node's measured bandwidth: the lower median of the packets per second the counted
 * votes listing it measured, a 0 (not measured) counting as unbounded; absent (0 in the document)
 * when that median is unbounded (most voters measured nothing). Fewer than half the voters can
 * neither lower it below what the others measured nor raise it above.
 */
export function medianMeasured(votes: readonly Vote[], nodes: readonly NodeDescriptor[]): Map<string, number> {
  const medians = lowerMedians(votes, nodes, (vote, i) => (vote.measured[i] === 0 ? Infinity : vote.measured[i]));
  for (const [key, value] of medians) if (value === Infinity) medians.delete(key);
  return medians;
}

/** Tallies the votes into the unsigned consensus document for `input.epoch`, or says why there is none. */
export function tallyVotes(input: TallyInput): TallyResult {
  const threshold = majority(input.authorities.length);
  const votes = countedVotes(input);
  const voters = votes.length;
  if (voters < threshold) return { ok: false, problem: `${voters} of ${input.authorities.length} authorities voted, ${threshold} needed`, voters };
  const chosen = new Map<string, Scalar>();
  for (const [name, read] of PARAMETERS) {
    const value = majorityValue(votes.map(read), threshold);
    if (value === undefined) return { ok: false, problem: `no ${threshold} votes agree on ${name}`, voters };
    chosen.set(name, value);
  }
  const get = <T extends Scalar>(name: string): T => chosen.get(name) as T;
  const network: NetworkParameters = {
    suite: get<SuiteName>('suite'),
    geometry: { hops: get('geometry.hops'), userForwardPayloadLength: get('geometry.userForwardPayloadLength'), withSurb: get('geometry.withSurb') },
    mixing: { meanDelayMs: get('mixing.meanDelayMs'), maxDelayMs: get('mixing.maxDelayMs') },
    traffic: {
      clientSendRate: get('traffic.clientSendRate'),
      loopRate: get('traffic.loopRate'),
      dropRate: get('traffic.dropRate'),
      gatewayClientRate: get('traffic.gatewayClientRate'),
    },
    retrieval: get<RetrievalMode>('retrieval'),
    pir: { rowBytes: get('pir.rowBytes'), queriesPerPoll: get('pir.queriesPerPoll') },
    retentionMs: get('retentionMs'),
    reliability: { mixLoopRate: get('reliability.mixLoopRate'), floor: get('reliability.floor') },
  };
  const descriptors = majorityNodes(votes, threshold);
  try {
    const doc = makeConsensus({
      epoch: input.epoch,
      genesisMs: input.genesisMs,
      epochMs: input.epochMs,
      graceMs: get<number>('graceMs'),
      network,
      descriptors,
      scores: medianScores(votes, descriptors),
      measured: medianMeasured(votes, descriptors),
    });
    return { ok: true, doc, voters };
  } catch (error) {
    if (error instanceof PkiError) return { ok: false, problem: error.message.replace(/^pki: /, ''), voters };
    throw error;
  }
}
