import { DEFAULT_GEOMETRY, MAX_HOPS_LIMIT, type GeometryOptions } from '../sphinx/geometry.js';
import type { SuiteName } from '../sphinx/suite.js';
import { LAYER_COUNT } from './descriptor.js';

/**
 * The network parameters a consensus document carries (docs/pki.md, "Network parameters"):
 * everything clients and nodes must agree on besides the nodes themselves.
 */
export type RetrievalMode = 'bucket' | 'download' | 'pir';
export const RETRIEVAL_MODES: readonly RetrievalMode[] = ['bucket', 'download', 'pir'];
export const PKI_SUITE_NAMES: readonly SuiteName[] = ['umbra-v1', 'katzenpost-x25519'];

export interface MixingParameters {
  /** Mean of the exponential per-hop delay the sender draws (Loopix), in milliseconds. */
  readonly meanDelayMs: number;
  /** The largest per-hop delay a mix accepts (and a sender may draw), in milliseconds. */
  readonly maxDelayMs: number;
}

export interface TrafficParameters {
  /** λ of the client's Poisson send stream (real or drop-cover packets), per second. */
  readonly clientSendRate: number;
  /** λ of the client's independent loop stream, per second. */
  readonly loopRate: number;
  /** λ of the client's independent drop stream, per second. */
  readonly dropRate: number;
  /** Packets per second a gateway accepts from one client before it drops the excess. */
  readonly gatewayClientRate: number;
}

/**
 * PIR retrieval's fixed sizes (docs/pir.md, "Fixed sizes"): every row of every snapshot, and so
 * every answer, is `rowBytes` long whatever is stored, and every poll sends `queriesPerPoll`
 * queries to each server whatever mail there is.
 */
export interface PirParameters {
  /** Bytes of one PIR row (page): the answer size. */
  readonly rowBytes: number;
  /** PIR queries per poll and server: first pages, then backlog pages, the rest dummies. */
  readonly queriesPerPoll: number;
}

/**
 * Measured reliability (docs/network.md, "Reliability"): mixes send their own loops at
 * `mixLoopRate`, and path choice leaves out a node whose consensus score is below `floor`.
 */
export interface ReliabilityParameters {
  /** λ of each mix's own loop stream, per second (0: mixes send no loops). */
  readonly mixLoopRate: number;
  /** Per-mille (0..1000): a node whose score is below it is left out of paths. */
  readonly floor: number;
}

/** Reliability scores and the floor are per-mille integers: 1000 is a node that loses nothing. */
export const RELIABILITY_SCALE = 1000;

export interface NetworkParameters {
  readonly suite: SuiteName;
  readonly geometry: GeometryOptions;
  readonly mixing: MixingParameters;
  readonly traffic: TrafficParameters;
  readonly retrieval: RetrievalMode;
  readonly pir: PirParameters;
  /**
   * How long mailbox servers keep a stored item, in milliseconds (docs/pki.md, "Network
   * parameters"): senders resend over this window, and a mail is reported failed only after it.
   */
  readonly retentionMs: number;
  readonly reliability: ReliabilityParameters;
}

/** Mail's default retention: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** The longest retention a consensus may carry: 366 days. */
export const MAX_RETENTION_MS = 366 * 24 * 3600 * 1000;

export const DEFAULT_NETWORK_PARAMETERS: NetworkParameters = Object.freeze({
  suite: 'umbra-v1',
  geometry: DEFAULT_GEOMETRY,
  mixing: Object.freeze({ meanDelayMs: 500, maxDelayMs: 10_000 }),
  traffic: Object.freeze({ clientSendRate: 1, loopRate: 0.2, dropRate: 0.2, gatewayClientRate: 10 }),
  retrieval: 'pir',
  // 32 queries: half read first pages, 8 per polled epoch, which covers every address of a user
  // with up to 2 sessions at every poll (2 address epochs × (card + own + sessions)); more sessions
  // are read in turn (docs/pir.md, "The client").
  pir: Object.freeze({ rowBytes: 16_384, queriesPerPoll: 32 }),
  retentionMs: DEFAULT_RETENTION_MS,
  reliability: Object.freeze({ mixLoopRate: 0.2, floor: 800 }),
});

/** Bounds of the PIR parameters a consensus may carry (what fits the row format and a response). */
export const PIR_ROW_BYTES_MIN = 4096;
export const PIR_ROW_BYTES_MAX = 4 * 1024 * 1024;
export const MAX_QUERIES_PER_POLL = 1024;

/** The largest rate any traffic parameter may have, per second. */
export const MAX_RATE = 1_000_000;
/** A delay fits the Sphinx node-delay command (uint32 milliseconds). */
export const MAX_DELAY_MS = 0xffffffff;
export const MAX_USER_PAYLOAD = 1 << 20;

function isRate(value: unknown, positive: boolean): boolean {
  return typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0) && (positive ? value > 0 : value >= 0) && value <= MAX_RATE;
}

