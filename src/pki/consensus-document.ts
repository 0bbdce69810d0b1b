import { sameBytes } from '../codec/bytes.js';
import {
  GATEWAY_LAYER,
  LAYER_COUNT,
  MAX_DESCRIPTOR_BYTES,
  MIX_LAYERS,
  PROVIDER_LAYER,
  type NodeDescriptor,
} from './descriptor.js';
import type { EpochTiming } from './epoch.js';
import { KEY_BYTES, SIGNATURE_BYTES } from './fields.js';
import type { NetworkParameters } from './params.js';

/**
 * The consensus document (docs/pki.md, "Consensus document"): for one epoch, the network's
 * timing and parameters and every node's descriptor, signed by the authorities. Canonical
 * binary: nodes sorted by node ID, signatures sorted by authority ID, so the same inputs always
 * give the same bytes.
 */
export interface ConsensusSignature {
  /** The authority's Ed25519 public key. */
  readonly authorityId: Uint8Array;
  /** Ed25519 over CONSENSUS_SIGNATURE_LABEL ‖ the document's encoding without its signatures. */
  readonly signature: Uint8Array;
}

export interface ConsensusDocument extends NetworkParameters, EpochTiming {
  readonly version: typeof CONSENSUS_VERSION;
  readonly epoch: number;
  /** The document may be used until this Unix millisecond (end of the epoch plus a grace period). */
  readonly validUntilMs: number;
  /** Strictly ascending by node ID (so a node appears once). */
  readonly nodes: readonly NodeDescriptor[];
  /**
   * Each node's reliability score, per-mille (0..RELIABILITY_SCALE), in the order of `nodes`
   * (docs/network.md, "Reliability"): RELIABILITY_SCALE for a node nothing was measured on.
   */
  readonly scores: readonly number[];
  /**
   * Each node's measured bandwidth, packets per second, in the order of `nodes` (docs/network.md,
   * "Measured bandwidth"): 0 when not measured. Path choice weighs by min(declared, measured).
   */
  readonly measured: readonly number[];
  /** Strictly ascending by authority ID; empty for a document not yet signed. */
  readonly signatures: readonly ConsensusSignature[];
}

export interface ConsensusInput extends EpochTiming {
  readonly epoch: number;
  /** How long after the epoch's end the document stays valid; default a quarter epoch, at most one epoch. */
  readonly graceMs?: number;
  readonly network: NetworkParameters;
  /** In any order; all for `epoch`, one per node. */
  readonly descriptors: readonly NodeDescriptor[];
  /** Per-mille reliability scores by node ID (hex); a node left out scores RELIABILITY_SCALE. */
  readonly scores?: ReadonlyMap<string, number>;
  /** Measured packets per second by node ID (hex); a node left out was not measured (0). */
  readonly measured?: ReadonlyMap<string, number>;
}

export interface VerifyConsensusOptions {
  /** The trusted authorities' Ed25519 public keys. */
  readonly authorities: readonly Uint8Array[];
  /** Valid signatures needed; default a majority of `authorities` (floor(n / 2) + 1). */
  readonly threshold?: number;
  /** When given, a document for another epoch is 'wrong-epoch'. */
  readonly epoch?: number;
  /** The verifier's time (Unix ms): a document is 'expired' when nowMs > validUntilMs. */
  readonly nowMs: number;
  /**
   * Also verify every descriptor's own signature and Sphinx keys (default true). The authorities
   * already did; skipping it saves one Ed25519 verification per node for weak clients.
   */
  readonly verifyDescriptors?: boolean;
}

/** The nodes of a document by layer: [gateways, layer-1 mixes, layer-2, layer-3, providers]. */
export type PathLayers = readonly [
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
  readonly NodeDescriptor[],
];

/**
 * 2: the PIR parameters (row bytes, queries per poll) after the retrieval mode; 3: the retention
 * after them; 4: the reliability parameters after the retention, descriptors of version 3 (with a
 * bandwidth), and a per-mille score (u16) per node after the descriptors; 5: a measured bandwidth
 * (u32) per node after the scores.
 */
export const CONSENSUS_VERSION = 5;
export const CONSENSUS_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x4e]); // "UMBN"
export const CONSENSUS_SIGNATURE_LABEL = new TextEncoder().encode('umbra consensus document v1');
export const MAX_CONSENSUS_NODES = 1024;
export const MAX_CONSENSUS_SIGNATURES = 16;
export const MAX_SUITE_NAME_BYTES = 32;
/** magic, version, epoch, genesis, epoch length, valid-until, suite, geometry, mixing, traffic, retrieval, PIR, retention, reliability, node count. */
const HEADER_MAX = 4 + 1 + 8 * 4 + 1 + MAX_SUITE_NAME_BYTES + (1 + 4 + 1) + (4 + 4) + 8 * 4 + 1 + (4 + 2) + 8 + (8 + 2) + 2;
export const MAX_CONSENSUS_BYTES =
  HEADER_MAX + MAX_CONSENSUS_NODES * (2 + MAX_DESCRIPTOR_BYTES + 2 + 4) + 1 + MAX_CONSENSUS_SIGNATURES * (KEY_BYTES + SIGNATURE_BYTES);

/** What is wrong with the topology of `nodes`, or undefined. */
export function topologyProblem(nodes: readonly NodeDescriptor[]): string | undefined {
  const counts = new Array<number>(LAYER_COUNT).fill(0);
  for (const node of nodes) counts[node.layer] += 1;
  if (counts[GATEWAY_LAYER] === 0) return 'no gateway';
  for (const layer of MIX_LAYERS) if (counts[layer] === 0) return `no mix on layer ${layer}`;
  if (counts[PROVIDER_LAYER] === 0) return 'no provider';
  return undefined;
}

/** The nodes grouped by layer (each group in node-ID order). */
export function pathLayers(doc: Pick<ConsensusDocument, 'nodes'>): PathLayers {
  const layers: NodeDescriptor[][] = [[], [], [], [], []];
  for (const node of doc.nodes) layers[node.layer].push(node);
  return layers as unknown as PathLayers;
}

/** The node with ID `nodeId`, or undefined. */
export function findNode(doc: Pick<ConsensusDocument, 'nodes'>, nodeId: Uint8Array): NodeDescriptor | undefined {
  return doc.nodes.find((node) => sameBytes(node.nodeId, nodeId));
}
