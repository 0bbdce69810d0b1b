/**
 * A mix node (layers 1..3; docs/nodes.md, "Mix"): every packet from a previous-layer node is
 * unwrapped under this node's epoch keys, held for the delay its sender chose (capped at the
 * consensus maximum) and released to the next layer's node. A packet whose last hop is this mix is
 * one of its own loops coming back (docs/network.md, "Mix loops"). Everything else is dropped and
 * counted. Unwrapping runs on worker threads when there are several cores ("Unwrap workers"); the
 * replay check stays on the main thread either way.
 */
import { availableParallelism } from 'node:os';
import { hexOf } from '../../codec/bytes.js';
import { Forwarder, settleOutcome } from '../runtime/hop.js';
import { MixLoops } from './loops.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import type { NodeConfig } from '../runtime/config.js';
import type { UnwrapResult } from '../../sphinx/index.js';
import { UnwrapPool } from './unwrap-pool.js';
import { openPacketRecorder } from '../runtime/packet-record.js';
import { mixAttack } from './attacks.js';

export interface MixHandle extends NodeHandle {
  readonly role: 'mix';
  /** Packets waiting in the mixing schedule. */
  readonly scheduled: number;
  /** Unwrap worker threads running (0: packets are unwrapped on the main thread). */
  readonly unwrapWorkers: number;
}

/** Packets queued for or held by the unwrap workers at most (about 3 KiB each). */
export const UNWRAP_QUEUE_CAPACITY = 4096;
const MAX_DEFAULT_WORKERS = 4;

/** The configured number of unwrap workers, or the default: one per core, none on a single core. */
export function unwrapWorkerCount(config: Pick<NodeConfig, 'unwrapWorkers'>): number {
  if (config.unwrapWorkers !== undefined) return config.unwrapWorkers;
  const cores = availableParallelism();
  return cores < 2 ? 0 : Math.min(cores, MAX_DEFAULT_WORKERS);
}

export async function startMix(config: NodeConfig, deps: NodeDeps = {}): Promise<MixHandle> {
  const runtime = new NodeRuntime(config, deps, 'mix');
  const { metrics } = runtime;
  // Test networks only: every packet in and out (src/node/runtime/packet-record.ts).
  const recorder = openPacketRecorder(config.recordPacketsForTests, runtime.crypto);
  const forwarder = new Forwarder({
    clock: runtime.clock,
    peers: runtime.peers,
    consensus: runtime.consensus,
    metrics,
    capacity: config.scheduleCapacity,
    ...(recorder === undefined ? {} : { recorder }),
  });
  metrics.gauge('node_schedule_depth', 'Packets held in the mixing schedule.', () => forwarder.depth);
  // Test networks only: a mix that attacks (src/node/mix/attacks.ts).
  const attacker = config.attackForTests === undefined ? undefined : mixAttack(config.attackForTests, runtime);
  const loops = new MixLoops(runtime, config.family ?? `node-${hexOf(runtime.nodeId).slice(0, 16)}`);
  const dropFraction = config.testDropFraction ?? 0;
  const onResult = (result: UnwrapResult | undefined, input?: string, peer?: string): void => {
    if (result === undefined) return;
    if (result.kind === 'deliver' && loops.returned(result.recipient)) return;
    if (result.kind !== 'forward') return metrics.drop('not-forward');
    if (attacker !== undefined && !attacker(result, peer)) return; // silently: an attacker counts nothing
    // Test networks only: a faulty mix loses packets without a trace.
    if (dropFraction > 0 && uniform32(runtime.crypto.randomBytes(4)) < dropFraction * 2 ** 32) return;
    forwarder.forward(result, input);
  };
  const workers = unwrapWorkerCount(config);
  const pool = workers === 0 ? undefined : new UnwrapPool({
    workers,
    workerData: { suite: config.suite, geometry: config.geometry, backend: runtime.crypto.name },
    packetLength: runtime.packetLength,
    capacity: UNWRAP_QUEUE_CAPACITY,
    onOutcome: (keys, outcome, input) => onResult(settleOutcome(keys, outcome, metrics), input),
    onLost: (reason, count) => metrics.drop(reason, count),
    onPressure: (full) => runtime.setLinkReading(!full),
    log: runtime.log,
  });
  if (pool !== undefined) metrics.gauge('node_unwrap_queue_depth', 'Packets queued for or held by the unwrap workers.', () => pool.depth);
  runtime.onLinkPacket = (packet, peer) => {
    const input = recorder?.arrival(packet, 'link');
    // An attacker judges by the packet's previous hop, which the workers do not carry: it unwraps here.
    if (pool === undefined || pool.running === 0 || packet.length !== runtime.packetLength || attacker !== undefined) return onResult(runtime.unwrap(packet), input, peer);
    const keys = runtime.keyring.candidates(runtime.clock.now());
    if (keys.length === 0) return metrics.drop('no-key');
    if (!pool.submit(packet, keys, input)) metrics.drop(pool.isClosed ? 'shutdown' : 'unwrap-queue-full');
  };
  runtime.onClose(async () => {
    loops.close();
    await pool?.close();
    forwarder.close();
    recorder?.close();
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
    get unwrapWorkers() {
      return pool?.running ?? 0;
    },
  };
}

function uniform32(bytes: Uint8Array): number {
  return ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
}
