import { toBase64Url } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { DEFAULT_NETWORK_PARAMETERS, type NetworkParameters } from '../pki/index.js';
import { TestnetError } from './errors.js';
import { distinctPort, osPortAllocator, type PortAllocator } from './ports.js';

/**
 * The shape of a local test network (`umbra up`): one directory authority or several voting ones, a gateway, three mix layers of
 * two nodes, two providers, all on loopback, with short epochs so mail moves in seconds. Its
 * parameters are the recommended set (the default consensus, docs/privacy.md "Recommendation"),
 * or the fast set for tests. Written once into `<dir>/plan.json`, so a restart keeps keys,
 * genesis, names and parameters.
 *
 * Six operators (families) run it: one the gateway, one each mix layer, one each provider, so a
 * path's five nodes are of five families and each provider's PIR partner is of another operator.
 * The authorities admit only the plan's node keys (their allow-list).
 */
export interface AuthorityPlan {
  /** `authority` when there is one, else `authority-1` … `authority-N`. */
  readonly name: string;
  /** Ed25519 identity seed (base64url). */
  readonly seed: string;
  readonly publicKey: string;
  readonly port: number;
}

export interface NodePlan {
  readonly name: string;
  /** The node's operator, published in its descriptor. */
  readonly family: string;
  /** The node's Ed25519 identity seed (base64url): fixed at plan time so the authority's allow-list names its key. */
  readonly identitySeed: string;
  readonly role: 'gateway' | 'mix' | 'provider';
  readonly layer: number;
  /** Fixed at plan time so a restarted node comes back where the consensus says it is. */
  readonly linkPort: number;
  readonly wsPort?: number;
  readonly metricsPort: number;
}

export interface NetworkPlan {
  readonly genesisMs: number;
  readonly epochMs: number;
  /** Every authority; each lists the others as its peers, and nodes and users trust them all. */
  readonly authorities: readonly AuthorityPlan[];
  readonly network: NetworkParameters;
  readonly nodes: readonly NodePlan[];
  readonly users: readonly { readonly name: string; readonly provider: string }[];
}

/**
 * The fast set, for tests that must finish in seconds: 20 ms mixing delays, 50 packets a second per
 * client, no drop stream. It mixes little (docs/privacy.md, the `testnet` row): never a deployment.
 */
export const TESTNET_NETWORK: NetworkParameters = {
  ...DEFAULT_NETWORK_PARAMETERS,
  mixing: { meanDelayMs: 20, maxDelayMs: 1_000 },
  traffic: { clientSendRate: 50, loopRate: 2, dropRate: 0, gatewayClientRate: 200 },
  // Mail is fetched by two-server PIR: the two providers, of different operators, are each other's partner (docs/pir.md).
  retrieval: 'pir',
  // Larger pages and budget than the defaults: half the 48 queries read first pages (12 buckets per
  // epoch: a user with up to 4 sessions reads every address at every poll), the other half 12 further
  // pages (144 items) per epoch, so a 1 MiB mail (about 520 fragments, 44 pages of 12) is read
  // within a few of the short epochs' polls.
  pir: { rowBytes: 32_768, queriesPerPoll: 48 },
  // Each mix loops as often as a client; nodes under 80 % measured reliability leave paths.
  reliability: { mixLoopRate: 2, floor: 800 },
};

/** `recommended`: the default consensus (src/pki/params.ts); `fast`: TESTNET_NETWORK. */
export type ParameterSet = 'recommended' | 'fast';

export const PARAMETER_SETS: Readonly<Record<ParameterSet, NetworkParameters>> = Object.freeze({
  recommended: DEFAULT_NETWORK_PARAMETERS,
  fast: TESTNET_NETWORK,
});

/**
 * `minimal`: one node per layer (a gateway, three mixes, one provider) and no PIR partner, for
 * tests of the authorities that need a complete topology but carry no mail.
 */
