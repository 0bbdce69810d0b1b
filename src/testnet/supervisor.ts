import type { Child } from './processes.js';

/**
 * What `umbra up` does when a node's process dies on its own (docs/network.md, "Supervision"): it
 * reports the exit at once, restarts the node from its config after a backoff that doubles from
 * `firstDelayMs` up to `maxDelayMs`, and gives up on a node that died `maxFailures` times in a row
 * (a run that lasted `healthyMs` resets the count). Stops and kills asked for through the testnet
 * (`stop`, `kill`) are not failures and restart nothing.
 */
export interface SupervisionPolicy {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxFailures: number;
  readonly healthyMs: number;
}

export const DEFAULT_SUPERVISION: SupervisionPolicy = Object.freeze({ firstDelayMs: 1_000, maxDelayMs: 30_000, maxFailures: 5, healthyMs: 60_000 });

export type SupervisionEvent =
  | { readonly type: 'exited'; readonly name: string; readonly how: string; readonly restartInMs: number; readonly failures: number }
  | { readonly type: 'restarted'; readonly name: string }
  | { readonly type: 'restart-failed'; readonly name: string; readonly message: string }
  | { readonly type: 'gave-up'; readonly name: string; readonly failures: number };

/** The backoff before restart number `failures` (1 = the first): doubling, capped. */
export function restartDelayMs(policy: SupervisionPolicy, failures: number): number {
  return Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, failures - 1));
}

interface Watched {
  failures: number;
  startedMs: number;
  timer?: NodeJS.Timeout;
}

export class Supervisor {
  private readonly watched = new Map<string, Watched>();
  private readonly expected = new Set<string>();
  private stopped = false;

  constructor(
    private readonly restart: (name: string) => Promise<Child>,
    private readonly onEvent: (event: SupervisionEvent) => void,
    private readonly policy: SupervisionPolicy = DEFAULT_SUPERVISION,
    private readonly now: () => number = Date.now,
  ) {}

  /** Watches a freshly started child: an exit that nobody asked for is a failure. */
  watch(child: Child): void {
    const entry = this.watched.get(child.name) ?? { failures: 0, startedMs: 0 };
    entry.startedMs = this.now();
    this.watched.set(child.name, entry);
    this.expected.delete(child.name);
    child.process.once('exit', (code, signal) => this.exited(child.name, signal ?? `code ${String(code)}`));
  }

  /** The next exit of `name` is asked for (a stop or a test's kill): no restart. */
  expectExit(name: string): void {
    this.expected.add(name);
  }

  /** No more restarts, and pending ones are cancelled. */
  stop(): void {
    this.stopped = true;
    for (const entry of this.watched.values()) clearTimeout(entry.timer);
  }

  private exited(name: string, how: string): void {
    if (this.stopped || this.expected.delete(name)) return;
    const entry = this.watched.get(name);
    if (entry === undefined) return;
    if (this.now() - entry.startedMs >= this.policy.healthyMs) entry.failures = 0;
    entry.failures++;
    if (entry.failures >= this.policy.maxFailures) {
      this.onEvent({ type: 'gave-up', name, failures: entry.failures });
      return;
    }
    const restartInMs = restartDelayMs(this.policy, entry.failures);
    this.onEvent({ type: 'exited', name, how, restartInMs, failures: entry.failures });
    entry.timer = setTimeout(() => void this.restartNow(name), restartInMs);
  }

  private async restartNow(name: string): Promise<void> {
    if (this.stopped) return;
    try {
      await this.restart(name); // the caller watches the new child
      this.onEvent({ type: 'restarted', name });
    } catch (error) {
      this.onEvent({ type: 'restart-failed', name, message: error instanceof Error ? error.message : String(error) });
      // It exited before it was ready: that counts as one more failure, with its own backoff.
      this.exited(name, 'failed to start');
    }
  }
}

/** One line for the operator. */
export function describeSupervision(event: SupervisionEvent): string {
  switch (event.type) {
    case 'exited': return `${event.name} exited (${event.how}); restarting in ${(event.restartInMs / 1000).toFixed(0)} s (failure ${event.failures})`;
    case 'restarted': return `${event.name} restarted`;
    case 'restart-failed': return `${event.name} could not be restarted: ${event.message}`;
    case 'gave-up': return `${event.name} died ${event.failures} times in a row; not restarting it (see its log in logs/${event.name}.log)`;
  }
}
