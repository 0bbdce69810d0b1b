import { RETRIEVAL_MODES, type NetworkParameters, type RetrievalMode } from '../pki/params.js';

/**
 * The least privacy a client accepts from a consensus (docs/client.md, "Minimums"). A consensus is
 * signed by the authorities, but a lying or compromised authority could still switch cover traffic
 * or mixing off, or move clients to a retrieval mode that names their mailbox; the client refuses
 * such a document instead of following it.
 */
export interface ConsensusMinimums {
  /** Least λ of the Poisson send stream, per second. */
  readonly clientSendRate: number;
  /** Least λ of the loop stream, per second. */
  readonly loopRate: number;
  /** Least λ of the drop stream, per second. */
  readonly dropRate: number;
  /** Least mean per-hop mixing delay, in milliseconds. */
  readonly meanDelayMs: number;
  /** The retrieval modes accepted. */
  readonly retrieval: readonly RetrievalMode[];
  /**
   * Least PIR queries per poll and server: at least one per (epoch, address) pair a poll reads (4),
   * so no pair's first page waits for a later poll, plus room for backlog pages.
   */
  readonly pirQueriesPerPoll?: number;
  /** Least PIR row size in bytes: a row (page) must hold whole stored items. */
  readonly pirRowBytes?: number;
  /** Largest PIR row size in bytes the client downloads per query. */
  readonly pirMaxRowBytes?: number;
}

/** The PIR minimums a client holds when its settings name none. */
export const DEFAULT_PIR_MINIMUMS = Object.freeze({ pirQueriesPerPoll: 8, pirRowBytes: 8192, pirMaxRowBytes: 1024 * 1024 });

export const DEFAULT_CONSENSUS_MINIMUMS: ConsensusMinimums = Object.freeze({
  clientSendRate: 0.5,
  loopRate: 0.1,
  dropRate: 0.1,
  meanDelayMs: 200,
  retrieval: Object.freeze(['pir'] as RetrievalMode[]),
});

/** The largest rate (per second) or delay (ms) a minimum may name. */
export const MAX_MINIMUM_RATE = 1_000_000;
export const MAX_MINIMUM_DELAY_MS = 0xffffffff;

function inRange(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max;
}

/** Every problem with a set of minimums (empty when there is none). */
export function minimumsProblems(minimums: ConsensusMinimums): string[] {
  if (typeof minimums !== 'object' || minimums === null) return ['minimums must be an object'];
  const problems: string[] = [];
  for (const name of ['clientSendRate', 'loopRate', 'dropRate'] as const) {
    if (!inRange(minimums[name], MAX_MINIMUM_RATE)) problems.push(`minimums.${name} must be a number in [0, ${MAX_MINIMUM_RATE}]`);
  }
  for (const name of ['pirQueriesPerPoll', 'pirRowBytes', 'pirMaxRowBytes'] as const) {
    const value = minimums[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= MAX_MINIMUM_DELAY_MS)) problems.push(`minimums.${name} must be a whole number`);
  }
  if (!inRange(minimums.meanDelayMs, MAX_MINIMUM_DELAY_MS)) problems.push(`minimums.meanDelayMs must be a number in [0, ${MAX_MINIMUM_DELAY_MS}]`);
  const modes = minimums.retrieval;
  if (!Array.isArray(modes) || modes.length === 0 || !modes.every((mode) => RETRIEVAL_MODES.includes(mode)) || new Set(modes).size !== modes.length) {
    problems.push(`minimums.retrieval must list 1..3 distinct modes of ${RETRIEVAL_MODES.join(', ')}`);
  }
  return problems;
}

/** What the client started with, and what the user allowed to change after. */
export interface RetrievalPolicy {
  /** The mode of the consensus the client started with (undefined at the start itself). */
  readonly startMode?: RetrievalMode;
  /** The user consented to follow a consensus into another retrieval mode. */
  readonly allowModeChange: boolean;
}

/**
 * Why the client must not use a consensus with these parameters (empty when it may): every
 * parameter below its minimum, a retrieval mode not accepted, or a mode other than the one the
 * client started with (unless the user allowed that).
 */
export function consensusBelowMinimums(params: NetworkParameters, minimums: ConsensusMinimums, policy: RetrievalPolicy): string[] {
  const problems: string[] = [];
  const { traffic, mixing } = params;
  const below = (what: string, value: number, least: number, unit: string): void => {
    if (!(value >= least)) problems.push(`${what} ${value}${unit} is below the minimum ${least}${unit}`);
  };
  below('traffic.clientSendRate', traffic.clientSendRate, minimums.clientSendRate, '/s');
  below('traffic.loopRate', traffic.loopRate, minimums.loopRate, '/s');
  below('traffic.dropRate', traffic.dropRate, minimums.dropRate, '/s');
  below('mixing.meanDelayMs', mixing.meanDelayMs, minimums.meanDelayMs, ' ms');
  if (params.retrieval === 'pir') {
    const queries = minimums.pirQueriesPerPoll ?? DEFAULT_PIR_MINIMUMS.pirQueriesPerPoll;
    const rowBytes = minimums.pirRowBytes ?? DEFAULT_PIR_MINIMUMS.pirRowBytes;
    const maxRowBytes = minimums.pirMaxRowBytes ?? DEFAULT_PIR_MINIMUMS.pirMaxRowBytes;
    below('pir.queriesPerPoll', params.pir.queriesPerPoll, queries, '');
    below('pir.rowBytes', params.pir.rowBytes, rowBytes, ' bytes');
    if (!(params.pir.rowBytes <= maxRowBytes)) problems.push(`pir.rowBytes ${params.pir.rowBytes} bytes is above the maximum ${maxRowBytes} bytes`);
  }
  if (!minimums.retrieval.includes(params.retrieval)) {
    problems.push(`retrieval '${params.retrieval}' is not among the accepted modes (${minimums.retrieval.join(', ')})`);
  }
  if (policy.startMode !== undefined && params.retrieval !== policy.startMode && !policy.allowModeChange) {
    problems.push(`retrieval '${params.retrieval}' differs from '${policy.startMode}', the mode this client started with`);
  }
  return problems;
}