export async function makePlan(
  crypto: Crypto, nowMs: number, epochMs: number, authorityCount = 1, minimal = false, parameters: ParameterSet = 'recommended',
  allocate: PortAllocator = osPortAllocator,
): Promise<NetworkPlan> {
  const perLayer = minimal ? [1] : [1, 2];
  const shapes: Omit<NodePlan, 'linkPort' | 'metricsPort' | 'identitySeed'>[] = [{ name: 'gateway-1', family: 'operator-gateway', role: 'gateway', layer: 0 }];
  for (const layer of [1, 2, 3]) for (const i of perLayer) shapes.push({ name: `mix-${layer}-${i}`, family: `operator-mix-${layer}`, role: 'mix', layer });
  for (const i of perLayer) shapes.push({ name: `provider-${i}`, family: `operator-provider-${i}`, role: 'provider', layer: 4 });
  // Every port of the plan is distinct.
  const taken = new Set<number>();
  const nodes: NodePlan[] = [];
  for (const shape of shapes) {
    const identitySeed = toBase64Url(crypto.randomBytes(32));
    nodes.push({ ...shape, identitySeed, ...await drawNodePorts(shape.name, shape.role !== 'mix', allocate, taken) });
  }
  const authorities: AuthorityPlan[] = [];
  for (let i = 1; i <= authorityCount; i++) {
    const seed = crypto.randomBytes(32);
    const name = authorityCount === 1 ? 'authority' : `authority-${i}`;
    authorities.push({ name, seed: toBase64Url(seed), publicKey: toBase64Url(crypto.ed25519PublicKey(seed)), port: await distinctPort(allocate, name, taken) });
  }
  return {
    genesisMs: nowMs - (nowMs % 1000),
    epochMs,
    authorities,
    network: PARAMETER_SETS[parameters],
    nodes,
    users: [
      { name: 'alice', provider: 'provider-1' },
      { name: 'bob', provider: minimal ? 'provider-1' : 'provider-2' },
    ],
  };
}

async function drawNodePorts(name: string, withWs: boolean, allocate: PortAllocator, taken: Set<number>): Promise<Pick<NodePlan, 'linkPort' | 'wsPort' | 'metricsPort'>> {
  const linkPort = await distinctPort(allocate, name, taken);
  const metricsPort = await distinctPort(allocate, name, taken);
  return { linkPort, metricsPort, ...(withWs ? { wsPort: await distinctPort(allocate, name, taken) } : {}) };
}

/** Every port a plan names (its nodes' and its authorities'). */
export function portsOfPlan(plan: NetworkPlan): Set<number> {
  const ports = new Set<number>();
  for (const node of plan.nodes) for (const port of [node.linkPort, node.wsPort, node.metricsPort]) if (port !== undefined) ports.add(port);
  for (const authority of plan.authorities) ports.add(authority.port);
  return ports;
}

/**
 * The plan with new ports for the node or authority `name` (all of its ports: which one was taken
 * is not known), each distinct from every port the plan names now, its old ones included. For a
 * plan nobody has seen yet: the nodes learn each other's ports from the consensus, the authorities'
 * from their configs (rewritten), the users from network.json (written once the network is up).
 */
export async function withFreshPorts(plan: NetworkPlan, name: string, allocate: PortAllocator): Promise<NetworkPlan> {
  const taken = portsOfPlan(plan);
  const node = plan.nodes.find((n) => n.name === name);
  if (node !== undefined) {
    const ports = await drawNodePorts(name, node.wsPort !== undefined, allocate, taken);
    return { ...plan, nodes: plan.nodes.map((n) => (n === node ? { ...n, ...ports } : n)) };
  }
  const authority = plan.authorities.find((a) => a.name === name);
  if (authority === undefined) throw new TestnetError(`no node ${name}`);
  const port = await distinctPort(allocate, name, taken);
  return { ...plan, authorities: plan.authorities.map((a) => (a === authority ? { ...a, port } : a)) };
}
