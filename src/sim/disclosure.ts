import type { SimConfig } from './config.js';
import { REAL, simulate, type Delivered, type SimRun } from './engine.js';
import { linkedNodes } from './measure.js';
import { deliveryWeights } from './posterior.js';

/**
 * The statistical disclosure attack (Danezis 2003; weighted as Mathewson and Dingledine do) on a
 * simulated run. The adversary watches every link and learns the recipient of every real mail
 * delivered (a corrupt mailbox server that tells mail from cover and knows whose mailbox it is: the
 * strongest receiver-side position; honest PIR servers show only the server). It cannot tell the
 * target's real packets from its cover, so its signal is W(d): the expected number of the target's
 * packets (all of them: real, loop, drop) that became delivery d, carried forward hop by hop as in
 * the anonymity measurement (src/sim/posterior.ts). Its estimate of the target's contacts ranks
 * users by score(r) = Σ_{d → r} (W(d) − W̄), where W̄ is the mean of W over real deliveries: the
 * recipients who receive more when the target is likely to have sent.
 *
 * A round is one real mail of the target (the unit of Danezis's bound: rounds in which the target
 * sent). The contacts are the m users the target wrote to in the run (ground truth). The attack has
 * found them after k rounds when, from the k-th round to the end of the run, the top-m users by
 * score are exactly those m; also reported: rounds until the top user is a contact (the first one
 * found) and until the top ⌈m/2⌉ are all contacts.
 */
export interface DisclosureResult {
  readonly target: number;
  /** The users the target wrote to in the run, most written-to first. */
  readonly contacts: readonly number[];
  /** The target's real mails delivered in the run (the rounds observed). */
  readonly rounds: number;
  /** Rounds until the top-ranked user is a contact for good; Infinity when it never is. */
  readonly roundsToFirstContact: number;
  /** Rounds until the top ⌈m/2⌉ users are all contacts for good. */
  readonly roundsToHalfContacts: number;
  /** Rounds until the top-m users are exactly the m contacts for good; Infinity when never. */
  readonly roundsToAllContacts: number;
  /** Simulated seconds the target took to send roundsToAllContacts mails (Infinity when never). */
  readonly secondsToAllContacts: number;
}

/** The user a disclosure run aims at (the workload's focus user), or 0. */
export function disclosureTarget(config: SimConfig): number {
  return config.workload.focus?.user ?? 0;
}

