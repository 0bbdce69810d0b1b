import { ARRIVAL, DELIVERY, DEPARTURE, type EventLog } from './event-log.js';

/**
 * The adversary's probability distributions, computed over the event log. A global passive
 * observer sees every transmission's time and link and every node's pool size. At an honest node
 * every held packet is equally likely to be the next to leave (exact for exponential delays, which
 * are memoryless, and for shuffled batches), so the chance that departure d is the packet that
 * arrived as input i is (1/k_d) · Π (1 − 1/k_e) over the departures e between them (k: the pool
 * size just before). At a linked node (corrupt, or one whose order the adversary learnt) the
 * mapping is known. Each distribution is renormalised by its user.
 *
 * One target at a time, on dense arrays: a number per node (its pool's mass) and one per
 * transmission (mass in flight). Sender side: a reverse sweep from the target's delivery carries
 * its mass back to client transmissions. Receiver side: a forward sweep from the target's first
 * arrival carries it to deliveries. A pool stops handing out mass once what it could still hand
 * out (its mass per candidate times its size) is below TAIL, and a sweep stops once no mass is in
 * flight and every pool is there, so each costs the stretch of log the target's mass lives in.
 * The threshold is on a pool's total, never on one candidate's mass: at 10^5 users each candidate
 * carries ~10^−6, and an earlier pruning of candidate masses below 10^−7 measured 0 bits for every
 * network of ≥ 2·10^4 users.
 */
const TAIL = 1e-6;
/** Events between checks of the stopping rule. */
const CHECK_EVERY = 1024;

/** The event index of each target transmission's first event of `kind` (−1 when absent). */
function eventIndexes(log: EventLog, kind: number, targets: readonly number[]): number[] {
  const wanted = new Map<number, number[]>();
  targets.forEach((tx, i) => wanted.set(tx, [...(wanted.get(tx) ?? []), i]));
  const found = targets.map(() => -1);
  let left = wanted.size;
  for (let i = 0; i < log.size && left > 0; i++) {
    if (log.kind(i) !== kind) continue;
    const which = wanted.get(log.tx(i));
    if (which === undefined) continue;
    for (const t of which) found[t] = i;
    wanted.delete(log.tx(i));
    left--;
  }
  return found;
}

/** True when every pool's `mass[n] · size[n]` is below TAIL. */
function drained(mass: Float64Array, size: Float64Array): boolean {
  for (let n = 0; n < mass.length; n++) if (mass[n] * size[n] >= TAIL) return false;
  return true;
}

/**
 * For each target delivery transmission (index = target number), the adversary's weights over the
 * clients that may have sent it.
 */
export function senderWeights(log: EventLog, nodeCount: number, linked: readonly boolean[], targets: readonly number[]): Map<number, number>[] {
  const starts = eventIndexes(log, DELIVERY, targets);
  const inFlight = new Float64Array(log.transmissions);
  const pools = new Float64Array(nodeCount);
  const sizes = new Float64Array(nodeCount);
  return starts.map((start) => {
    const result = new Map<number, number>();
    if (start < 0) return result;
    pools.fill(0);
    sizes.fill(0);
    const toClient = (tx: number, mass: number): boolean => {
      const client = log.clientOf(tx);
      if (client < 0) return false;
      result.set(client, (result.get(client) ?? 0) + mass);
      return true;
    };
    inFlight[log.tx(start)] = 1;
    let flying = 1;
    for (let i = start - 1; i >= 0; i--) {
      const kind = log.kind(i);
      if (kind === DEPARTURE) {
        const tx = log.tx(i);
        const m = inFlight[tx];
        if (m > 0) {
          inFlight[tx] = 0;
          flying--;
        }
        const node = log.node(i);
        if (linked[node]) {
          const input = log.input(i);
          if (m > 0 && input >= 0 && !toClient(input, m)) {
            if (inFlight[input] === 0) flying++;
            inFlight[input] += m;
          }
        } else {
          const k = log.pool(i);
          pools[node] = pools[node] * (1 - 1 / k) + m / k;
          sizes[node] = k;
        }
      } else if (kind === ARRIVAL) {
        const node = log.node(i);
        const mass = pools[node];
        if (linked[node] || mass * sizes[node] < TAIL) continue;
        const tx = log.tx(i);
        if (toClient(tx, mass)) continue;
        if (inFlight[tx] === 0) flying++;
        inFlight[tx] += mass;
      }
      if (i % CHECK_EVERY === 0 && flying === 0 && drained(pools, sizes)) break;
    }
    if (flying > 0) inFlight.fill(0);
    return result;
  });
}

/**
 * For each target client transmission (index = target number), the adversary's weights over the
 * deliveries (by delivery transmission) it may have become. With `groups` (a group number per
 * target), the targets of one group are carried as one: each result is then a group's summed
 * weights (the expected number of its transmissions that became each delivery).
 */
export function deliveryWeights(log: EventLog, nodeCount: number, linked: readonly boolean[], targets: readonly number[], groups?: readonly number[]): Map<number, number>[] {
  const starts = eventIndexes(log, ARRIVAL, targets);
  const groupOf = (i: number): number => groups?.[i] ?? i;
  const members: number[][] = [];
  targets.forEach((_, i) => (members[groupOf(i)] ??= []).push(i));
  const inFlight = new Float64Array(log.transmissions);
  const pools = new Float64Array(nodeCount);
  const ones = new Float64Array(nodeCount).fill(1);
  return Array.from(members, (group = []) => {
    const result = new Map<number, number>();
    const found = group.filter((t) => starts[t] >= 0);
    if (found.length === 0) return result;
    pools.fill(0);
    let flying = 0;
    for (const t of found) {
      const tx = log.tx(starts[t]);
      if (inFlight[tx] === 0) flying++;
      inFlight[tx] += 1;
    }
    const start = Math.min(...found.map((t) => starts[t]));
    for (let i = start; i < log.size; i++) {
      const kind = log.kind(i);
      const tx = log.tx(i);
      if (kind === DELIVERY) {
        const m = inFlight[tx];
        if (m === 0) continue;
        inFlight[tx] = 0;
        flying--;
        result.set(tx, (result.get(tx) ?? 0) + m);
      } else if (kind === ARRIVAL) {
        const node = log.node(i);
        const m = inFlight[tx];
        if (m === 0 || linked[node]) continue;
        inFlight[tx] = 0;
        flying--;
        pools[node] += m;
      } else {
        const node = log.node(i);
        if (linked[node]) {
          const input = log.input(i);
          const m = input >= 0 ? inFlight[input] : 0;
          if (m > 0) {
            inFlight[input] = 0;
            inFlight[tx] = m;
          }
        } else if (pools[node] >= TAIL) {
          const out = pools[node] / log.pool(i);
          pools[node] -= out;
          inFlight[tx] = out;
          flying++;
        }
      }
      if (i % CHECK_EVERY === 0 && flying === 0 && drained(pools, ones)) break;
    }
    if (flying > 0) inFlight.fill(0);
    return result;
  });
}
