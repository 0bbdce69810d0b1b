/**
 * A mix node (layers 1..3; docs/nodes.md, "Mix"): every packet from a previous-layer node is
 * unwrapped under this node's epoch keys, held for the delay its sender chose (capped at the
 * consensus maximum) and released to the next layer's node. A packet whose last hop is this mix is
 * one of its own loops coming back (docs/network.md, "Mix loops"). Everything else is dropped and
 * counted.
 */
import { hexOf } from '../../codec/bytes.js';
import { Forwarder } from '../runtime/hop.js';
import { MixLoops } from './loops.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import type { NodeConfig } from '../runtime/config.js';

export interface MixHandle extends NodeHandle {
  readonly role: 'mix';
  /** Packets waiting in the mixing schedule. */
  readonly scheduled: number;
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
  const loops = new MixLoops(runtime, config.family ?? `node-${hexOf(runtime.nodeId).slice(0, 16)}`);
  const dropFraction = config.testDropFraction ?? 0;
  runtime.onLinkPacket = (packet) => {
    const result = runtime.unwrap(packet);
    if (result === undefined) return;
    if (result.kind === 'deliver' && loops.returned(result.recipient)) return;
    if (result.kind !== 'forward') return runtime.metrics.drop('not-forward');
    // Test networks only: a faulty mix loses packets without a trace.
    if (dropFraction > 0 && uniform32(runtime.crypto.randomBytes(4)) < dropFraction * 2 ** 32) return;
    forwarder.forward(result);
  };
  runtime.onClose(() => {
    loops.close();
    forwarder.close();
  });
  try {
    await runtime.listenLinks();
    await runtime.start({ status: () => ({ scheduled: forwarder.depth }) });
    loops.start();
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

function uniform32(bytes: Uint8Array): number {
  return ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
}
