import { fromBase64Url, sameBytes } from '../../codec/bytes.js';
import { intIn, isJsonObject, ConfigError } from '../../codec/schema.js';
import { MAX_BANDWIDTH, MAX_EPOCH_MS, MAX_CONSENSUS_SIGNATURES, PKI_SUITE_NAMES, parseHostPort, type NodeRole } from '../../pki/index.js';
import { familyProblem, nameProblem } from '../../pki/fields.js';
import { MAX_HOPS_LIMIT, type GeometryOptions, type SuiteName } from '../../sphinx/index.js';
import { httpsUrlProblems } from '../../net/pinned-https.js';

/**
 * The configuration of a gateway, mix or provider (docs/nodes.md, "Configuration").
 * `validateNodeConfig(json)` (config-json.ts) turns the parsed JSON (or its text) into this typed
 * form, filling the defaults, or throws NodeConfigError listing every problem (unknown fields
 * included); nodeConfigProblems re-checks a typed configuration.
 */
export interface NodeLinkOptions {
  readonly keepaliveMs?: number;
  readonly idleTimeoutMs?: number;
  readonly handshakeTimeoutMs?: number;
  /** Listener: most simultaneous TCP connections from strangers (pinned peers' links are not counted). Default 1024. */
  readonly maxConnections?: number;
  /** Listener: most simultaneous connections from one source address (IPv6: one /64) before a handshake proves a pinned peer. Default 8. */
  readonly maxConnectionsPerAddress?: number;
  /** Dialer: packets waiting per next hop while its link is down. */
  readonly maxQueuedPackets?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
}

/** The link options of `keys` that are set (the others keep the link layer's defaults). */
export function setLinkOptions<K extends keyof NodeLinkOptions>(link: NodeLinkOptions, keys: readonly K[]): Pick<NodeLinkOptions, K> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) if (link[key] !== undefined) out[key] = link[key];
  return out as Pick<NodeLinkOptions, K>;
}

export interface ProviderStoreOptions {
  /** The SQLite database file. Default `<dataDir>/mailbox.sqlite`. */
  readonly path: string;
  /** Quota: past it deliveries fail with 'full' (docs/mailbox.md advises one). Default none. */
  readonly maxDatabaseBytes?: number;
  /** Messages received longer ago than this are deleted. Default 7 days (the network's `retentionMs`); at least 2 epochs. */
  readonly retentionMs: number;
  /** Keep the mailbox in PostgreSQL instead of SQLite (docs/mailbox.md). */
  readonly postgres?: { readonly url: string; readonly schema?: string };
}

/** The attacks a test network's mix can play (src/node/mix/attacks.ts). */
export const MIX_ATTACKS = ['n-1', 'spare-loops'] as const;
export type MixAttack = (typeof MIX_ATTACKS)[number];

