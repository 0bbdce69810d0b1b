/**
 * A mix node (layers 1..3; docs/nodes.md, "Mix"): every packet from a previous-layer node is
 * unwrapped under this node's epoch keys, held for the delay its sender chose (capped at the
 * consensus maximum) and released to the next layer's node. Everything else is dropped and counted.
 */
import { Forwarder } from '../runtime/hop.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import type { NodeConfig } from '../runtime/config.js';

export interface MixHandle extends NodeHandle {
  readonly role: 'mix';
  /** Packets waiting in the mixing schedule. */
  readonly scheduled: number;
}

/**
 * The test hook `attackForTests: 'n-1'`: an n−1 attacker lets one packet per epoch through (the
 * first it receives, standing for its target's) and drops all others, as if it held them past the
 * epoch (their SURBs and keys would be useless by then). Every loop through it vanishes.
 */
function nMinusOneForTests(config: Pick<NodeConfig, 'genesisMs' | 'epochMs'>): (nowMs: number) => boolean {
  let passedIn = -1;
  return (nowMs) => {
    const epoch = Math.floor((nowMs - config.genesisMs) / config.epochMs);
    if (epoch === passedIn) return false;
    passedIn = epoch;
    return true;
  };
}

export async function startMix(config: NodeConfig, deps: NodeDeps = {}): Promise<MixHandle> {
  const runtime = new NodeRuntime(config, deps, 'mix');
  const forwarder = new Forwarder({
    clock: runtime.clock,
    peers: runtime.peers,
    consensus: runtime.consensus,
    metrics: runtime.metrics,
    capacity: config.scheduleCapacity,
  });
  runtime.metrics.gauge('node_schedule_depth', 'Packets held in the mixing schedule.', () => forwarder.depth);
  const attacker = config.attackForTests === 'n-1' ? nMinusOneForTests(config) : undefined;
  runtime.onLinkPacket = (packet) => {
    const result = runtime.unwrap(packet);
    if (result === undefined) return;
    if (result.kind !== 'forward') return runtime.metrics.drop('not-forward');
    if (attacker !== undefined && !attacker(runtime.clock.now())) return; // silently: an attacker counts nothing
    forwarder.forward(result);
  };
  runtime.onClose(() => forwarder.close());
  try {
    await runtime.listenLinks();
    await runtime.start({ status: () => ({ scheduled: forwarder.depth }) });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const handle = runtime.handle();
  return {
    ...handle,
    role: 'mix',
    get scheduled() {
      return forwarder.depth;
    },
  };
}
