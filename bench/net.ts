import { availableParallelism } from 'node:os';
import { DEFAULT_NETWORK_PARAMETERS } from '../src/pki/index.js';
import { benchLatency } from './net-latency.js';
import { benchMixThroughput } from './net-mix.js';
import { benchPoolScaling } from './net-pool.js';

/**
 * `npm run bench -- net`: the network on loopback, with real TLS links and real node code.
 * 1. mix_packets_per_sec: packets per second through one mix process (bench/net-mix.ts);
 * 2. unwrap_per_sec: Sphinx.unwrap alone, same suite and geometry, one core, and
 *    mix_over_unwrap = mix_packets_per_sec / unwrap_per_sec (target at least 0.6);
 * 2b. mix_pkts_per_sec_1_worker and mix_pkts_per_sec_2_workers: part 1 again with the mix's
 *    unwrap workers set to 1 and 2, and worker_scaling = their ratio (target at least 1.6 on
 *    2 cores; the bench's own sending and receiving share those cores);
 *    cpu_us_per_packet_2_workers: the CPU each packet took in the 2-worker run, in the mix's
 *    process and in this one (Linux), and unwrap_share = unwrap_us / that total. Two cores give
 *    2 workers at most 2 × unwrap_share times what one worker unwrapping flat out gives, so
 *    worker_scaling ≥ 1.6 needs unwrap_share ≥ 0.8: everything else a packet costs (TLS and system
 *    calls on two links, the mix's main thread, the sending and receiving here) under a quarter
 *    of an unwrap;
 * 2c. pool_pkts_per_sec_1_worker and pool_pkts_per_sec_2_workers: the mix's unwrap pool alone,
 *    fed on this thread with no links (bench/net-pool.ts), and pool_scaling = their ratio: what
 *    the unwrap workers scale to with the cores free (target at least 1.6 on 2 cores);
 * 3. latency: gateway → three mixes → provider with small mixing delays; what a packet takes
 *    beyond the delays it asked for, p50 / p90 / p99 in ms (target: median at most 50 ms)
 *    (bench/net-latency.ts).
 * Each part starts and closes its own authority and nodes on 127.0.0.1.
 */
const MIX_OVER_UNWRAP_TARGET = 0.6;
const MEDIAN_OVERHEAD_TARGET_MS = 50;
const WORKER_SCALING_TARGET = 1.6;

export async function benchNet(): Promise<Record<string, unknown>> {
  console.log('part 1-2: one mix process over TLS, and the unwrap floor');
  const mix = await benchMixThroughput();
  console.log(`part 2b: the same mix with 1 and with 2 unwrap workers (the run above had ${mix.unwrap_workers})`);
  const oneWorker = await benchMixThroughput(1);
  const twoWorkers = mix.unwrap_workers === 2 ? mix : await benchMixThroughput(2);
  const workerScaling = Math.round((twoWorkers.mix_packets_per_sec / oneWorker.mix_packets_per_sec) * 1000) / 1000;
  const cores = availableParallelism();
  const cpuPerPacket = twoWorkers.cpu_us_per_packet?.total;
  const unwrapShare = cpuPerPacket === undefined ? undefined : Math.round((twoWorkers.unwrap_us / cpuPerPacket) * 1000) / 1000;
  console.log('part 2c: the unwrap pool alone, 1 and 2 workers, alternating rounds');
  const pool = await benchPoolScaling();
  console.log('part 3: end-to-end latency through a small network');
  const latency = await benchLatency();
  return {
    bench: 'net',
    suite: DEFAULT_NETWORK_PARAMETERS.suite,
    geometry: DEFAULT_NETWORK_PARAMETERS.geometry,
    mix_packets_per_sec: mix.mix_packets_per_sec,
    unwrap_per_sec: mix.unwrap_per_sec,
    mix_over_unwrap: mix.mix_over_unwrap,
    mix_over_unwrap_target: MIX_OVER_UNWRAP_TARGET,
    mix_pkts_per_sec_1_worker: oneWorker.mix_packets_per_sec,
    mix_pkts_per_sec_2_workers: twoWorkers.mix_packets_per_sec,
    worker_scaling: workerScaling,
    ...(cpuPerPacket === undefined ? {} : { cpu_us_per_packet_2_workers: twoWorkers.cpu_us_per_packet, unwrap_share: unwrapShare }),
    pool_pkts_per_sec_1_worker: pool.pool_pkts_per_sec_1_worker,
    pool_pkts_per_sec_2_workers: pool.pool_pkts_per_sec_2_workers,
    pool_scaling: pool.pool_scaling,
    pool,
    worker_scaling_target: WORKER_SCALING_TARGET,
    cores,
    latency_ms: latency.overhead_ms,
    latency_median_target_ms: MEDIAN_OVERHEAD_TARGET_MS,
    meets_target: mix.mix_over_unwrap >= MIX_OVER_UNWRAP_TARGET && pool.pool_scaling >= WORKER_SCALING_TARGET && latency.arrived === latency.packets && latency.overhead_ms.p50 <= MEDIAN_OVERHEAD_TARGET_MS,
    mix,
    mix_1_worker: oneWorker,
    latency,
  };
}
