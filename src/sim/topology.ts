import { Network } from '../client/routes.js';
import {
  CONSENSUS_VERSION,
  DEFAULT_BANDWIDTH,
  DESCRIPTOR_VERSION,
  RELIABILITY_SCALE,
  GATEWAY_LAYER,
  PROVIDER_LAYER,
  type ConsensusDocument,
  type NetworkParameters,
  type NodeDescriptor,
  type NodeRole,
} from '../pki/index.js';

/**
 * The simulated network's nodes as a consensus document, so paths come from the client's own
 * path choice (Network.path). The keys are simulated: the simulator replaces Sphinx by an
 * identity transform, so a packet is only an id.
 */
export interface TopologyShape {
  readonly gateways: number;
  /** Mixes on each of layers 1..3. */
  readonly mixesPerLayer: number;
  readonly providers: number;
}

export interface SimNode {
  /** Index in SimTopology.nodes. */
  readonly index: number;
  readonly name: string;
  readonly layer: number;
  readonly descriptor: NodeDescriptor;
}

export interface SimTopology {
  readonly nodes: readonly SimNode[];
  readonly network: Network;
  /** Node index by the hex-free node-ID key (its first four bytes, big-endian). */
  indexOf(descriptor: NodeDescriptor): number;
}

function simulatedKey(tag: number, index: number): Uint8Array {
  const key = new Uint8Array(32);
  new DataView(key.buffer).setUint32(0, index);
  key[31] = tag;
  return key;
}

function descriptor(index: number, name: string, role: NodeRole, layer: number): NodeDescriptor {
  const withWs = role !== 'mix';
  return {
    version: DESCRIPTOR_VERSION,
    epoch: 0,
    serial: 0,
    nodeId: simulatedKey(1, index),
    name,
    // Every simulated node is run by its own operator: family rules never narrow a path here.
    family: `operator-${index}`,
    role,
    layer,
    addresses: { link: `sim:${index}`, ...(withWs ? { ws: `sim:${index}` } : {}) },
    linkPublicKey: simulatedKey(2, index),
    sphinxKeys: [
      { epoch: 0, publicKey: simulatedKey(3, index) },
      { epoch: 1, publicKey: simulatedKey(4, index) },
    ],
    bandwidth: DEFAULT_BANDWIDTH,
    signature: new Uint8Array(64),
  };
}

export function buildTopology(shape: TopologyShape, params: NetworkParameters, epochMs: number): SimTopology {
  const nodes: SimNode[] = [];
  const add = (name: string, role: NodeRole, layer: number): void => {
    nodes.push({ index: nodes.length, name, layer, descriptor: descriptor(nodes.length, name, role, layer) });
  };
  for (let i = 1; i <= shape.gateways; i++) add(`gateway-${i}`, 'gateway', GATEWAY_LAYER);
  for (const layer of [1, 2, 3]) for (let i = 1; i <= shape.mixesPerLayer; i++) add(`mix-${layer}-${i}`, 'mix', layer);
  for (let i = 1; i <= shape.providers; i++) add(`provider-${i}`, 'provider', PROVIDER_LAYER);
  const doc: ConsensusDocument = {
    version: CONSENSUS_VERSION,
    epoch: 0,
    genesisMs: 0,
    epochMs,
    validUntilMs: Number.MAX_SAFE_INTEGER,
    ...params,
    nodes: nodes.map((node) => node.descriptor),
    scores: nodes.map(() => RELIABILITY_SCALE),
    measured: nodes.map(() => 0),
    signatures: [],
  };
  return {
    nodes,
    network: new Network(doc),
    indexOf: (d) => new DataView(d.nodeId.buffer, d.nodeId.byteOffset).getUint32(0),
  };
}
