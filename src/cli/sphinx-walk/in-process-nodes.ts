import type { Crypto, RandomSource } from '../../crypto/index.js';
import {
  MemoryReplayFilter,
  Sphinx,
  SphinxError,
  type DeliverResult,
  type HopCommand,
  type PathHop,
  type SurbReplyResult,
} from '../../sphinx/index.js';
import { WALK_MEAN_DELAY_MS } from './defaults.js';
import type { HopRecord } from './report.js';
import { hexOf } from '../../codec/bytes.js';
import { exponentialDelayMs } from './random-delay.js';

/**
 * The walk's stand-in for a mix network: nodes that live in this process, and a loop that hands
 * a packet from one to the next, recording what each saw.
 */
export interface MixNode {
  readonly id: Uint8Array;
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Each node remembers the replay tags it has seen, as a real mix does for its current key. */
  readonly replay: MemoryReplayFilter;
}

export interface LegEnd<T> {
  readonly hops: HopRecord[];
  readonly end: T | undefined;
  /** Why the packet did not reach the end of its path. */
  readonly failure: string | undefined;
}

/** Bytes of payload ciphertext recorded per hop: enough to see it change, too few to matter. */
const PAYLOAD_PREFIX = 16;

export function makeNodes(crypto: Crypto, random: RandomSource, count: number): MixNode[] {
  const nodes: MixNode[] = [];
  for (let i = 0; i < count; i++) {
    const id = random(32);
    const privateKey = random(32);
    nodes.push({ id, privateKey, publicKey: crypto.x25519Base(privateKey), replay: new MemoryReplayFilter() });
  }
  return nodes;
}

/** Every hop but the last waits an exponential delay; the last gets `finalCommands`. */
export function pathOf(nodes: readonly MixNode[], random: RandomSource, finalCommands: HopCommand[]): PathHop[] {
  return nodes.map((node, i) => ({
    id: node.id,
    publicKey: node.publicKey,
    commands: i === nodes.length - 1 ? finalCommands : [{ type: 'delay', delayMs: exponentialDelayMs(random, WALK_MEAN_DELAY_MS) }],
  }));
}

/**
 * Hands the packet from node to node the way a network would: each node only learns the next
 * node's ID from its own layer, and the packet goes to whichever node has that ID.
 */
export function walkLeg<T extends DeliverResult | SurbReplyResult>(
  sphinx: Sphinx,
  nodes: readonly MixNode[],
  firstHop: Uint8Array,
  packet: Uint8Array,
  endKind: T['kind'],
): LegEnd<T> {
  const byId = new Map(nodes.map((node) => [hexOf(node.id), node]));
  const hops: HopRecord[] = [];
  let nodeId = hexOf(firstHop);
  let current = packet;
  // A header has room for at most geometry.hops layers; more would mean a routing loop.
  for (let hop = 1; hop <= sphinx.geometry.hops; hop++) {
    const node = byId.get(nodeId);
    if (node === undefined) return { hops, end: undefined, failure: `hop ${hop}: no node has ID ${nodeId.slice(0, 8)}` };
    const started = performance.now();
    let result;
    try {
      result = sphinx.unwrap(node.privateKey, current, node.replay);
    } catch (error) {
      return { hops, end: undefined, failure: `hop ${hop} rejected the packet: ${describe(error)}` };
    }
    // Microseconds are as fine as a timer this noisy is worth reporting.
    const unwrapMs = Math.round((performance.now() - started) * 1000) / 1000;
    const seen = { hop, nodeId, packetLength: current.length, replayTag: hexOf(result.replayTag), unwrapMs };
    if (result.kind === 'forward') {
      hops.push({
        ...seen,
        action: 'forward',
        nextHop: hexOf(result.nextHop),
        ...(result.delayMs === undefined ? {} : { delayMs: result.delayMs }),
        payloadOut: payloadPrefix(result.packet, sphinx.geometry.headerLength),
      });
      nodeId = hexOf(result.nextHop);
      current = result.packet;
      continue;
    }
    hops.push({
      ...seen,
      action: result.kind,
      ...(result.recipient === undefined ? {} : { recipient: hexOf(result.recipient) }),
      ...(result.kind === 'surb-reply' ? { surbId: hexOf(result.surbId) } : {}),
    });
    if (result.kind !== endKind) return { hops, end: undefined, failure: `hop ${hop} ended the path with '${result.kind}', expected '${endKind}'` };
    return { hops, end: result as T, failure: undefined };
  }
  return { hops, end: undefined, failure: 'the packet was still being forwarded after the maximum number of hops' };
}

/** Sends `packet` to `node` a second time: it must refuse it as a replay. */
export function isReplayRejected(sphinx: Sphinx, node: MixNode, packet: Uint8Array): boolean {
  try {
    sphinx.unwrap(node.privateKey, packet, node.replay);
    return false;
  } catch (error) {
    return error instanceof SphinxError && error.code === 'replay';
  }
}

export function payloadPrefix(packet: Uint8Array, headerLength: number): string {
  return hexOf(packet.subarray(headerLength, headerLength + PAYLOAD_PREFIX));
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
