/** What gateways, mixes and providers share (floor 3): docs/nodes.md. */
export * from './config.js';
export * from './config-json.js';
export { ConsensusTracker } from './consensus.js';
export { mirrorUrlOf } from './http.js';
export { Forwarder, settleOutcome, unwrapPacket, unwrapWithSecrets, type UnwrapOutcome } from './hop.js';
export { SphinxKeyring, type EpochKey } from './keyring.js';
export { NODE_COUNTERS, NodeMetrics, UNWRAP_BUCKETS } from './metrics.js';
export { NodeRuntime, type NodeDeps, type NodeHandle, type NodeStatus } from './node.js';
export { Peers } from './peers.js';
export { IDENTITY_SEED_FILE, LINK_SEED_FILE } from './seeds.js';
export { startNode } from './start-node.js';
