import { performance } from 'node:perf_hooks';
import { getCrypto } from '../src/crypto/index.js';
import { BloomReplayFilter } from '../src/mixing/bloom-replay.js';
import type { EpochKey } from '../src/node/runtime/keyring.js';
import { UnwrapPool } from '../src/node/mix/unwrap-pool.js';
import { DEFAULT_NETWORK_PARAMETERS } from '../src/pki/index.js';
import { makeSuite, Sphinx, type PathHop } from '../src/sphinx/index.js';
import { threadClock } from './net-support.js';

/**
 * The mix's unwrap pool alone (src/node/mix/unwrap-pool.ts, the code a mix runs): packets for one
 * key are submitted on this thread and unwrapped by 1 or 2 worker threads, with no TLS link and no
 * sender sharing the cores. Rounds alternate between 1 and 2 workers; each figure is the median
 * of its rounds, and `pool_scaling` = 2 workers ÷ 1 in the same run. This is what the unwrap
 * workers add with the cores free; the mix process figures (bench/net-mix.ts) show what is left
 * when the bench's own sender and receiver, and the mix's TLS, share the same two cores.
 *
 * A new worker's first thousands of packets run while V8 is still compiling its code on the
 * process's background threads (with new workers for each round and 64 packets of warm-up, that
 * took 25-35 µs of CPU per packet, on the cores the workers need), so the two pools (1 and 2
 * workers) are made once, each worker unwraps WARM_PER_WORKER packets before any clock starts,
 * and the rounds alternate between the two pools: the figures are those of a running mix, not of
 * its first second. Where Linux
 * tells (/proc/self/task/N/schedstat), each round also counts the CPU time of the main thread, of
 * the workers and of the other threads, and the time they waited for a core, per packet: on a
 * shared machine a high wait says that other processes held the cores.
 */
const PACKETS = 4_000;
const ROUNDS = 5;
const WARM_PER_WORKER = 2_000;

export interface PoolScaling {
  readonly packets: number;
  readonly rounds: number;
  readonly pool_pkts_per_sec_1_worker: number;
  readonly pool_pkts_per_sec_2_workers: number;
  readonly pool_scaling: number;
  /** One unwrap as timed inside a worker (median of the rounds' means), with 1 and with 2 workers. */
  readonly unwrap_us_in_worker_1: number;
  readonly unwrap_us_in_worker_2: number;
  /** The share of the time the submitting (main) thread was busy, with 1 and with 2 workers. */
  readonly main_thread_busy_1: number;
  readonly main_thread_busy_2: number;
  /** CPU µs per packet (median of the rounds) by thread, and µs waited for a core; absent off Linux. */
  readonly cpu_us_per_packet_1?: ThreadTimes;
  readonly cpu_us_per_packet_2?: ThreadTimes;
}

interface ThreadTimes {
  readonly main: number;
  readonly workers: number;
  readonly other: number;
  readonly waited: number;
}

interface Round {
  readonly perSec: number;
  readonly unwrapUs: number;
  readonly mainBusy: number;
  readonly times: ThreadTimes | undefined;
}

