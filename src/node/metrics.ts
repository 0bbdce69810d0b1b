/**
 * Counters, gauges and histograms in the Prometheus text format, for every node's /metrics. No
 * label ever carries an address, a key or anything from a packet: only fixed reasons and names.
 */
type Labels = Readonly<Record<string, string>>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`).join(',')}}`;
}

interface Family {
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly values: Map<string, number>;
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly histograms = new Map<string, { buckets: number[]; counts: number[]; sum: number; count: number; help: string }>();
  private readonly gauges = new Map<string, { help: string; read: () => number }>();

  constructor(private readonly prefix = 'umbra') {}

  /** Adds `by` to a counter (created on first use). */
  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    const family = this.family(name, help, 'counter');
    const key = labelText(labels);
    family.values.set(key, (family.values.get(key) ?? 0) + by);
  }

  /** The current value of a counter, for tests and status pages. */
  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(labelText(labels)) ?? 0;
  }

  /** A gauge read when /metrics is scraped (queue depth, stored messages …). */
  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  /** Records one observation in a histogram with fixed upper bounds (seconds, bytes …). */
  observe(name: string, help: string, buckets: readonly number[], value: number): void {
    let h = this.histograms.get(name);
    if (h === undefined) {
      h = { buckets: [...buckets], counts: new Array(buckets.length).fill(0), sum: 0, count: 0, help };
      this.histograms.set(name, h);
    }
    for (let i = 0; i < h.buckets.length; i++) if (value <= h.buckets[i]) h.counts[i]++;
    h.sum += value;
    h.count++;
  }

  toPrometheus(): string {
    const lines: string[] = [];
    const full = (name: string): string => `${this.prefix}_${name}`;
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${full(name)} ${family.help}`, `# TYPE ${full(name)} ${family.type}`);
      for (const [labels, value] of family.values) lines.push(`${full(name)}${labels} ${value}`);
    }
    for (const [name, gauge] of this.gauges) {
      lines.push(`# HELP ${full(name)} ${gauge.help}`, `# TYPE ${full(name)} gauge`, `${full(name)} ${gauge.read()}`);
    }
    for (const [name, h] of this.histograms) {
      lines.push(`# HELP ${full(name)} ${h.help}`, `# TYPE ${full(name)} histogram`);
      h.buckets.forEach((bound, i) => lines.push(`${full(name)}_bucket{le="${bound}"} ${h.counts[i]}`));
      lines.push(`${full(name)}_bucket{le="+Inf"} ${h.count}`, `${full(name)}_sum ${h.sum}`, `${full(name)}_count ${h.count}`);
    }
    return lines.join('\n') + '\n';
  }

  private family(name: string, help: string, type: Family['type']): Family {
    let family = this.families.get(name);
    if (family === undefined) {
      family = { help, type, values: new Map() };
      this.families.set(name, family);
    }
    return family;
  }
}
