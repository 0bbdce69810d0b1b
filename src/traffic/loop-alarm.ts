/**
 * Loop-based detection of active attacks (Loopix): every client and every mix sends loop packets
 * that come back to itself; it chose each loop's per-hop delays, so it knows when the loop is due.
 * A loop is lost when it has not returned `slackMs` after it was due. An attacker who drops or
 * holds packets at a node (an n−1 attack) makes the loops through that node vanish.
 *
 * The test, per party: at each verdict (a loop found back or lost), take the n loops whose due time
 * lies in the last `windowMs` and the number L of them that were lost. Under the null hypothesis
 * each loop is lost independently with the network's baseline probability p0; the party raises an
 * alarm when the binomial upper tail P(Bin(n, p0) ≥ L) < α. With p0 > 0 a party with no attack
 * raises a false alarm at a verdict with probability at most α.
 */
export interface LoopAlarmOptions {
  /** p0: the share of loops lost when nobody attacks (link and node failures). */
  readonly baselineLoss: number;
  /** α: the false-alarm probability per verdict. */
  readonly alpha: number;
  readonly windowMs: number;
  /** How late a loop may return and still count as back (link latency). */
  readonly slackMs: number;
}

export const DEFAULT_LOOP_ALARM: LoopAlarmOptions = Object.freeze({ baselineLoss: 0.01, alpha: 1e-4, windowMs: 30_000, slackMs: 1000 });

/** log C(n, k) + k log p + (n − k) log(1 − p): the log of one binomial term. */
function logTerm(n: number, k: number, p: number, logFactorial: (x: number) => number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k) + k * Math.log(p) + (n - k) * Math.log1p(-p);
}

const factorials: number[] = [0];
function logFactorial(x: number): number {
  for (let i = factorials.length; i <= x; i++) factorials.push(factorials[i - 1] + Math.log(i));
  return factorials[x];
}

/** P(X ≥ k) for X ~ Bin(n, p). */
export function binomialUpperTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let sum = 0;
  for (let i = k; i <= n; i++) sum += Math.exp(logTerm(n, i, p, logFactorial));
  return Math.min(1, sum);
}

/** The least L for which n loops with L lost raise an alarm (n + 1 when none does). */
export function lossesForAlarm(n: number, options: LoopAlarmOptions): number {
  for (let k = 0; k <= n; k++) if (binomialUpperTail(n, k, options.baselineLoss) < options.alpha) return k;
  return n + 1;
}

/** One loop as its sender saw it: when it was due, and when (if ever) it came back. */
export interface LoopRecord {
  readonly dueAt: number;
  /** Infinity when it never came back. */
  readonly returnedAt: number;
}

/** One alarm: when the party learnt enough to raise it, and the window's figures. */
export interface Alarm {
  readonly at: number;
  /** When the verdict that raised it was reached (before the party learnt it). */
  readonly verdictAt: number;
  readonly loops: number;
  readonly lost: number;
}

/**
 * Every alarm a party raises over its loops. `learnedAt` maps a verdict's time to when the party
 * learns it (a client sees its loops only when it polls its mailbox; a mix at once).
 */
export function alarmsOf(loops: readonly LoopRecord[], options: LoopAlarmOptions, learnedAt: (verdictAt: number) => number = (t) => t): Alarm[] {
  const verdicts = loops
    .map((loop) => {
      const lost = !(loop.returnedAt <= loop.dueAt + options.slackMs);
      return { dueAt: loop.dueAt, lost, at: lost ? loop.dueAt + options.slackMs : Math.max(loop.returnedAt, loop.dueAt) };
    })
    .sort((a, b) => a.at - b.at);
  const thresholds = new Map<number, number>();
  const threshold = (n: number): number => {
    let t = thresholds.get(n);
    if (t === undefined) thresholds.set(n, (t = lossesForAlarm(n, options)));
    return t;
  };
  const alarms: Alarm[] = [];
  const window: { dueAt: number; lost: boolean }[] = [];
  let lost = 0;
  for (const verdict of verdicts) {
    window.push(verdict);
    if (verdict.lost) lost++;
    while (window.length > 0 && window[0].dueAt < verdict.dueAt - options.windowMs) {
      if (window[0].lost) lost--;
      window.shift();
    }
    if (verdict.lost && lost >= threshold(window.length)) alarms.push({ at: learnedAt(verdict.at), verdictAt: verdict.at, loops: window.length, lost });
  }
  return alarms;
}
