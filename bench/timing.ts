/**
 * Timing helpers for benchmarks. Each figure is the median over several rounds, and every ratio
 * is taken between a measurement and its floor measured in the same round, so machine noise that
 * slows both cancels out.
 */
export function timePerOp(iterations: number, run: () => void): number {
  for (let i = 0; i < Math.min(50, iterations); i++) run(); // warm up the JIT and caches
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run();
  return Number(process.hrtime.bigint() - start) / iterations; // ns per operation
}

/**
 * Like timePerOp, but in CPU time of this process (all its threads: the garbage collector's too)
 * rather than wall time: time when the process was not running, because other work on a shared
 * machine was, is not counted.
 */
export function cpuTimePerOp(iterations: number, run: () => void): number {
  for (let i = 0; i < Math.min(50, iterations); i++) run();
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) run();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / iterations; // ns per operation
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
