import { StoreError } from '../../store/errors.js';
import type { NodeMetrics } from '../runtime/metrics.js';
import type { RetrievalErrorName } from '../../wire/index.js';
import type { NodeLog } from '../log.js';

/**
 * How the provider reports a mailbox store failure: counted per operation (deliver, fetch,
 * retention) and kind, logged once until it changes or the operation works again, and turned into
 * the error a client is answered with. The node keeps running; what was stored stays stored.
 */
/** What the PIR parts are given to report store failures with (StoreFailures, bound to 'fetch'). */
export interface StoreFailureHooks {
  /** Counts and logs a store failure; returns the error to answer with. */
  readonly storeFailed: (error: unknown) => RetrievalErrorName;
  readonly storeRecovered: () => void;
}

export class StoreFailures {
  private readonly lastProblem = new Map<string, string>();

  constructor(
    private readonly metrics: NodeMetrics,
    private readonly log: NodeLog,
  ) {}

  /** Counts and logs a failure of `operation`; returns the error to answer a client with. */
  failed(operation: string, error: unknown): RetrievalErrorName {
    const { label, reply } = storeErrorName(error);
    this.metrics.count('node_store_errors_total', { operation, kind: label });
    // Log a failure once per operation until it changes (a full disk repeats on every packet).
    if (this.lastProblem.get(operation) !== label) {
      this.lastProblem.set(operation, label);
      this.log(`provider: mailbox store ${operation} failed (${label})${label === 'internal' && error instanceof Error ? `: ${error.message}` : ''}`, 'error');
    }
    return reply;
  }

  /** Notes that `operation` worked (logged once after a failure). */
  recovered(operation: string): void {
    if (this.lastProblem.delete(operation)) this.log(`provider: mailbox store ${operation} works again`);
  }
}

function storeErrorName(error: unknown): { label: string; reply: RetrievalErrorName } {
  if (error instanceof StoreError) {
    if (error.kind === 'full') return { label: 'full', reply: 'store-full' };
    if (error.kind === 'io') return { label: 'io', reply: 'store-io' };
    if (error.kind === 'closed') return { label: 'closed', reply: 'unavailable' };
    return { label: error.kind, reply: 'internal' };
  }
  return { label: 'internal', reply: 'internal' };
}
