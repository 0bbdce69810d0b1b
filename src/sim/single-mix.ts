import { DEFAULT_NETWORK_PARAMETERS } from '../pki/index.js';
import { DEFAULT_SIM_CONFIG, type SimConfig } from './config.js';
import type { MixStrategy } from './mixers.js';

/**
 * A network with one honest mix (mix-1-1) and every other node corrupt, so a measured packet's
 * anonymity is exactly that mix's: the setting of the closed forms the simulator is checked
 * against (threshold mix log2 N, pool mix, continuous mix log2(e·λ/μ)). Clients send only cover
 * at `packetsPerSecond` in all; every delivered packet after the warm-up may be measured.
 */
export interface SingleMixOptions {
  readonly strategy: MixStrategy;
  readonly packetsPerSecond: number;
  readonly meanDelayMs?: number;
  readonly users?: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly seed?: number;
  readonly maxMeasured?: number;
}

export function singleMixConfig(options: SingleMixOptions): SimConfig {
  const users = options.users ?? 20_000;
  const meanDelayMs = options.meanDelayMs ?? 0;
  return {
    ...DEFAULT_SIM_CONFIG,
    network: {
      ...DEFAULT_NETWORK_PARAMETERS,
      mixing: { meanDelayMs, maxDelayMs: Math.max(1, meanDelayMs * 200) },
      traffic: { clientSendRate: options.packetsPerSecond / users, loopRate: 0, dropRate: 0, gatewayClientRate: 10 },
    },
    topology: { gateways: 1, mixesPerLayer: 1, providers: 1 },
    strategy: options.strategy,
    users,
    workload: { mailsPerUserPerDay: 0, contacts: 1, zipfExponent: 0 },
    durationMs: options.durationMs,
    warmupMs: options.warmupMs,
    adversary: { corrupt: ['gateway-1', 'mix-2-1', 'mix-3-1', 'provider-1'] },
    maxMeasured: options.maxMeasured ?? 300,
    measureCover: true,
    seed: options.seed ?? 7,
  };
}
