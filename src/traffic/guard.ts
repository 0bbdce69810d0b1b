import { ByteReader, ByteWriter, sameBytes } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import { layerCandidates, uniformUnit, weightedPick, type NodeDescriptor } from '../pki/index.js';

/**
 * The client's guard gateway (docs/client.md, "Gateways"): like a Tor entry guard, the one gateway
 * a client enters the network through, kept across restarts so that a gateway which is (or later
 * turns) hostile sees a client only if it was chosen, rather than every client sooner or later.
 *
 * A new guard is drawn among the consensus's gateways with probability proportional to declared
 * bandwidth × reliability score, those below the consensus reliability floor left out unless none
 * would remain (docs/network.md, "Path choice"). A guard is kept until its lifetime ends, it leaves
 * the consensus, or its score falls below the floor while another gateway is above it; then a new
 * one is drawn. Small score changes never move a guard: switching is itself a signal, and each
 * switch is one more chance to land on a hostile gateway. The lifetime is drawn uniformly in
 * [GUARD_MIN_LIFETIME_MS, GUARD_MAX_LIFETIME_MS) at the choice, so clients chosen at one time do not
 * all rotate at once. Pure: the shell passes the time and the randomness, and stores the guard.
 *
 *     encoding: version (u8 = 1) ‖ node ID (32) ‖ chosen at, ms (u64) ‖ expires at, ms (u64)
 */
export interface Guard {
  /** The gateway's node ID (its Ed25519 identity key). */
  readonly nodeId: Uint8Array;
  readonly chosenMs: number;
  readonly expiresMs: number;
}

export const GUARD_MIN_LIFETIME_MS = 30 * 24 * 3600 * 1000;
export const GUARD_MAX_LIFETIME_MS = 60 * 24 * 3600 * 1000;
const GUARD_VERSION = 1;
const NODE_ID_BYTES = 32;

/** What guard choice reads from the consensus in force (`consensusWeights`, src/pki/path-choice.ts). */
export interface GatewayScores {
  /** Declared bandwidth × reliability score (per-mille). */
  readonly weight: (node: NodeDescriptor) => number;
  /** The node's score is below the consensus's `reliability.floor`. */
  readonly belowFloor: (node: NodeDescriptor) => boolean;
}

/**
 * The guard's gateway in the consensus, or undefined when the guard has expired, left the
 * consensus, or scores below the floor while some gateway of the consensus does not (when every
 * gateway is below it, moving would gain nothing and the guard stays).
 */
export function keptGuard(guard: Guard, gateways: readonly NodeDescriptor[], scores: Pick<GatewayScores, 'belowFloor'>, nowMs: number): NodeDescriptor | undefined {
  if (nowMs >= guard.expiresMs || nowMs < guard.chosenMs) return undefined;
  const node = gateways.find((gateway) => sameBytes(gateway.nodeId, guard.nodeId));
  if (node === undefined) return undefined;
  if (scores.belowFloor(node) && gateways.some((other) => !scores.belowFloor(other))) return undefined;
  return node;
}

/**
 * The gateway a new guard goes to: one of `gateways` with probability weight / total among those
 * not below the floor, or among all of them (still weighted) when every one is below it; uniform
 * when every candidate weighs 0. PathChoiceError when `gateways` is empty.
 */
export function guardGateway(gateways: readonly NodeDescriptor[], scores: GatewayScores, random: RandomSource): NodeDescriptor {
  return weightedPick(layerCandidates(gateways, scores.belowFloor), scores.weight, random);
}

/** A new guard at `nowMs`: its gateway (guardGateway) and its lifetime, both drawn from `random`. */
export function chooseGuard(gateways: readonly NodeDescriptor[], scores: GatewayScores, nowMs: number, random: RandomSource): { guard: Guard; gateway: NodeDescriptor } {
  const gateway = guardGateway(gateways, scores, random);
  return { gateway, guard: newGuard(gateway.nodeId, nowMs, uniformUnit(random)) };
}

/** A guard chosen at `nowMs`; `fraction` in [0, 1) places its lifetime in the allowed range. */
export function newGuard(nodeId: Uint8Array, nowMs: number, fraction: number): Guard {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`guard: lifetime fraction ${fraction} is not in [0, 1)`);
  if (nodeId.length !== NODE_ID_BYTES) throw new RangeError('guard: a node ID is 32 bytes');
  const lifetime = GUARD_MIN_LIFETIME_MS + Math.floor(fraction * (GUARD_MAX_LIFETIME_MS - GUARD_MIN_LIFETIME_MS));
  return { nodeId: nodeId.slice(), chosenMs: nowMs, expiresMs: nowMs + lifetime };
}

export function encodeGuard(guard: Guard): Uint8Array {
  return new ByteWriter(1 + NODE_ID_BYTES + 16).u8(GUARD_VERSION).bytes(guard.nodeId).u64(guard.chosenMs).u64(guard.expiresMs).finish();
}

/** A stored guard; DecodeError when the bytes are not one. */
export function decodeGuard(bytes: Uint8Array): Guard {
  const reader = new ByteReader(bytes, 'guard');
  if (reader.u8('version') !== GUARD_VERSION) throw new DecodeError('guard', 'unknown version');
  const nodeId = reader.bytesOf(NODE_ID_BYTES, 'node ID');
  const chosenMs = reader.u64('chosen at');
  const expiresMs = reader.u64('expires at');
  reader.end();
  return { nodeId, chosenMs, expiresMs };
}
