import { DEFAULT_NETWORK_PARAMETERS, type NetworkParameters } from '../pki/index.js';
import { TESTNET_NETWORK } from '../testnet/plan.js';
import type { MixStrategy } from './mixers.js';

/**
 * Parameter sets to compare. `umbra` and `testnet` are this code's own constants. `seed-timed-pool`
 * is the seed's mix: every minute up to 20 held packets leave together (in random order).
 *
 * `katzenpost` and `loopix` are those projects' shipped defaults, read from their sources (the
 * values below say where; Umbra's send stream is Katzenpost's λP and Loopix's payload stream, its
 * loop and drop streams are λL and λD). Neither source says more than "defaults": Katzenpost's
 * comment calls its values "picked primarily for debugging", and Loopix's paper evaluates other
 * settings, so these are reference points, not recommendations.
 */
export interface Preset {
  readonly network: NetworkParameters;
  readonly strategy: MixStrategy;
  readonly description: string;
  /** Where each value comes from. */
  readonly source?: string;
}

function withRates(meanDelayMs: number, maxDelayMs: number, send: number, loop: number, drop: number): NetworkParameters {
  return {
    ...DEFAULT_NETWORK_PARAMETERS,
    mixing: { meanDelayMs, maxDelayMs },
    traffic: { clientSendRate: send, loopRate: loop, dropRate: drop, gatewayClientRate: DEFAULT_NETWORK_PARAMETERS.traffic.gatewayClientRate },
  };
}

/**
 * Katzenpost's voting authority, authority/voting/server/config/config.go (github.com/katzenpost/
 * katzenpost, commit 003ff71d6b11f39665c40f9cd0b688478fea6b89): defaultMu = defaultLambdaP =
 * defaultLambdaL = defaultLambdaD = 0.00025 per millisecond, i.e. a 4,000 ms mean hop delay and
 * 0.25 packets per second on each client stream; MuMaxDelay = the 0.99999 quantile of that
 * delay, ln(10^5)/μ = 46,051 ms (defaultMuMaxPercentile). Its mix loops (λM) and 3 layers of
 * ≥ 2 mixes (defaultLayers, defaultMinNodesPerLayer) are not parameters here.
 */
const KATZENPOST_MU_PER_MS = 0.00025;
const KATZENPOST_LAMBDA_PER_MS = 0.00025;
const KATZENPOST = withRates(
  Math.round(1 / KATZENPOST_MU_PER_MS),
  Math.floor(Math.log(1 / (1 - 0.99999)) / KATZENPOST_MU_PER_MS),
  KATZENPOST_LAMBDA_PER_MS * 1000,
  KATZENPOST_LAMBDA_PER_MS * 1000,
  KATZENPOST_LAMBDA_PER_MS * 1000,
);

/**
 * Loopix's implementation, loopix/config.json (github.com/UCL-InfoSec/loopix, commit
 * 29bbff4244acdc0a3776388e411b0466b7e5e623): EXP_PARAMS_PAYLOAD = EXP_PARAMS_LOOPS =
 * EXP_PARAMS_DROP = 2.0 and EXP_PARAMS_DELAY = 0.001, each the scale (mean, in seconds) its
 * sample_from_exponential passes to numpy.random.exponential: 0.5 packets per second on each
 * stream and a 1 ms mean hop delay. Its MAX_DELAY_TIME is no cap on the hop delay; the cap here is
 * that delay's 0.99999 quantile, rounded up to whole milliseconds (12 ms), as Katzenpost's rule.
 */
const LOOPIX_MEAN_S = 2.0;
const LOOPIX_DELAY_S = 0.001;
const LOOPIX = withRates(
  Math.round(LOOPIX_DELAY_S * 1000),
  Math.ceil(Math.log(1 / (1 - 0.99999)) * LOOPIX_DELAY_S * 1000),
  1 / LOOPIX_MEAN_S,
  1 / LOOPIX_MEAN_S,
  1 / LOOPIX_MEAN_S,
);

export const PRESETS: Readonly<Record<string, Preset>> = {
  umbra: { network: DEFAULT_NETWORK_PARAMETERS, strategy: { kind: 'exponential' }, description: "Umbra's defaults" },
  testnet: { network: TESTNET_NETWORK, strategy: { kind: 'exponential' }, description: 'the loopback test network (`umbra up`)' },
  katzenpost: {
    network: KATZENPOST,
    strategy: { kind: 'exponential' },
    description: "Katzenpost's authority defaults",
    source: 'katzenpost/katzenpost authority/voting/server/config/config.go @003ff71d: defaultMu, defaultLambdaP/L/D = 0.00025/ms, MuMaxDelay at the 0.99999 quantile',
  },
  loopix: {
    network: LOOPIX,
    strategy: { kind: 'exponential' },
    description: "Loopix's implementation defaults",
    source: 'UCL-InfoSec/loopix loopix/config.json @29bbff42: EXP_PARAMS_PAYLOAD/LOOPS/DROP = 2.0 s, EXP_PARAMS_DELAY = 0.001 s (numpy exponential scales)',
  },
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
