import type { NodePlan } from './plan.js';

/** One directory authority of a local network, as network.json names it. */
export interface AuthorityInfo {
  readonly name: string;
  readonly url: string;
  readonly publicKey: string;
}

/** `network.json`, which `umbra up` writes: where each node and user of a local network is. */
export interface NetworkFile {
  readonly dir: string;
  readonly genesisMs: number;
  readonly epochMs: number;
  /** The first authority (the one users ask; they trust all). */
  readonly authority: { readonly url: string; readonly publicKey: string };
  /** Every authority (network.json always has them; optional for hand-made files). */
  readonly authorities?: readonly AuthorityInfo[];
  readonly nodes: readonly (Omit<NodePlan, 'identitySeed'> & { readonly nodeId?: string; readonly wsUrl?: string; readonly metricsUrl?: string; readonly mirrorUrl?: string })[];
  readonly users: readonly { readonly name: string; readonly provider: string; readonly dir: string }[];
}
