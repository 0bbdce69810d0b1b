import { DEFAULT_GEOMETRY, type SuiteName } from '../sphinx/index.js';

/** The demo runs on the network's default geometry and suite unless told otherwise. */
export const DEMO_SUITE: SuiteName = 'umbra-v1';
export const DEMO_HOPS = DEFAULT_GEOMETRY.hops;

/** Mean of the exponential per-hop delay (the Loopix mixing strategy); the demo only reports it. */
export const DEMO_MEAN_DELAY_MS = 50;