/** The users the target wrote to in the run, most written-to first (ground truth, for scoring). */
export function contactsWritten(run: SimRun, target: number): number[] {
  const counts = new Map<number, number>();
  for (const d of run.delivered) if (d.kind === REAL && d.client === target) counts.set(d.recipient, (counts.get(d.recipient) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([user]) => user);
}

/** W(d) for every delivery transmission: the expected number of the target's packets that became it. */
function targetSignal(run: SimRun, target: number): Map<number, number> {
  const linked = linkedNodes(run);
  const sources: number[] = [];
  for (let tx = 0; tx < run.log.transmissions; tx++) if (run.log.clientOf(tx) === target) sources.push(tx);
  if (sources.length === 0) return new Map();
  return deliveryWeights(run.log, run.topology.nodes.length, linked, sources, sources.map(() => 0))[0];
}

/** Users ranked by score, highest first (the target itself excluded: the adversary knows it). */
function ranked(scoreSum: Float64Array, counts: Float64Array, meanSignal: number, target: number, take: number): number[] {
  const best: { user: number; score: number }[] = [];
  for (let r = 0; r < scoreSum.length; r++) {
    if (r === target || counts[r] === 0) continue;
    const score = scoreSum[r] - meanSignal * counts[r];
    if (best.length < take || score > best[best.length - 1].score) {
      best.push({ user: r, score });
      best.sort((a, b) => b.score - a.score);
      if (best.length > take) best.pop();
    }
  }
  return best.map((b) => b.user);
}

/** Rounds (1-based) from which `holds` stayed true to the end; Infinity when it fails at the last. */
class Stable {
  private lastMiss = 0;
  check(round: number, holds: boolean): void {
    if (!holds) this.lastMiss = round;
  }
  rounds(total: number): number {
    return this.lastMiss >= total ? Infinity : this.lastMiss + 1;
  }
}

/** Scores the attack after each of the target's rounds: rounds to the first, half and all contacts. */
function roundsNeeded(deliveries: readonly Delivered[], signal: Map<number, number>, users: number, target: number, contacts: readonly number[]): { found: [number, number, number]; roundTimes: number[] } {
  const scoreSum = new Float64Array(users);
  const counts = new Float64Array(users);
  const wanted = new Set(contacts);
  const half = Math.ceil(contacts.length / 2);
  const checks = [new Stable(), new Stable(), new Stable()];
  let signalTotal = 0;
  let seen = 0;
  const roundTimes: number[] = [];
  for (const d of deliveries) {
    const w = signal.get(d.deliveryTx) ?? 0;
    scoreSum[d.recipient] += w;
    counts[d.recipient]++;
    signalTotal += w;
    seen++;
    if (d.client !== target) continue;
    roundTimes.push(d.sentAt);
    const round = roundTimes.length;
    const top = ranked(scoreSum, counts, signalTotal / seen, target, contacts.length);
    const hits = (k: number): boolean => top.length >= k && top.slice(0, k).every((u) => wanted.has(u));
    checks[0].check(round, hits(1));
    checks[1].check(round, hits(half));
    checks[2].check(round, hits(contacts.length));
  }
  const total = roundTimes.length;
  return { found: [checks[0].rounds(total), checks[1].rounds(total), checks[2].rounds(total)], roundTimes };
}

/** Runs the attack on a finished run against `target`. */
export function disclosureAttack(run: SimRun, target: number): DisclosureResult {
  const contacts = contactsWritten(run, target);
  const signal = targetSignal(run, target);
  const deliveries = run.delivered.filter((d) => d.kind === REAL && d.recipient >= 0).sort((a, b) => a.deliveredAt - b.deliveredAt);
  const { found, roundTimes } = roundsNeeded(deliveries, signal, run.config.users, target, contacts);
  const [roundsToFirstContact, roundsToHalfContacts, roundsToAllContacts] = found;
  const first = roundTimes[0] ?? 0;
  return {
    target,
    contacts,
    rounds: roundTimes.length,
    roundsToFirstContact,
    roundsToHalfContacts,
    roundsToAllContacts,
    secondsToAllContacts: Number.isFinite(roundsToAllContacts) ? (roundTimes[roundsToAllContacts - 1] - first) / 1000 : Infinity,
  };
}

/** Simulates `config` (whose workload's focus user is the target) and runs the attack on it. */
export function runDisclosure(config: SimConfig): { run: SimRun; result: DisclosureResult } {
  const target = disclosureTarget(config);
  const run = simulate(config);
  return { run, result: disclosureAttack(run, target) };
}

/**
 * Danezis's bound (2003) on the rounds a statistical disclosure attack needs against a threshold
 * mix of batch b, N equally likely recipients for everyone else, and m equally likely contacts of
 * the target, at confidence parameter l (l = 2: about 95%):
 * t > [m·l·(√((N−1)/N²·(b−1)) + √((N−1)/N²·(b−1) + (m−1)/m²))]².
 */
export function danezisRounds(batch: number, recipients: number, contacts: number, confidence: number): number {
  const background = ((recipients - 1) / recipients ** 2) * (batch - 1);
  const own = (contacts - 1) / contacts ** 2;
  return (contacts * confidence * (Math.sqrt(background) + Math.sqrt(background + own))) ** 2;
}

/**
 * `base` with user 0 as the target of a disclosure attack: it writes `mailsPerSecond` on top of
 * everyone's workload, and the run lasts until it has written about `rounds` mails after the
 * warm-up. The target's rate should stay below its send rate λ, or its queue grows.
 */
export function disclosureConfig(base: SimConfig, mailsPerSecond: number, rounds: number): SimConfig {
  const others = (base.users * base.workload.mailsPerUserPerDay) / 86_400;
  const total = others + mailsPerSecond;
  return {
    ...base,
    workload: { ...base.workload, mailsPerUserPerDay: (total * 86_400) / base.users, focus: { user: 0, share: mailsPerSecond / total } },
    durationMs: base.warmupMs + Math.ceil((rounds / mailsPerSecond) * 1000),
  };
}
