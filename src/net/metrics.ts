/**
 * Plain counters for the network layer (links and WebSockets), by name and reason
 * ("frames_rejected" / "oversized"). Reasons are fixed words chosen by the code, never an address, a
 * key or anything a peer sent. The node's /metrics page can print them with `toPrometheus` or copy
 * them into its own registry via `entries`.
 */
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export interface CounterEntry {
  readonly name: string;
  /** '' when the counter has no reason. */
  readonly reason: string;
  readonly value: number;
}

/** Told of every increment (a node logs its refusals from here). */
export type CounterObserver = (name: string, reason: string, by: number) => void;

export class NetMetrics {
  private readonly counters = new Map<string, Map<string, number>>();

  constructor(private readonly observer?: CounterObserver) {}

  /** Adds `by` (default 1) to the counter `name`, split by `reason` when given. */
  inc(name: string, reason = '', by = 1): void {
    if (!NAME.test(name)) throw new RangeError(`bad metric name: ${name}`);
    let byReason = this.counters.get(name);
    if (byReason === undefined) {
      byReason = new Map();
      this.counters.set(name, byReason);
    }
    byReason.set(reason, (byReason.get(reason) ?? 0) + by);
    this.observer?.(name, reason, by);
  }

  /** One counter's value; without `reason`, the sum over all its reasons. */
  get(name: string, reason?: string): number {
    const byReason = this.counters.get(name);
    if (byReason === undefined) return 0;
    if (reason !== undefined) return byReason.get(reason) ?? 0;
    let total = 0;
    for (const value of byReason.values()) total += value;
    return total;
  }

  /** Every counter, in first-use order. */
  *entries(): IterableIterator<CounterEntry> {
    for (const [name, byReason] of this.counters) {
      for (const [reason, value] of byReason) yield { name, reason, value };
    }
  }

  /** Plain object for logs and tests: { "name": n, "name{reason}": n }. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { name, reason, value } of this.entries()) out[reason === '' ? name : `${name}{${reason}}`] = value;
    return out;
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The counters in the Prometheus text exposition format: `<prefix>_<name>_total{reason="…"} n`,
 * one `# TYPE … counter` line per name.
 */
export function toPrometheus(metrics: NetMetrics, prefix = 'umbra_link'): string {
  if (!NAME.test(prefix)) throw new RangeError(`bad metric prefix: ${prefix}`);
  const lines: string[] = [];
  let current = '';
  for (const { name, reason, value } of metrics.entries()) {
    const full = `${prefix}_${name}_total`;
    if (full !== current) {
      lines.push(`# TYPE ${full} counter`);
      current = full;
    }
    lines.push(reason === '' ? `${full} ${value}` : `${full}{reason="${escapeLabel(reason)}"} ${value}`);
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}
