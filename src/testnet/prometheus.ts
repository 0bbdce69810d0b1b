/**
 * A bounded reader of the Prometheus text format as Umbra's nodes print it (src/node/metrics.ts):
 * `name{label="value",…} number` lines; comments and anything else are skipped. For the network
 * view, which reads every node's /metrics.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export const MAX_METRICS_BYTES = 1 << 20;
const MAX_SAMPLES = 20_000;
const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.slice(0, MAX_METRICS_BYTES).split('\n')) {
    if (samples.length >= MAX_SAMPLES) break;
    const match = LINE.exec(line.trim());
    if (match === null) continue;
    const value = match[3] === '+Inf' ? Infinity : Number(match[3]);
    if (Number.isNaN(value)) continue;
    const labels = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map((label) => [label[1], label[2].replace(/\\(.)/g, '$1')]));
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** The sum of every sample named `name` (all label sets), 0 when there is none. */
export function total(samples: readonly Sample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((sum, s) => sum + s.value, 0);
}

/** A counter split by one label: { labelValue: value }. */
export function byLabel(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = Object.hasOwn(s.labels, label) ? s.labels[label] : '';
    out.set(key, (out.get(key) ?? 0) + s.value);
  }
  return Object.fromEntries(out);
}

/** A histogram's cumulative buckets as [upper bound, count] pairs, +Inf last. */
export function histogram(samples: readonly Sample[], name: string): { buckets: [number, number][]; count: number; sum: number } {
  const buckets = samples
    .filter((s) => s.name === `${name}_bucket`)
    .map((s): [number, number] => [s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value])
    .filter(([le]) => !Number.isNaN(le))
    .sort((a, b) => a[0] - b[0]);
  return { buckets, count: total(samples, `${name}_count`), sum: total(samples, `${name}_sum`) };
}