/** Every problem with a set of network parameters (empty when there is none). */
export function networkParametersProblems(params: NetworkParameters): string[] {
  const problems: string[] = [];
  if (typeof params !== 'object' || params === null) return ['the network parameters are not an object'];
  if (!PKI_SUITE_NAMES.includes(params.suite)) problems.push(`suite must be one of ${PKI_SUITE_NAMES.join(', ')}`);
  const g = params.geometry;
  if (typeof g !== 'object' || g === null) {
    problems.push('geometry is missing');
  } else {
    if (!Number.isInteger(g.hops) || g.hops < LAYER_COUNT || g.hops > MAX_HOPS_LIMIT) {
      problems.push(`geometry.hops must be an integer in ${LAYER_COUNT}..${MAX_HOPS_LIMIT} (a path has ${LAYER_COUNT} hops)`);
    }
    if (!Number.isInteger(g.userForwardPayloadLength) || g.userForwardPayloadLength < 1 || g.userForwardPayloadLength > MAX_USER_PAYLOAD) {
      problems.push(`geometry.userForwardPayloadLength must be an integer in 1..${MAX_USER_PAYLOAD}`);
    }
    if (typeof g.withSurb !== 'boolean') problems.push('geometry.withSurb must be a boolean');
  }
  const m = params.mixing;
  if (typeof m !== 'object' || m === null) {
    problems.push('mixing is missing');
  } else {
    const meanOk = Number.isInteger(m.meanDelayMs) && m.meanDelayMs >= 0 && m.meanDelayMs <= MAX_DELAY_MS;
    const maxOk = Number.isInteger(m.maxDelayMs) && m.maxDelayMs >= 0 && m.maxDelayMs <= MAX_DELAY_MS;
    if (!meanOk) problems.push(`mixing.meanDelayMs must be an integer in 0..${MAX_DELAY_MS}`);
    if (!maxOk) problems.push(`mixing.maxDelayMs must be an integer in 0..${MAX_DELAY_MS}`);
    if (meanOk && maxOk && m.maxDelayMs < m.meanDelayMs) problems.push('mixing.maxDelayMs must not be below mixing.meanDelayMs');
  }
  const t = params.traffic;
  if (typeof t !== 'object' || t === null) {
    problems.push('traffic is missing');
  } else {
    if (!isRate(t.clientSendRate, true)) problems.push(`traffic.clientSendRate must be a number in (0, ${MAX_RATE}]`);
    if (!isRate(t.loopRate, false)) problems.push(`traffic.loopRate must be a number in [0, ${MAX_RATE}]`);
    if (!isRate(t.dropRate, false)) problems.push(`traffic.dropRate must be a number in [0, ${MAX_RATE}]`);
    if (!isRate(t.gatewayClientRate, true)) problems.push(`traffic.gatewayClientRate must be a number in (0, ${MAX_RATE}]`);
  }
  if (!RETRIEVAL_MODES.includes(params.retrieval)) problems.push(`retrieval must be one of ${RETRIEVAL_MODES.join(', ')}`);
  const p = params.pir;
  if (typeof p !== 'object' || p === null) {
    problems.push('pir is missing');
  } else {
    if (!Number.isInteger(p.rowBytes) || p.rowBytes < PIR_ROW_BYTES_MIN || p.rowBytes > PIR_ROW_BYTES_MAX || p.rowBytes % 64 !== 0) {
      problems.push(`pir.rowBytes must be a multiple of 64 in ${PIR_ROW_BYTES_MIN}..${PIR_ROW_BYTES_MAX}`);
    }
    if (!Number.isInteger(p.queriesPerPoll) || p.queriesPerPoll < 1 || p.queriesPerPoll > MAX_QUERIES_PER_POLL) {
      problems.push(`pir.queriesPerPoll must be an integer in 1..${MAX_QUERIES_PER_POLL}`);
    }
  }
  if (!Number.isSafeInteger(params.retentionMs) || params.retentionMs < 1000 || params.retentionMs > MAX_RETENTION_MS) {
    problems.push(`retentionMs must be an integer in 1000..${MAX_RETENTION_MS} (366 days)`);
  }
  const r = params.reliability;
  if (typeof r !== 'object' || r === null) {
    problems.push('reliability is missing');
  } else {
    if (!isRate(r.mixLoopRate, false)) problems.push(`reliability.mixLoopRate must be a number in [0, ${MAX_RATE}]`);
    if (!Number.isInteger(r.floor) || r.floor < 0 || r.floor > RELIABILITY_SCALE) problems.push(`reliability.floor must be an integer in 0..${RELIABILITY_SCALE}`);
  }
  return problems;
}

/** A frozen copy holding only the known fields (so extra properties never reach an encoding). */
export function copyNetworkParameters(params: NetworkParameters): NetworkParameters {
  const { geometry: g, mixing: m, traffic: t } = params;
  return Object.freeze({
    suite: params.suite,
    geometry: Object.freeze({ hops: g.hops, userForwardPayloadLength: g.userForwardPayloadLength, withSurb: g.withSurb }),
    mixing: Object.freeze({ meanDelayMs: m.meanDelayMs, maxDelayMs: m.maxDelayMs }),
    traffic: Object.freeze({
      clientSendRate: t.clientSendRate,
      loopRate: t.loopRate,
      dropRate: t.dropRate,
      gatewayClientRate: t.gatewayClientRate,
    }),
    retrieval: params.retrieval,
    pir: Object.freeze({ rowBytes: params.pir.rowBytes, queriesPerPoll: params.pir.queriesPerPoll }),
    retentionMs: params.retentionMs,
    reliability: Object.freeze({ mixLoopRate: params.reliability.mixLoopRate, floor: params.reliability.floor }),
  });
}