export interface NodeConfig {
  readonly role: NodeRole;
  /** 1..64 bytes of UTF-8, published in the descriptor. */
  readonly name: string;
  /**
   * The operator's name, published in the descriptor (letters, digits, '-', '_', '.', 1..64).
   * Nodes of one operator share it. Default: `node-` and the node ID's first 16 hex digits (a
   * family of its own).
   */
  readonly family?: string;
  /**
   * The Sphinx packets per second the node declares it carries (1..2^32 − 1), published in the
   * descriptor; the authorities cap it by what they measure (docs/network.md, "Measured
   * bandwidth"). Default DEFAULT_BANDWIDTH (1000).
   */
  readonly bandwidth?: number;
  /** 0 for a gateway, 1..3 for a mix, 4 for a provider. */
  readonly layer: number;
  /** Where every listener binds. Default 127.0.0.1. */
  readonly host: string;
  /** The host published in the descriptor. Default `host`; required when `host` is a wildcard. */
  readonly advertiseHost: string;
  /** TLS link listener; 0 = an ephemeral port. Default 0. */
  readonly linkPort: number;
  /** Client WebSocket listener (gateway and provider only); 0 = ephemeral. Default 0. */
  readonly wsPort: number | undefined;
  /** HTTP listener for /metrics, /healthz and the consensus mirror; 0 = ephemeral. Default 0. */
  readonly metricsPort: number;
  /** Where the /metrics listener binds. Default 127.0.0.1 (loopback only). */
  readonly metricsHost: string;
  /** Bearer token /metrics requires; required (16..256 printable ASCII) when metricsHost is not loopback. */
  readonly metricsToken: string | undefined;
  /** Holds the seeds (when generated), Sphinx keys, descriptors, replay journals, the mailbox database. */
  readonly dataDir: string;
  /** Ed25519 identity seed; undefined: read from (or generated into) `<dataDir>/identity.seed`. */
  readonly identitySeed: Uint8Array | undefined;
  /** Ed25519 link seed; undefined: read from (or generated into) `<dataDir>/link.seed`. */
  readonly linkSeed: Uint8Array | undefined;
  /**
   * Base URLs (https://) of the authorities: descriptors go to each, documents come from the first that
   * answers. Each server's TLS certificate must carry one of `authorities` (docs/links.md, "Authority API").
   */
  readonly authorityUrls: readonly string[];
  /** The trusted authorities' Ed25519 public keys (consensus signatures are checked against these). */
  readonly authorities: readonly Uint8Array[];
  /** Must equal the authority's. */
  readonly genesisMs: number;
  /** Must equal the authority's. Default 20 minutes. */
  readonly epochMs: number;
  /** How long after an epoch ends its Sphinx key still unwraps packets. Default epochMs / 4. */
  readonly graceMs: number;
  /** Must equal the consensus's. Default umbra-v1. */
  readonly suite: SuiteName;
  /** Must equal the consensus's. Default DEFAULT_GEOMETRY (5 hops, 2048 bytes, with SURB). */
  readonly geometry: GeometryOptions;
  /**
   * The largest generation of an epoch key's replay filter: 2^this bits (10..32). Default 24
   * (2 MiB; two generations per key). Smaller generations are used when the expected traffic fits.
   */
  readonly replayFilterLog2Bits: number;
  /** Clients the replay filter is sized for (docs/nodes.md, "Replay filter"). Default 10000. */
  readonly expectedClients: number;
  /** Most packets held in the mixing schedule (gateway, mix). Default 32768. */
  readonly scheduleCapacity: number;
  /**
   * Mix only: worker threads that unwrap Sphinx packets (0..64; 0 unwraps on the main thread).
   * Default: the machine's cores, at most 4 (none on a single core).
   */
  readonly unwrapWorkers?: number;
  /** How often the consensus is polled once the current document is held. Default min(30 s, epochMs / 8), at least 100 ms. */
  readonly consensusPollMs: number;
  readonly link: NodeLinkOptions;
  /** Open client WebSockets at most (gateway, provider). Default 4096. */
  readonly maxClients: number;
  /** Open client connections from one source address (IPv6: one /64) at most. Default 16. */
  readonly maxClientsPerAddress: number;
  /** A client connection with no traffic either way for this long is closed. Default 120000. */
  readonly clientIdleTimeoutMs: number;
  /** A client connection not upgraded to a WebSocket within this time is closed. Default 10000. */
  readonly clientHandshakeTimeoutMs: number;
  /** Provider only (filled with defaults for providers). */
  readonly store: ProviderStoreOptions | undefined;
  /** Provider only: the largest response to a fetch; larger ones are refused with 'too-large'. Default 8 MiB. */
  readonly maxResponseBytes: number;
  /**
   * Test networks only (`umbra up` test hook; src/node/mix/attacks.ts): 'n-1' makes a mix an
   * n−1 attacker that forwards one packet per epoch (the target's) and silently drops every other;
   * 'spare-loops' one that drops every packet on a hop client traffic takes and forwards the rest
   * (what it takes for loops).
   */
  readonly attackForTests?: MixAttack;
  /**
   * Test networks only, mix only: silently drop this fraction (0..1) of the packets it should
   * forward (a faulty or malicious mix, for the reliability tests). Default 0.
   */
  readonly testDropFraction?: number;
  /**
   * Test networks only (`umbra up` test hook; src/node/runtime/packet-record.ts): append one line
   * per packet event (arrival, departure, delivery; opaque hashes and connection indexes only) to
   * this file, for comparing the simulator with the real network. Off by default.
   */
  readonly recordPacketsForTests?: string;
}

export class NodeConfigError extends ConfigError {
  constructor(problems: readonly string[]) {
    super('invalid node configuration', problems);
    this.name = 'NodeConfigError';
  }
}

export const NODE_DEFAULTS = Object.freeze({
  metricsHost: '127.0.0.1',
  host: '127.0.0.1',
  epochMs: 20 * 60 * 1000,
  replayFilterLog2Bits: 24,
  scheduleCapacity: 32_768,
  maxClients: 4096,
  maxClientsPerAddress: 16,
  clientIdleTimeoutMs: 120_000,
  clientHandshakeTimeoutMs: 10_000,
  expectedClients: 10_000,
  retentionMs: 7 * 24 * 3600 * 1000,
  maxResponseBytes: 8 * 1024 * 1024,
});

export const NODE_ROLES: readonly NodeRole[] = ['gateway', 'mix', 'provider'];
export const LINK_KEYS = ['keepaliveMs', 'idleTimeoutMs', 'handshakeTimeoutMs', 'maxConnections', 'maxConnectionsPerAddress', 'maxQueuedPackets', 'reconnectInitialMs', 'reconnectMaxMs'];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]']);

