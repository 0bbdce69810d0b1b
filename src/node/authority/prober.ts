import { setMaxListeners } from 'node:events';
import { hexOf } from '../../codec/bytes.js';
import type { Clock } from '../../net/clock.js';
import type { ProbeOutcome } from '../../net/link-probe.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { uniformUnit, type NodeDescriptor } from '../../pki/index.js';
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
  /** Draws the order of throughput probes. */
  readonly random: RandomSource;
}

/** Probes in flight at once. */
const PARALLEL_PROBES = 16;

/**
 * The authority's own liveness probes (docs/network.md, "Authority probes"): every `intervalMs`,
 * one probe of each node of the current epoch, at most PARALLEL_PROBES at a time; when they are
 * over their results count for the epoch the round started in (ProbeBook). Then each node that
 * answered and is not yet measured in the epoch gets a throughput probe ("Measured bandwidth"),
 * one at a time in random order (so that several authorities rarely measure one node at once).
 * A round still running when the next is due delays it; a round cut short by `stop` is not counted.
 */
export class AuthorityProber {
  private timer: unknown;
  private running: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(
    private readonly intervalMs: number,
    private readonly deps: ProberDeps,
  ) {
    // Each probe in flight listens on the signal (and stops listening when it settles): up to
    // PARALLEL_PROBES at once, more than Node's default of 10 before it warns of a leak.
    setMaxListeners(PARALLEL_PROBES + 1, this.abort.signal);
  }

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
    const answered = await this.liveness(nodes);
    if (this.abort.signal.aborted || answered.size === 0) return;
    this.record(epoch, answered, new Map());
    const unmeasured = nodes.filter((node) => answered.get(hexOf(node.nodeId)) === true && !deps.book.measuredIn(epoch, hexOf(node.nodeId)));
    const measured = await this.throughput(shuffled(unmeasured, deps.random));
    if (!this.abort.signal.aborted && measured.size > 0) this.record(epoch, new Map(), measured);
  }

  /** One liveness probe of each node, PARALLEL_PROBES at a time: node ID hex → answered. */
  private async liveness(nodes: readonly NodeDescriptor[]): Promise<Map<string, boolean>> {
    const answered = new Map<string, boolean>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < nodes.length && !this.abort.signal.aborted) {
        const node = nodes[next++];
        const { outcome } = await this.deps.probe(node, this.abort.signal, false);
        answered.set(hexOf(node.nodeId), outcome === 'answered');
        this.deps.metrics.add('umbra_authority_probes_total', 1, { outcome });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PROBES, nodes.length) }, worker));
    return answered;
  }

  /**
   * Throughput probes one at a time, so that they do not share this authority's own link and each
   * measures the node alone: node ID hex → packets per second, for those measured.
   */
  private async throughput(nodes: readonly NodeDescriptor[]): Promise<Map<string, number>> {
    const measured = new Map<string, number>();
    for (const node of nodes) {
      if (this.abort.signal.aborted) break;
      const { packetsPerSec } = await this.deps.probe(node, this.abort.signal, true);
      const ok = packetsPerSec !== undefined && packetsPerSec >= 1;
      if (ok) measured.set(hexOf(node.nodeId), packetsPerSec);
      this.deps.metrics.add('umbra_authority_throughput_probes_total', 1, { outcome: ok ? 'measured' : 'failed' });
    }
    return measured;
  }

  private record(epoch: number, answered: ReadonlyMap<string, boolean>, measured: ReadonlyMap<string, number>): void {
    try {
      this.deps.book.record(epoch, answered, measured);
    } catch (error) {
      this.deps.log(`authority: could not store the probe counts of epoch ${epoch}: ${error instanceof Error ? error.message : String(error)}`, 'error');
    }
  }
}

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[], random: RandomSource): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(uniformUnit(random) * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}
