import type { Crypto } from '../../src/crypto/types.js';
import {
  DEFAULT_NETWORK_PARAMETERS,
  makeDescriptor,
  type NetworkParameters,
  type NodeDescriptor,
  type NodeRole,
} from '../../src/pki/index.js';

/**
 * A small deterministic network for tests: every key comes from BLAKE2b of a label, so the same
 * arguments always give the same descriptors (and bytes).
 */
export interface FixtureNode {
  readonly identitySeed: Uint8Array;
  readonly linkSeed: Uint8Array;
  /** X25519 secrets for the descriptor's epoch and the next. */
  readonly sphinxSecrets: readonly [Uint8Array, Uint8Array];
  readonly descriptor: NodeDescriptor;
}

export interface FixtureOptions {
  readonly epoch: number;
  readonly gateways?: number;
  readonly mixesPerLayer?: number;
  readonly providers?: number;
  /** Varies every key, to make distinct networks. */
  readonly label?: string;
  readonly serial?: number;
  /** Base port; nodes get consecutive ports. */
  readonly port?: number;
}

export const TEST_NETWORK: NetworkParameters = DEFAULT_NETWORK_PARAMETERS;

const encoder = new TextEncoder();

export function testSeed(crypto: Crypto, label: string): Uint8Array {
  return crypto.blake2b(32, encoder.encode(`umbra test seed ${label}`));
}

export function makeFixtureNode(
  crypto: Crypto,
  label: string,
  role: NodeRole,
  layer: number,
  epoch: number,
  port: number,
  serial = 1,
  family = `op-${label}`.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64),
  identitySeed = testSeed(crypto, `${label} identity`),
): FixtureNode {
  const linkSeed = testSeed(crypto, `${label} link`);
  // A node's Sphinx key for an epoch does not depend on the descriptor's epoch.
  const sphinxSecrets = [testSeed(crypto, `${label} sphinx ${epoch}`), testSeed(crypto, `${label} sphinx ${epoch + 1}`)] as const;
  const descriptor = makeDescriptor(crypto, identitySeed, {
    epoch,
    serial,
    name: label,
    family,
    role,
    layer,
    addresses: role === 'mix' ? { link: `127.0.0.1:${port}` } : { link: `127.0.0.1:${port}`, ws: `127.0.0.1:${port + 1000}` },
    linkPublicKey: crypto.ed25519PublicKey(linkSeed),
    sphinxKeys: sphinxSecrets.map((secret, i) => ({ epoch: epoch + i, publicKey: crypto.x25519Base(secret) })),
  });
  return { identitySeed, linkSeed, sphinxSecrets, descriptor };
}

/** 1 gateway, 2 mixes per layer and 2 providers by default. */
export function makeFixtureNetwork(crypto: Crypto, options: FixtureOptions): FixtureNode[] {
  const { epoch, gateways = 1, mixesPerLayer = 2, providers = 2, label = 'net', serial = 1, port = 20000 } = options;
  const nodes: FixtureNode[] = [];
  let next = port;
  for (let i = 0; i < gateways; i++) nodes.push(makeFixtureNode(crypto, `${label}-gateway-${i}`, 'gateway', 0, epoch, next++, serial));
  for (const layer of [1, 2, 3]) {
    for (let i = 0; i < mixesPerLayer; i++) nodes.push(makeFixtureNode(crypto, `${label}-mix-${layer}-${i}`, 'mix', layer, epoch, next++, serial));
  }
  for (let i = 0; i < providers; i++) nodes.push(makeFixtureNode(crypto, `${label}-provider-${i}`, 'provider', 4, epoch, next++, serial));
  return nodes;
}
