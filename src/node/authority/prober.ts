import { hexOf } from '../../codec/bytes.js';
import type { Clock } from '../../net/clock.js';
import type { ProbeOutcome } from '../../net/link-probe.js';
import type { NodeDescriptor } from '../../pki/index.js';
import type { NodeLog } from '../log.js';
import type { AuthorityMetrics } from './metrics.js';
import type { ProbeBook } from './probes.js';

/** What one probe found; `packetsPerSec` when a throughput probe was asked for and timed. */
export interface NodeProbe {
  readonly outcome: ProbeOutcome;
  readonly packetsPerSec?: number;
}

/**
 * Probes one node, and with `measure` its throughput too; never rejects. The default (server.ts)
 * is `probeNode` over its link address.
 */
export type ProbeNode = (node: NodeDescriptor, signal: AbortSignal, measure: boolean) => Promise<NodeProbe>;

export interface ProberDeps {
  readonly clock: Clock;
  readonly book: ProbeBook;
  readonly metrics: AuthorityMetrics;
  readonly log: NodeLog;
  readonly probe: ProbeNode;
  /** The current epoch at `now`. */
  readonly epochAt: (now: number) => number;
  /** The nodes to probe during `epoch`: those of its document, else the descriptors held for it. */
  readonly nodesOf: (epoch: number) => readonly NodeDescriptor[];
}

/** Probes in flight at once. */
const PARALLEL_PROBES = 16;

/**
 * The authority's own liveness probes (docs/network.md, "Authority probes"): every `intervalMs`,
 * one probe of each node of the current epoch, at most PARALLEL_PROBES at a time; when the round
 * is over its results count for the epoch it started in (ProbeBook). A node not yet measured in
 * the epoch gets a throughput probe ("Measured bandwidth"), until one is measured. A round still
 * running when the next is due delays it; a round cut short by `stop` is not counted.
 */
export class AuthorityProber {
  private timer: unknown;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly intervalMs: number,
    private readonly deps: ProberDeps,
  ) {}

  start(): void {
    if (this.intervalMs > 0 && !this.abort.signal.aborted) this.arm();
  }

  /** Stops the timer and cuts the round in flight short; resolves once it has ended. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer !== undefined) this.deps.clock.clearTimer(this.timer);
    await this.running;
  }

  /** One round now (the timer calls it); resolves when its results are recorded. */
  round(): Promise<void> {
    this.running ??= this.probeAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private arm(): void {
    this.timer = this.deps.clock.setTimer(() => {
      void this.round().then(() => {
        if (!this.abort.signal.aborted) this.arm();
      });
    }, this.intervalMs);
  }

  private async probeAll(): Promise<void> {
    const { deps } = this;
    const epoch = deps.epochAt(deps.clock.now());
    if (epoch < 0) return;
    const nodes = deps.nodesOf(epoch);
    const answered = new Map<string, boolean>();
    const measured = new Map<string, number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < nodes.length && !this.abort.signal.aborted) {
        const node = nodes[next++];
        const key = hexOf(node.nodeId);
        const measure = !deps.book.measuredIn(epoch, key);
        const { outcome, packetsPerSec } = await deps.probe(node, this.abort.signal, measure);
        answered.set(key, outcome === 'answered');
        deps.metrics.add('umbra_authority_probes_total', 1, { outcome });
        if (!measure) continue;
        if (packetsPerSec !== undefined && packetsPerSec >= 1) measured.set(key, packetsPerSec);
        deps.metrics.add('umbra_authority_throughput_probes_total', 1, { outcome: measured.has(key) ? 'measured' : 'failed' });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PROBES, nodes.length) }, worker));
    if (this.abort.signal.aborted || answered.size === 0) return;
    try {
      deps.book.record(epoch, answered, measured);
    } catch (error) {
      deps.log(`authority: could not store the probe counts of epoch ${epoch}: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }
}