/** µs per packet between two clocks: the main thread, the threads that are new since `base` (the workers), the rest. */
function threadTimes(base: ReturnType<typeof threadClock>, before: ReturnType<typeof threadClock>, after: ReturnType<typeof threadClock>, packets: number): ThreadTimes | undefined {
  if (base === undefined || before === undefined || after === undefined) return undefined;
  const sums = { main: 0, workers: 0, other: 0, waited: 0 };
  for (const [id, now] of after) {
    const then = before.get(id) ?? { ran: 0, waited: 0 };
    const ran = now.ran - then.ran;
    sums.waited += now.waited - then.waited;
    if (id === process.pid) sums.main += ran;
    else if (base.has(id)) sums.other += ran;
    else sums.workers += ran;
  }
  const us = (ns: number): number => Math.round(ns / 1e3 / packets * 10) / 10;
  return { main: us(sums.main), workers: us(sums.workers), other: us(sums.other), waited: us(sums.waited) };
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** What a pool's outcomes add up to in the round being measured. */
interface Tally {
  done: number;
  failed: number;
  unwrapSeconds: number;
  target: number;
  finish: () => void;
}

function makePool(workers: number, packetLength: number, capacity: number, tally: Tally): UnwrapPool {
  return new UnwrapPool({
    workers,
    workerData: { suite: DEFAULT_NETWORK_PARAMETERS.suite, geometry: DEFAULT_NETWORK_PARAMETERS.geometry, backend: 'sodium' },
    packetLength,
    capacity,
    onOutcome: (_keys, outcome) => {
      if (!outcome.ok) tally.failed++;
      tally.unwrapSeconds += outcome.seconds;
      if (++tally.done === tally.target) tally.finish();
    },
    onLost: (reason, count) => {
      throw new Error(`the pool lost ${count} packets (${reason})`);
    },
    onPressure: () => undefined,
    log: () => undefined,
  });
}

/** Packets per second through `pool` for `packets`, all submitted at once. */
async function throughput(pool: UnwrapPool, tally: Tally, packets: readonly Uint8Array[], key: EpochKey, base: ReturnType<typeof threadClock>): Promise<Round> {
  Object.assign(tally, { done: 0, failed: 0, unwrapSeconds: 0, target: packets.length });
  const finished = new Promise<void>((resolve) => (tally.finish = resolve));
  const before = threadClock();
  const start = process.hrtime.bigint();
  const elu = performance.eventLoopUtilization();
  for (const packet of packets) if (!pool.submit(packet, [key])) throw new Error('the pool refused a packet');
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const mainBusy = performance.eventLoopUtilization(elu).utilization;
  const times = threadTimes(base, before, threadClock(), packets.length);
  if (tally.failed > 0) throw new Error(`${tally.failed} packets did not unwrap`);
  return { perSec: packets.length / seconds, unwrapUs: (tally.unwrapSeconds / packets.length) * 1e6, mainBusy, times };
}

/** Resolves once `packets` came back from the pool. */
async function warm(pool: UnwrapPool, tally: Tally, packets: readonly Uint8Array[], key: EpochKey): Promise<void> {
  tally.target = -1;
  for (const packet of packets) pool.submit(packet, [key]);
  while (pool.depth > 0) await new Promise((resolve) => setTimeout(resolve, 5));
}

export async function benchPoolScaling(): Promise<PoolScaling> {
  const crypto = getCrypto('sodium');
  const params = DEFAULT_NETWORK_PARAMETERS;
  const sphinx = new Sphinx(makeSuite(params.suite, crypto), params.geometry);
  const g = sphinx.geometry;
  const random = (length: number): Uint8Array => crypto.randomBytes(length);
  const secret = random(32);
  const publicKey = crypto.x25519Base(secret);
  const key: EpochKey = { epoch: 0, secret, publicKey, filter: new BloomReplayFilter(16) };
  const path: PathHop[] = [
    { id: random(32), publicKey, commands: [{ type: 'delay', delayMs: 0 }] },
    { id: random(32), publicKey: crypto.x25519Base(random(32)), commands: [{ type: 'recipient', recipient: random(32) }] },
  ];
  const packets: Uint8Array[] = [];
  for (let i = 0; i < PACKETS; i++) packets.push(sphinx.newPacket(path, random(g.userForwardPayloadLength), random, g.withSurb ? random(g.surbLength) : undefined));
  const one: Round[] = [];
  const two: Round[] = [];
  const base = threadClock();
  const tallies = [1, 2].map((): Tally => ({ done: 0, failed: 0, unwrapSeconds: 0, target: -1, finish: () => undefined }));
  const pools = [1, 2].map((workers, i) => makePool(workers, g.packetLength, packets.length + 64, tallies[i]));
  try {
    // The workers load and compile their code first (see above) before any clock starts.
    for (const [i, pool] of pools.entries()) await warm(pool, tallies[i], packets.slice(0, WARM_PER_WORKER * pool.running), key);
    for (let round = 0; round < ROUNDS; round++) {
      one.push(await throughput(pools[0], tallies[0], packets, key, base));
      two.push(await throughput(pools[1], tallies[1], packets, key, base));
    }
  } finally {
    for (const pool of pools) await pool.close();
  }
  const oneWorker = Math.round(median(one.map((r) => r.perSec)));
  const twoWorkers = Math.round(median(two.map((r) => r.perSec)));
  const rounded = (value: number): number => Math.round(value * 1000) / 1000;
  return {
    packets: PACKETS,
    rounds: ROUNDS,
    pool_pkts_per_sec_1_worker: oneWorker,
    pool_pkts_per_sec_2_workers: twoWorkers,
    pool_scaling: rounded(twoWorkers / oneWorker),
    unwrap_us_in_worker_1: rounded(median(one.map((r) => r.unwrapUs))),
    unwrap_us_in_worker_2: rounded(median(two.map((r) => r.unwrapUs))),
    main_thread_busy_1: rounded(median(one.map((r) => r.mainBusy))),
    main_thread_busy_2: rounded(median(two.map((r) => r.mainBusy))),
    ...medianTimes('cpu_us_per_packet_1', one),
    ...medianTimes('cpu_us_per_packet_2', two),
  };
}

function medianTimes(name: string, rounds: readonly Round[]): Record<string, ThreadTimes> {
  const times = rounds.map((r) => r.times).filter((t): t is ThreadTimes => t !== undefined);
  if (times.length === 0) return {};
  const of = (key: keyof ThreadTimes): number => median(times.map((t) => t[key]));
  return { [name]: { main: of('main'), workers: of('workers'), other: of('other'), waited: of('waited') } };
}
