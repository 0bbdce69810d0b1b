import { Worker } from 'node:worker_threads';
import { getCrypto } from '../../crypto/index.js';
import { seededRandom, systemRandom, type RandomSource } from '../../crypto/seeded-random.js';
import { runBuildJob } from './build-jobs.js';
import type { BuildJob, BuildRequest, BuildResponse, ResultOf } from './build-protocol.js';

/**
 * The agent's packet builder (docs/client.md, "The packet builder"): the heavy work of one mail
 * (RFC 5322 bytes, sealed fragments, Sphinx packets) runs here, off the event loop that times the
 * Poisson slots. `worker` runs the jobs in one worker_threads thread, in order; `inline` runs them
 * on the caller's thread, deferred by a microtask (for agents on simulated time, whose clock does
 * not wait for a thread). Both resolve each job with the same bytes for the same seed.
 */
export type BuilderMode = 'worker' | 'inline';

export interface PacketBuilder {
  /** `transfer`: buffers of the job handed to the thread, not copied (unusable here afterwards). */
  run<J extends BuildJob>(job: J, transfer?: readonly ArrayBuffer[]): Promise<ResultOf<J>>;
  /** Jobs sent and not yet answered. */
  readonly pending: number;
  /** Gets ready before the first job (starts the thread), so a first send does not wait for it. */
  start(): void;
  close(): Promise<void>;
}

/** A job the builder could not do (the job's own error, or a builder that stopped). */
export class BuildError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'BuildError';
  }
}

/**
 * `seedFrom` gives each job's 32-byte seed when the agent runs on an injected random source, so a
 * seeded test stays deterministic; undefined means fresh operating-system randomness per job.
 */
export function makeBuilder(mode: BuilderMode, seedFrom?: () => Uint8Array): PacketBuilder {
  return mode === 'worker' ? new WorkerBuilder(seedFrom) : new InlineBuilder(seedFrom);
}

class InlineBuilder implements PacketBuilder {
  pending = 0;
  private readonly osRandom: RandomSource = systemRandom(getCrypto('sodium'));
  private closed = false;

  constructor(private readonly seedFrom?: () => Uint8Array) {}

  run<J extends BuildJob>(job: J): Promise<ResultOf<J>> {
    if (this.closed) return Promise.reject(new BuildError('the packet builder is closed', 'closed'));
    const seed = this.seedFrom?.();
    this.pending++;
    return Promise.resolve().then(() => {
      try {
        const random = seed === undefined ? this.osRandom : seededRandom(getCrypto('sodium'), seed);
        return runBuildJob(job, random) as ResultOf<J>;
      } finally {
        this.pending--;
      }
    });
  }

  start(): void {}

  async close(): Promise<void> {
    this.closed = true;
  }
}

interface Waiting {
  resolve(result: unknown): void;
  reject(error: Error): void;
}

class WorkerBuilder implements PacketBuilder {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly seedFrom?: () => Uint8Array) {}

  get pending(): number {
    return this.waiting.size;
  }

  run<J extends BuildJob>(job: J, transfer: readonly ArrayBuffer[] = []): Promise<ResultOf<J>> {
    if (this.closed) return Promise.reject(new BuildError('the packet builder is closed', 'closed'));
    const id = this.nextId++;
    const seed = this.seedFrom?.();
    const request: BuildRequest = seed === undefined ? { id, job } : { id, job, seed };
    return new Promise<ResultOf<J>>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.thread().postMessage(request, [...transfer]);
    });
  }

  start(): void {
    if (!this.closed) this.thread();
  }

  /** The worker, started on first use and again after it died (its jobs were failed). */
  private thread(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(new URL('./build-worker.js', import.meta.url));
    worker.unref(); // the agent's timers keep the process alive, not its builder
    worker.on('message', (response: BuildResponse) => {
      const waiting = this.waiting.get(response.id);
      if (waiting === undefined) return;
      this.waiting.delete(response.id);
      if (response.ok) waiting.resolve(response.result);
      else waiting.reject(new BuildError(response.message, response.code));
    });
    const fail = (message: string) => {
      if (this.worker === worker) this.worker = undefined;
      const waiting = [...this.waiting.values()];
      this.waiting.clear();
      for (const job of waiting) job.reject(new BuildError(message, 'builder-failed'));
    };
    worker.on('error', (error) => fail(`the packet builder failed: ${error.message}`));
    worker.on('exit', (code) => fail(`the packet builder stopped (exit code ${code})`));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    for (const job of this.waiting.values()) job.reject(new BuildError('the packet builder is closed', 'closed'));
    this.waiting.clear();
    if (worker !== undefined) await worker.terminate();
  }
}