/** True for a host that only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** A 32-byte key or seed written as 64 hex digits or as unpadded base64url; undefined if neither. */
export function parseKey32(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) {
    const out = new Uint8Array(32);
    for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  try {
    const bytes = fromBase64Url(text, 'key', 32);
    return bytes.length === 32 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** The default poll interval for an epoch length. */
export function defaultPollMs(epochMs: number): number {
  return Math.max(100, Math.min(30_000, Math.floor(epochMs / 8)));
}

function hostProblem(host: unknown): boolean {
  if (typeof host !== 'string') return true;
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return parseHostPort(`${bracketed}:1`) === undefined;
}

function portOk(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= 65535;
}

/** Every problem of a typed configuration (empty when there is none). */
export function nodeConfigProblems(config: NodeConfig): string[] {
  return [...placementProblems(config), ...authorityProblems(config), ...protocolProblems(config), ...providerProblems(config)];
}

/** Role, name, layer, addresses, ports, data directory and seeds. */
function placementProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  if (!NODE_ROLES.includes(config.role)) problems.push('role must be "gateway", "mix" or "provider"');
  const name = nameProblem(config.name);
  if (name !== undefined) problems.push(`name: ${name}`);
  if (config.family !== undefined) {
    const family = familyProblem(config.family);
    if (family !== undefined) problems.push(`family: ${family}`);
  }
  if (config.bandwidth !== undefined && !intIn(config.bandwidth, 1, MAX_BANDWIDTH)) problems.push(`bandwidth must be an integer in 1..${MAX_BANDWIDTH} (packets per second)`);
  if (config.role === 'gateway' && config.layer !== 0) problems.push('layer: a gateway is on layer 0');
  if (config.role === 'provider' && config.layer !== 4) problems.push('layer: a provider is on layer 4');
  if (config.role === 'mix' && !intIn(config.layer, 1, 3)) problems.push('layer: a mix needs layer 1, 2 or 3');
  if (hostProblem(config.host)) problems.push('host must be a hostname or an IP address');
  if (hostProblem(config.advertiseHost)) problems.push('advertiseHost must be a hostname or an IP address');
  else if (WILDCARD_HOSTS.has(config.advertiseHost)) problems.push('advertiseHost is required (and must not be a wildcard) when host is a wildcard address');
  if (!portOk(config.linkPort)) problems.push('linkPort must be an integer in 0..65535');
  if (!portOk(config.metricsPort)) problems.push('metricsPort must be an integer in 0..65535');
  problems.push(...metricsAccessProblems(config));
  if (config.role === 'mix') {
    if (config.wsPort !== undefined) problems.push('wsPort: a mix has no client WebSocket');
  } else if (!portOk(config.wsPort)) {
    problems.push('wsPort must be an integer in 0..65535');
  }
  const ports = [config.linkPort, config.wsPort, config.metricsPort].filter((port) => typeof port === 'number' && port > 0);
  if (new Set(ports).size !== ports.length) problems.push('linkPort, wsPort and metricsPort must differ (or be 0)');
  if (typeof config.dataDir !== 'string' || config.dataDir === '') problems.push('dataDir must be a non-empty path');
  for (const [field, seed] of [['identitySeed', config.identitySeed], ['linkSeed', config.linkSeed]] as const) {
    if (seed !== undefined && (!(seed instanceof Uint8Array) || seed.length !== 32)) problems.push(`${field} must be 32 bytes`);
  }
  return problems;
}

/** /metrics is for the operator: loopback, or a bearer token when bound elsewhere. */
function metricsAccessProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  if (hostProblem(config.metricsHost)) return ['metricsHost must be a hostname or an IP address'];
  const token = config.metricsToken;
  if (token !== undefined && (typeof token !== 'string' || !/^[\x21-\x7e]{16,256}$/.test(token))) {
    problems.push('metricsToken must be 16..256 printable ASCII characters without spaces');
  }
  if (token === undefined && !isLoopbackHost(config.metricsHost)) {
    problems.push('metricsToken is required when metricsHost is not a loopback address');
  }
  return problems;
}

function authorityProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  if (!Array.isArray(config.authorityUrls) || config.authorityUrls.length === 0 || config.authorityUrls.length > MAX_CONSENSUS_SIGNATURES) {
    problems.push(`authorityUrls must list 1..${MAX_CONSENSUS_SIGNATURES} URLs`);
  } else {
    config.authorityUrls.forEach((url, i) => problems.push(...httpsUrlProblems(`authorityUrls[${i}]`, url)));
  }
  if (!Array.isArray(config.authorities) || config.authorities.length === 0 || config.authorities.length > MAX_CONSENSUS_SIGNATURES) {
    problems.push(`authorities must list 1..${MAX_CONSENSUS_SIGNATURES} public keys`);
  } else if (config.authorities.some((key) => !(key instanceof Uint8Array) || key.length !== 32)) {
    problems.push('authorities: every key must be 32 bytes');
  } else if (config.authorities.some((key, i) => config.authorities.findIndex((other) => sameBytes(other, key)) !== i)) {
    problems.push('authorities: a key is listed twice');
  }
  return problems;
}

