import { DEFAULT_GEOMETRY, type SuiteName } from '../../sphinx/index.js';

/** The walk runs on the network's default geometry and suite unless told otherwise. */
export const WALK_SUITE: SuiteName = 'umbra-v1';
export const WALK_HOPS = DEFAULT_GEOMETRY.hops;

/** Mean of the exponential per-hop delay (the Loopix mixing strategy); the walk only reports it. */
export const WALK_MEAN_DELAY_MS = 50;
