import { ARRIVAL, DELIVERY, DEPARTURE, type EventLog } from './event-log.js';

/**
 * The adversary's probability distributions, computed over the event log. A global passive
 * observer sees every transmission's time and link and every node's pool size. At an honest node
 * every held packet is equally likely to be the next to leave (exact for exponential delays, which
 * are memoryless, and for shuffled batches), so the chance that departure d is the packet that
 * arrived as input i is (1/k_d) · Π (1 − 1/k_e) over the departures e between them (k: the pool
 * size just before). At a linked node (corrupt, or one whose order the adversary learnt) the
 * mapping is known. Masses below PRUNE are dropped; each distribution is renormalised.
 *
 * Sender side: a reverse sweep carries each measured delivery's mass back to client
 * transmissions. Receiver side: a forward sweep carries each measured client transmission's mass
 * to deliveries. Both are linear in the log's length times the targets alive at a node.
 */
const PRUNE = 1e-7;
const RESCALE = 1e-150;

/** A node's pool as the sweep sees it: masses per target, stored divided by `scale`. */
class PoolMass {
  readonly stored = new Map<number, number>();
  scale = 1;

  add(target: number, mass: number): void {
    this.stored.set(target, (this.stored.get(target) ?? 0) + mass / this.scale);
  }

  /** Multiplies every mass by `factor` (0 clears). */
  decay(factor: number): void {
    if (factor <= 0) {
      this.stored.clear();
      this.scale = 1;
      return;
    }
    this.scale *= factor;
    if (this.scale < RESCALE) {
      for (const [t, v] of this.stored) this.stored.set(t, v * this.scale);
      this.scale = 1;
    }
  }

  /** The current masses (those below PRUNE are forgotten), times `factor`. */
  snapshot(factor: number): Map<number, number> | undefined {
    if (this.stored.size === 0) return undefined;
    const out = new Map<number, number>();
    for (const [t, v] of this.stored) {
      const mass = v * this.scale;
      if (mass < PRUNE) this.stored.delete(t);
      else out.set(t, mass * factor);
    }
    return out.size === 0 ? undefined : out;
  }
}

function mergeInto(masses: Map<number, Map<number, number>>, tx: number, add: Map<number, number>): void {
  const existing = masses.get(tx);
  if (existing === undefined) {
    masses.set(tx, add);
    return;
  }
  for (const [t, v] of add) existing.set(t, (existing.get(t) ?? 0) + v);
}

/**
 * For each target delivery transmission (index = target number), the adversary's weights over the
 * clients that may have sent it.
 */
export function senderWeights(log: EventLog, nodeCount: number, linked: readonly boolean[], targets: readonly number[]): Map<number, number>[] {
  const result = targets.map(() => new Map<number, number>());
  const byTx = new Map<number, number>();
  targets.forEach((tx, i) => byTx.set(tx, i));
  const masses = new Map<number, Map<number, number>>();
  const pools = Array.from({ length: nodeCount }, () => new PoolMass());
  const settle = (tx: number, m: Map<number, number>): void => {
    const client = log.clientOf(tx);
    if (client < 0) return mergeInto(masses, tx, m);
    for (const [t, v] of m) result[t].set(client, (result[t].get(client) ?? 0) + v);
  };
  for (let i = log.size - 1; i >= 0; i--) {
    const kind = log.kind(i);
    const tx = log.tx(i);
    if (kind === DELIVERY) {
      const target = byTx.get(tx);
      if (target !== undefined) mergeInto(masses, tx, new Map([[target, 1]]));
    } else if (kind === DEPARTURE) {
      const node = log.node(i);
      const m = masses.get(tx);
      if (m !== undefined) masses.delete(tx);
      if (linked[node]) {
        if (m !== undefined) settle(log.input(i), m);
        continue;
      }
      const k = log.pool(i);
      const pool = pools[node];
      pool.decay(1 - 1 / k);
      if (m !== undefined) for (const [t, v] of m) pool.add(t, v / k);
    } else if (kind === ARRIVAL) {
      const node = log.node(i);
      if (linked[node]) continue;
      const m = pools[node].snapshot(1);
      if (m !== undefined) settle(tx, m);
    }
  }
  return result;
}

/**
 * For each target client transmission (index = target number), the adversary's weights over the
 * deliveries (by delivery transmission) it may have become. With `groups` (a group number per
 * target), the targets of one group are carried as one: each result is then a group's summed
 * weights (the expected number of its transmissions that became each delivery).
 */
export function deliveryWeights(log: EventLog, nodeCount: number, linked: readonly boolean[], targets: readonly number[], groups?: readonly number[]): Map<number, number>[] {
  const groupOf = (i: number): number => groups?.[i] ?? i;
  const count = targets.reduce((n, _, i) => Math.max(n, groupOf(i) + 1), 0);
  const result = Array.from({ length: count }, () => new Map<number, number>());
  const masses = new Map<number, Map<number, number>>();
  targets.forEach((tx, i) => masses.set(tx, new Map([[groupOf(i), 1]])));
  const pools = Array.from({ length: nodeCount }, () => new PoolMass());
  for (let i = 0; i < log.size; i++) {
    const kind = log.kind(i);
    const tx = log.tx(i);
    if (kind === DELIVERY) {
      const m = masses.get(tx);
      if (m === undefined) continue;
      masses.delete(tx);
      for (const [t, v] of m) result[t].set(tx, v);
    } else if (kind === ARRIVAL) {
      const node = log.node(i);
      const m = masses.get(tx);
      if (m === undefined || linked[node]) continue;
      masses.delete(tx);
      for (const [t, v] of m) pools[node].add(t, v);
    } else {
      const node = log.node(i);
      if (linked[node]) {
        const m = masses.get(log.input(i));
        if (m !== undefined) {
          masses.delete(log.input(i));
          masses.set(tx, m);
        }
        continue;
      }
      const k = log.pool(i);
      const pool = pools[node];
      const out = pool.snapshot(1 / k);
      if (out !== undefined) masses.set(tx, out);
      pool.decay(1 - 1 / k);
    }
  }
  return result;
}
