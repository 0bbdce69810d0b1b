import { ByteReader, ByteWriter, sameBytes } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import { layerCandidates, uniformUnit, weightedPick, type NodeDescriptor } from '../pki/index.js';

/**
 * The client's guard gateway (docs/client.md, "Gateways"): like a Tor entry guard, the one gateway
 * a client enters the network through, kept across restarts so that a gateway which is (or later
 * turns) hostile sees a client only if it was chosen, rather than every client sooner or later.
 *
 * A new guard is drawn among the consensus's gateways with probability proportional to bandwidth
 * (declared, capped by measured) × reliability score, those below the consensus reliability floor left out unless none
 * would remain (docs/network.md, "Path choice"). A guard is kept until its lifetime ends, or its
 * score falls below the floor while another gateway is above it; then a new one is drawn. Small
 * score changes never move a guard: switching is itself a signal, and each switch is one more
 * chance to land on a hostile gateway. The lifetime is drawn uniformly in
 * [GUARD_MIN_LIFETIME_MS, GUARD_MAX_LIFETIME_MS) at the choice, so clients chosen at one time do not
 * all rotate at once.
 *
 * A guard missing from the consensus (down, flooded, or its descriptor late) is not replaced at
 * once, which would let anyone who can knock a gateway out for one epoch move all its clients for
 * good: a stand-in gateway (drawn as a guard is, kept while the absence lasts) carries the traffic,
 * and the agent goes back to its guard as soon as it is listed again. Only after
 * GUARD_ABSENCE_GRACE_MS missing does the stand-in become the guard (stepGuard). Pure: the shell
 * passes the time and the randomness, and stores the guard.
 *
 *     encoding: version (u8 = 2) ‖ node ID (32) ‖ chosen at, ms (u64) ‖ expires at, ms (u64)
 *               ‖ missing since, ms (u64; 0: listed) ‖ stand-in's node ID (32; zeros when listed)
 *     version 1 (older records): the first four fields only.
 */
export interface Guard {
  /** The gateway's node ID (its Ed25519 identity key). */
  readonly nodeId: Uint8Array;
  readonly chosenMs: number;
  readonly expiresMs: number;
  /** Set while the guard is missing from the consensus: since when, and the gateway standing in. */
  readonly absence?: GuardAbsence;
}

export interface GuardAbsence {
  readonly sinceMs: number;
  readonly standInId: Uint8Array;
}

export const GUARD_MIN_LIFETIME_MS = 30 * 24 * 3600 * 1000;
export const GUARD_MAX_LIFETIME_MS = 60 * 24 * 3600 * 1000;
/** How long a guard may be missing from the consensus before its stand-in becomes the guard. */
export const GUARD_ABSENCE_GRACE_MS = 7 * 24 * 3600 * 1000;
const GUARD_VERSION = 2;
const NODE_ID_BYTES = 32;

/** What guard choice reads from the consensus in force (`consensusWeights`, src/pki/path-choice.ts). */
export interface GatewayScores {
  /** Bandwidth (declared, capped by measured) × reliability score (per-mille). */
  readonly weight: (node: NodeDescriptor) => number;
  /** The node's score is below the consensus's `reliability.floor`. */
  readonly belowFloor: (node: NodeDescriptor) => boolean;
}

/** The gateway with `nodeId` in the consensus, unless it is below the floor while another is not. */
function usable(nodeId: Uint8Array, gateways: readonly NodeDescriptor[], scores: Pick<GatewayScores, 'belowFloor'>): NodeDescriptor | undefined {
  const node = gateways.find((gateway) => sameBytes(gateway.nodeId, nodeId));
  if (node === undefined) return undefined;
  if (scores.belowFloor(node) && gateways.some((other) => !scores.belowFloor(other))) return undefined;
  return node;
}

/**
 * The guard record to keep and the gateway to enter through under a consensus, from the stored
 * guard (undefined: none). In order: no guard, an expired one, one from the future (a clock set
 * back) or one listed below the floor while another gateway is not: a new guard. A listed guard:
 * itself (a recorded absence ends). A guard missing from the consensus: its stand-in (drawn at the
 * start of the absence, drawn again when it is not usable itself), until GUARD_ABSENCE_GRACE_MS
 * have passed; then the stand-in becomes the guard, with a lifetime of its own.
 */
export function stepGuard(stored: Guard | undefined, gateways: readonly NodeDescriptor[], scores: GatewayScores, nowMs: number, random: RandomSource): { guard: Guard; gateway: NodeDescriptor } {
  if (stored === undefined || nowMs >= stored.expiresMs || nowMs < stored.chosenMs) return chooseGuard(gateways, scores, nowMs, random);
  const listed = gateways.some((gateway) => sameBytes(gateway.nodeId, stored.nodeId));
  if (listed) {
    const gateway = usable(stored.nodeId, gateways, scores);
    if (gateway === undefined) return chooseGuard(gateways, scores, nowMs, random);
    const { absence: _ended, ...guard } = stored;
    return { guard, gateway };
  }
  const sinceMs = stored.absence !== undefined && stored.absence.sinceMs <= nowMs ? stored.absence.sinceMs : nowMs;
  const kept = stored.absence === undefined ? undefined : usable(stored.absence.standInId, gateways, scores);
  const standIn = kept ?? guardGateway(gateways, scores, random);
  if (nowMs - sinceMs >= GUARD_ABSENCE_GRACE_MS) return { gateway: standIn, guard: newGuard(standIn.nodeId, nowMs, uniformUnit(random)) };
  return { gateway: standIn, guard: { ...stored, absence: { sinceMs, standInId: standIn.nodeId.slice() } } };
}

/** Whether two guard records are the same (the shell stores a new one only when it changed). */
export function sameGuard(a: Guard, b: Guard): boolean {
  if (!sameBytes(a.nodeId, b.nodeId) || a.chosenMs !== b.chosenMs || a.expiresMs !== b.expiresMs) return false;
  if (a.absence === undefined || b.absence === undefined) return a.absence === b.absence;
  return a.absence.sinceMs === b.absence.sinceMs && sameBytes(a.absence.standInId, b.absence.standInId);
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
  const writer = new ByteWriter(1 + 2 * NODE_ID_BYTES + 24).u8(GUARD_VERSION).bytes(guard.nodeId).u64(guard.chosenMs).u64(guard.expiresMs);
  return writer.u64(guard.absence?.sinceMs ?? 0).bytes(guard.absence?.standInId ?? new Uint8Array(NODE_ID_BYTES)).finish();
}

/** A stored guard; DecodeError when the bytes are not one. */
export function decodeGuard(bytes: Uint8Array): Guard {
  const reader = new ByteReader(bytes, 'guard');
  const version = reader.u8('version');
  if (version !== 1 && version !== GUARD_VERSION) throw new DecodeError('guard', 'unknown version');
  const nodeId = reader.bytesOf(NODE_ID_BYTES, 'node ID');
  const chosenMs = reader.u64('chosen at');
  const expiresMs = reader.u64('expires at');
  if (version === 1) {
    reader.end();
    return { nodeId, chosenMs, expiresMs };
  }
  const sinceMs = reader.u64('missing since');
  const standInId = reader.bytesOf(NODE_ID_BYTES, 'stand-in');
  reader.end();
  if (sinceMs === 0) {
    if (standInId.some((byte) => byte !== 0)) throw new DecodeError('guard', 'a stand-in without an absence');
    return { nodeId, chosenMs, expiresMs };
  }
  return { nodeId, chosenMs, expiresMs, absence: { sinceMs, standInId } };
}