/** Timing, Sphinx and link parameters, and limits. */
function protocolProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  if (!intIn(config.genesisMs, 0, Number.MAX_SAFE_INTEGER)) problems.push('genesisMs must be a non-negative integer (Unix ms)');
  const epochOk = intIn(config.epochMs, 100, MAX_EPOCH_MS);
  if (!epochOk) problems.push(`epochMs must be an integer in 100..${MAX_EPOCH_MS}`);
  if (!intIn(config.graceMs, 0, epochOk ? config.epochMs : MAX_EPOCH_MS)) problems.push('graceMs must be an integer in 0..epochMs');
  if (!PKI_SUITE_NAMES.includes(config.suite)) problems.push(`suite must be one of ${PKI_SUITE_NAMES.join(', ')}`);
  const g = config.geometry;
  if (!isJsonObject(g)) {
    problems.push('geometry must be an object');
  } else {
    if (!intIn(g.hops, 5, MAX_HOPS_LIMIT)) problems.push(`geometry.hops must be an integer in 5..${MAX_HOPS_LIMIT}`);
    if (!intIn(g.userForwardPayloadLength, 1, 1 << 20)) problems.push('geometry.userForwardPayloadLength must be an integer in 1..1048576');
    if (typeof g.withSurb !== 'boolean') problems.push('geometry.withSurb must be a boolean');
  }
  if (!intIn(config.replayFilterLog2Bits, 10, 32)) problems.push('replayFilterLog2Bits must be an integer in 10..32');
  const drop = config.testDropFraction;
  if (drop !== undefined && (typeof drop !== 'number' || !(drop >= 0 && drop <= 1) || config.role !== 'mix')) problems.push('testDropFraction: a number in 0..1, for a mix only');
  if (!intIn(config.scheduleCapacity, 1, 10_000_000)) problems.push('scheduleCapacity must be an integer in 1..10000000');
  if (config.unwrapWorkers !== undefined && !intIn(config.unwrapWorkers, 0, 64)) problems.push('unwrapWorkers must be an integer in 0..64');
  if (!intIn(config.consensusPollMs, 10, 3_600_000)) problems.push('consensusPollMs must be an integer in 10..3600000');
  if (!isJsonObject(config.link)) {
    problems.push('link must be an object');
  } else {
    for (const key of LINK_KEYS) {
      const value = (config.link as Record<string, unknown>)[key];
      if (value !== undefined && !intIn(value, 1, 2 ** 31 - 1)) problems.push(`link.${key} must be a positive integer`);
    }
  }
  if (!intIn(config.maxClients, 1, 1_000_000)) problems.push('maxClients must be an integer in 1..1000000');
  if (!intIn(config.maxClientsPerAddress, 1, 1_000_000)) problems.push('maxClientsPerAddress must be an integer in 1..1000000');
  if (!intIn(config.clientIdleTimeoutMs, 1, 2 ** 31 - 1)) problems.push('clientIdleTimeoutMs must be a positive integer');
  if (!intIn(config.clientHandshakeTimeoutMs, 1, 2 ** 31 - 1)) problems.push('clientHandshakeTimeoutMs must be a positive integer');
  if (!intIn(config.expectedClients, 1, 1_000_000_000)) problems.push('expectedClients must be an integer in 1..1000000000');
  return problems;
}

function providerProblems(config: NodeConfig): string[] {
  const problems: string[] = [];
  const epochOk = intIn(config.epochMs, 100, MAX_EPOCH_MS);
  if (config.role === 'provider') {
    const store = config.store;
    if (!isJsonObject(store)) {
      problems.push('store must be an object');
    } else {
      if (typeof store.path !== 'string' || store.path === '') problems.push('store.path must be a non-empty path');
      if (store.maxDatabaseBytes !== undefined && !intIn(store.maxDatabaseBytes, 4096, Number.MAX_SAFE_INTEGER)) {
        problems.push('store.maxDatabaseBytes must be an integer of at least 4096');
      }
      const minimum = epochOk ? 2 * config.epochMs : 200;
      if (!intIn(store.retentionMs, minimum, Number.MAX_SAFE_INTEGER)) {
        problems.push('store.retentionMs must be an integer of at least two epochs (clients fetch the current and the previous epoch)');
      }
    }
    if (!intIn(config.maxResponseBytes, 1024, 1 << 30)) problems.push('maxResponseBytes must be an integer in 1024..2^30');
  } else if (config.store !== undefined) {
    problems.push('store: only a provider has a mailbox store');
  }
  return problems;
}
