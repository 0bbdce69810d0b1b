import { DEFAULT_NETWORK_PARAMETERS, type NetworkParameters } from '../pki/index.js';
import { TESTNET_NETWORK } from '../testnet/plan.js';
import type { MixStrategy } from './mixers.js';

/**
 * Parameter sets to compare. `umbra` and `testnet` are this code's own constants. `katzenpost` and
 * `loopix` are the published defaults as recalled (Katzenpost's authority: μ = 0.005/ms, i.e.
 * a 200 ms mean hop delay, λP = 1/s, λL = λD = 0.5/s; Loopix's evaluation: 1 s mean hop delay,
 * 1/s of each stream): docs/privacy.md says so. `seed-timed-pool` is the seed's mix: every minute up
 * to 20 held packets leave together (in random order).
 */
export interface Preset {
  readonly network: NetworkParameters;
  readonly strategy: MixStrategy;
  readonly description: string;
}

function withRates(meanDelayMs: number, send: number, loop: number, drop: number): NetworkParameters {
  return {
    ...DEFAULT_NETWORK_PARAMETERS,
    mixing: { meanDelayMs, maxDelayMs: Math.max(meanDelayMs * 20, 1) },
    traffic: { clientSendRate: send, loopRate: loop, dropRate: drop, gatewayClientRate: DEFAULT_NETWORK_PARAMETERS.traffic.gatewayClientRate },
  };
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  umbra: { network: DEFAULT_NETWORK_PARAMETERS, strategy: { kind: 'exponential' }, description: "Umbra's defaults" },
  testnet: { network: TESTNET_NETWORK, strategy: { kind: 'exponential' }, description: 'the loopback test network (`umbra up`)' },
  katzenpost: { network: withRates(200, 1, 0.5, 0.5), strategy: { kind: 'exponential' }, description: "Katzenpost's authority defaults" },
  loopix: { network: withRates(1000, 1, 1, 1), strategy: { kind: 'exponential' }, description: "Loopix's evaluation setting" },
  'seed-timed-pool': {
    network: DEFAULT_NETWORK_PARAMETERS,
    strategy: { kind: 'timed-pool', batch: 20, pool: 0, intervalMs: 60_000 },
    description: "the seed's timed pool (20 messages, mixed every minute)",
  },
};

/** A strategy written as exponential | threshold:N | pool:N:F | timed-pool:N:F:MS; undefined when malformed. */
export function parseStrategy(text: string): MixStrategy | undefined {
  const [kind, ...rest] = text.split(':');
  const n = rest.map((v) => (/^\d+$/.test(v) ? Number(v) : NaN));
  if (n.some((v) => !Number.isSafeInteger(v))) return undefined;
  if (kind === 'exponential' && n.length === 0) return { kind };
  if (kind === 'threshold' && n.length === 1 && n[0] >= 1) return { kind, batch: n[0] };
  if (kind === 'pool' && n.length === 2 && n[0] >= 1) return { kind, batch: n[0], pool: n[1] };
  if (kind === 'timed-pool' && n.length === 3 && n[0] >= 1 && n[2] >= 1) return { kind, batch: n[0], pool: n[1], intervalMs: n[2] };
  return undefined;
}
