import { fromBase64Url, sameBytes } from '../../codec/bytes.js';
import { ConfigProblems, intIn, isJsonObject, parseJsonObject, ConfigError, type JsonObject } from '../../codec/schema.js';
import { getCrypto } from '../../crypto/index.js';
import type { Crypto } from '../../crypto/types.js';
import { MAX_THROUGHPUT_CHUNKS } from '../../net/throughput-probe.js';
import {
  DEFAULT_NETWORK_PARAMETERS,
  MAX_CONSENSUS_NODES,
  MAX_CONSENSUS_SIGNATURES,
  MAX_EPOCH_MS,
  networkParametersProblems,
  type NetworkParameters,
} from '../../pki/index.js';

/**
 * The authority's configuration (docs/pki.md, "Authority configuration"). In JSON, keys are
 * base64url (unpadded) strings; validateAuthorityConfig turns the JSON into this typed form and
 * fills the defaults.
 */
export interface AuthorityConfig {
  /** Where to listen; port 0 picks a free port. Default 127.0.0.1:0. */
  readonly listen: { readonly host: string; readonly port: number };
  /** The authority's Ed25519 identity seed (32 bytes); its public key signs the documents. */
  readonly identitySeed: Uint8Array;
  /** Every authority's Ed25519 public key, this one's included. */
  readonly authorities: readonly Uint8Array[];
  readonly genesisMs: number;
  readonly epochMs: number;
  /** How long a document stays valid after its epoch ends. Default a quarter epoch. */
  readonly graceMs: number;
  /** How long before an epoch starts its document is made. Default a quarter epoch. */
  readonly publishLeadMs: number;
  readonly network: NetworkParameters;
  /** Holds consensus/<epoch>.bin and descriptors/<epoch>/<node ID hex>.bin. */
  readonly dataDir: string;
  /** How many of the newest documents are kept (in memory and on disk). Default 16. */
  readonly retainEpochs: number;
  /**
   * Only descriptors of these node IDs are accepted. Required unless `openAdmission` is true: node
   * IDs are self-chosen keys, so an open authority lets anyone list nodes (docs/pki.md, "Admission").
   */
  readonly allowedNodes?: readonly Uint8Array[];
  /** Accept a descriptor from any node ID (a closed test network only). Default false. */
  readonly openAdmission?: boolean;
  /** The most descriptors held for one epoch. Default (and at most) MAX_CONSENSUS_NODES. */
  readonly maxNodesPerEpoch: number;
  /**
   * How often this authority probes every node of the current document (docs/network.md,
   * "Authority probes"); 0: never. Default a 16th of an epoch, 250 ms..60 s.
   */
  readonly probeIntervalMs: number;
  /** How long a probe waits for the node's TLS handshake, and a throughput probe for its answer. Default 5 s. */
  readonly probeTimeoutMs: number;
  /**
   * The size of a throughput probe (docs/network.md, "Measured bandwidth"), in 64 KiB chunks,
   * 0..64; 0: none (bandwidths are not measured). Default DEFAULT_THROUGHPUT_CHUNKS (1 MiB).
   */
  readonly probeThroughputChunks?: number;
  /** Where every other listed authority answers ("https://host:port"; its certificate must carry `publicKey`), by its public key. */
  readonly peers: readonly AuthorityPeer[];
  /**
   * Test networks only: this authority votes dishonestly (an extra node of its own making, and/or
   * this mean delay), to show that a minority is outvoted (docs/pki.md, "Threat model").
   */
  readonly dishonestVote?: { readonly extraNode: boolean; readonly meanDelayMs?: number };
}

export interface AuthorityPeer {
  readonly publicKey: Uint8Array;
  readonly url: string;
}

export class AuthorityConfigError extends ConfigError {
  constructor(problems: readonly string[]) {
    super('invalid authority configuration', problems);
    this.name = 'AuthorityConfigError';
  }
}

export const DEFAULT_EPOCH_MS = 20 * 60 * 1000;
export const DEFAULT_RETAIN_EPOCHS = 16;
const TOP_LEVEL_KEYS = [
  'listen',
  'identitySeed',
  'authorities',
  'threshold',
  'genesisMs',
  'epochMs',
  'graceMs',
  'publishLeadMs',
  'network',
  'dataDir',
  'retainEpochs',
  'allowedNodes',
  'openAdmission',
  'maxNodesPerEpoch',
  'probeIntervalMs',
  'probeTimeoutMs',
  'probeThroughputChunks',
  'peers',
  'dishonestVote',
];
const URL_PATTERN = /^https:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?\/?$/;
const NETWORK_KEYS = ['suite', 'geometry', 'mixing', 'traffic', 'retrieval', 'pir', 'retentionMs', 'reliability'];

/** A throughput probe of 16 chunks: 1 MiB. */
export const DEFAULT_THROUGHPUT_CHUNKS = 16;

/** A 16th of an epoch, 250 ms..60 s (so 16 probes of each node per epoch for epochs of 4 s..16 min). */
export function defaultProbeIntervalMs(epochMs: number): number {
  return Number.isSafeInteger(epochMs) ? Math.min(60_000, Math.max(250, Math.floor(epochMs / 16)), Math.max(100, epochMs)) : 0;
}

/** "host:port" with port 0..65535 (0: any free port). */
export function parseListen(text: unknown): { host: string; port: number } | undefined {
  if (typeof text !== 'string') return undefined;
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(0|[1-9][0-9]{0,4})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port > 65535) return undefined;
  const host = match[1].startsWith('[') ? match[1].slice(1, -1) : match[1];
  return { host, port };
}

/**
 * Every problem of a typed configuration (empty when there is none): cross-field rules, and that
 * the identity's public key is among the authorities.
 */
export function authorityConfigProblems(config: AuthorityConfig, crypto: Crypto = getCrypto()): string[] {
  const problems: string[] = [];
  if (!(config.identitySeed instanceof Uint8Array) || config.identitySeed.length !== 32) problems.push('identitySeed must be 32 bytes');
  if (!Array.isArray(config.authorities) || config.authorities.length === 0) {
    problems.push('authorities must list at least one key');
  } else {
    if (config.authorities.length > MAX_CONSENSUS_SIGNATURES) problems.push(`authorities: at most ${MAX_CONSENSUS_SIGNATURES}`);
    if (config.authorities.some((key) => !(key instanceof Uint8Array) || key.length !== 32)) problems.push('authorities: every key must be 32 bytes');
    else if (config.authorities.some((key, i) => config.authorities.findIndex((other) => sameBytes(other, key)) !== i)) problems.push('authorities: a key is listed twice');
    if (config.identitySeed instanceof Uint8Array && config.identitySeed.length === 32) {
      const own = crypto.ed25519PublicKey(config.identitySeed);
      if (!config.authorities.some((key) => key instanceof Uint8Array && sameBytes(key, own))) {
        problems.push("authorities must include this authority's own public key");
      }
    }
  }
  if (!intIn(config.genesisMs, 0, Number.MAX_SAFE_INTEGER)) problems.push('genesisMs must be a non-negative integer (Unix ms)');
  const epochOk = intIn(config.epochMs, 100, MAX_EPOCH_MS);
  if (!epochOk) problems.push(`epochMs must be an integer in 100..${MAX_EPOCH_MS}`);
  if (!Number.isSafeInteger(config.graceMs) || config.graceMs < 0 || (epochOk && config.graceMs > config.epochMs)) {
    problems.push('graceMs must be an integer in 0..epochMs');
  }
  if (!Number.isSafeInteger(config.publishLeadMs) || config.publishLeadMs < 0 || (epochOk && config.publishLeadMs >= config.epochMs)) {
    problems.push('publishLeadMs must be an integer in 0..epochMs - 1');
  }
  problems.push(...networkParametersProblems(config.network).map((problem) => `network: ${problem}`));
  if (typeof config.dataDir !== 'string' || config.dataDir === '') problems.push('dataDir must be a non-empty path');
  if (!intIn(config.retainEpochs, 2, 100_000)) {
    problems.push('retainEpochs must be an integer in 2..100000');
  }
  if (config.allowedNodes !== undefined && (!Array.isArray(config.allowedNodes) || config.allowedNodes.some((key) => !(key instanceof Uint8Array) || key.length !== 32))) {
    problems.push('allowedNodes: every key must be 32 bytes');
  }
  if (config.openAdmission !== undefined && typeof config.openAdmission !== 'boolean') problems.push('openAdmission must be true or false');
  if (config.allowedNodes === undefined && config.openAdmission !== true) {
    problems.push('allowedNodes is required (the node IDs admitted), unless openAdmission is true');
  }
  if (!intIn(config.maxNodesPerEpoch, 1, MAX_CONSENSUS_NODES)) {
    problems.push(`maxNodesPerEpoch must be an integer in 1..${MAX_CONSENSUS_NODES}`);
  }
  if (!Number.isSafeInteger(config.probeIntervalMs) || (config.probeIntervalMs !== 0 && (config.probeIntervalMs < 100 || (epochOk && config.probeIntervalMs > config.epochMs)))) {
    problems.push('probeIntervalMs must be 0 (no probes) or an integer in 100..epochMs');
  }
  if (!intIn(config.probeTimeoutMs, 50, 60_000)) problems.push('probeTimeoutMs must be an integer in 50..60000');
  if (config.probeThroughputChunks !== undefined && !intIn(config.probeThroughputChunks, 0, MAX_THROUGHPUT_CHUNKS)) {
    problems.push(`probeThroughputChunks must be an integer in 0..${MAX_THROUGHPUT_CHUNKS}`);
  }
  problems.push(...peerProblems(config, crypto));
  const lie = config.dishonestVote;
  if (lie !== undefined && (typeof lie.extraNode !== 'boolean' || (lie.meanDelayMs !== undefined && !intIn(lie.meanDelayMs, 0, 0xffffffff)))) {
    problems.push('dishonestVote must be { extraNode: boolean, meanDelayMs?: integer }');
  }
  return problems;
}

/** Every other listed authority has exactly one peer entry (a URL), and nothing else does. */
function peerProblems(config: AuthorityConfig, crypto: Crypto): string[] {
  if (!Array.isArray(config.peers)) return ['peers must be an array of { publicKey, url }'];
  if (!Array.isArray(config.authorities) || !(config.identitySeed instanceof Uint8Array) || config.identitySeed.length !== 32) return [];
  const problems: string[] = [];
  const own = crypto.ed25519PublicKey(config.identitySeed);
  config.peers.forEach((peer, i) => {
    if (typeof peer.url !== 'string' || !URL_PATTERN.test(peer.url)) problems.push(`peers[${i}].url must be an https:// URL without a path (the authority API is TLS only; cleartext http:// is refused)`);
    if (!(peer.publicKey instanceof Uint8Array) || !config.authorities.some((key) => sameBytes(key, peer.publicKey))) problems.push(`peers[${i}].publicKey is not among the authorities`);
    else if (sameBytes(peer.publicKey, own)) problems.push(`peers[${i}] is this authority itself`);
    else if (config.peers.findIndex((other) => other.publicKey instanceof Uint8Array && sameBytes(other.publicKey, peer.publicKey)) !== i) problems.push(`peers[${i}] is listed twice`);
  });
  for (const key of config.authorities) {
    if (key instanceof Uint8Array && key.length === 32 && !sameBytes(key, own) && !config.peers.some((peer) => peer.publicKey instanceof Uint8Array && sameBytes(peer.publicKey, key))) {
      problems.push('peers must give a URL for every other authority');
      break;
    }
  }
  return problems;
}

/**
 * Turns a parsed JSON configuration (or its text) into an AuthorityConfig, filling defaults.
 * Throws AuthorityConfigError listing every problem found (unknown keys included, to catch typos).
 */
export function validateAuthorityConfig(json: unknown, crypto: Crypto = getCrypto()): AuthorityConfig {
  const input = parseJsonObject(json, (problem) => new AuthorityConfigError([problem]));
  const problems = new ConfigProblems();
  problems.unknownFields(input, TOP_LEVEL_KEYS);
  const key32 = (value: unknown, what: string): Uint8Array => readKey32(value, what, problems);
  const integer = (name: string, fallback: number | undefined): number => problems.integer(input, name, name, fallback);

  const listen = parseListen(input.listen ?? '127.0.0.1:0');
  if (listen === undefined) problems.add('listen must be "host:port" (port 0..65535)');
  const identitySeed = key32(input.identitySeed, 'identitySeed');
  let authorities: Uint8Array[] = [];
  if (!Array.isArray(input.authorities)) problems.add('authorities must be an array of base64url public keys');
  else authorities = input.authorities.map((value, i) => key32(value, `authorities[${i}]`));
  if (input.threshold !== undefined) problems.add('threshold cannot be set: a document needs a majority of the authorities (docs/pki.md)');
  const peers = readPeers(input.peers, problems);
  const dishonestVote = isJsonObject(input.dishonestVote)
    ? { extraNode: input.dishonestVote.extraNode === true, ...(typeof input.dishonestVote.meanDelayMs === 'number' ? { meanDelayMs: input.dishonestVote.meanDelayMs } : {}) }
    : undefined;
  if (input.dishonestVote !== undefined && dishonestVote === undefined) problems.add('dishonestVote must be an object');
  const genesisMs = integer('genesisMs', undefined);
  const epochMs = integer('epochMs', DEFAULT_EPOCH_MS);
  const quarter = Number.isSafeInteger(epochMs) ? Math.floor(epochMs / 4) : 0;
  const graceMs = integer('graceMs', quarter);
  const publishLeadMs = integer('publishLeadMs', quarter);
  const retainEpochs = integer('retainEpochs', DEFAULT_RETAIN_EPOCHS);
  const maxNodesPerEpoch = integer('maxNodesPerEpoch', MAX_CONSENSUS_NODES);
  const probeIntervalMs = integer('probeIntervalMs', defaultProbeIntervalMs(epochMs));
  const probeTimeoutMs = integer('probeTimeoutMs', 5000);
  const probeThroughputChunks = integer('probeThroughputChunks', DEFAULT_THROUGHPUT_CHUNKS);
  let allowedNodes: Uint8Array[] | undefined;
  if (input.allowedNodes !== undefined) {
    if (!Array.isArray(input.allowedNodes)) problems.add('allowedNodes must be an array of base64url public keys');
    else allowedNodes = input.allowedNodes.map((value, i) => key32(value, `allowedNodes[${i}]`));
  }
  if (input.openAdmission !== undefined && typeof input.openAdmission !== 'boolean') problems.add('openAdmission must be true or false');
  const openAdmission = input.openAdmission === true;
  if (typeof input.dataDir !== 'string' || input.dataDir === '') problems.add('dataDir is required (a directory path)');
  const network = readNetwork(input.network, problems);

  const config: AuthorityConfig = {
    listen: listen ?? { host: '127.0.0.1', port: 0 },
    identitySeed,
    authorities,
    genesisMs,
    epochMs,
    graceMs,
    publishLeadMs,
    network,
    dataDir: typeof input.dataDir === 'string' ? input.dataDir : '',
    retainEpochs,
    ...(allowedNodes === undefined ? {} : { allowedNodes }),
    ...(openAdmission ? { openAdmission } : {}),
    maxNodesPerEpoch,
    probeIntervalMs,
    probeTimeoutMs,
    probeThroughputChunks,
    peers,
    ...(dishonestVote === undefined ? {} : { dishonestVote }),
  };
  // Re-check the typed form, skipping what was already reported as missing or malformed.
  problems.addUnreported(authorityConfigProblems(config, crypto));
  if (problems.list.length > 0) throw new AuthorityConfigError(problems.list);
  return config;
}

function readPeers(given: unknown, problems: ConfigProblems): AuthorityPeer[] {
  if (given === undefined) return [];
  if (!Array.isArray(given)) {
    problems.add('peers must be an array of { publicKey, url }');
    return [];
  }
  return given.map((peer, i) => {
    if (!isJsonObject(peer)) {
      problems.add(`peers[${i}] must be an object { publicKey, url }`);
      return { publicKey: new Uint8Array(0), url: '' };
    }
    problems.unknownFields(peer, ['publicKey', 'url'], `peers[${i}].`);
    return { publicKey: readKey32(peer.publicKey, `peers[${i}].publicKey`, problems), url: typeof peer.url === 'string' ? peer.url.replace(/\/+$/, '') : '' };
  });
}

/** A 32-byte key written as unpadded base64url; reported (and empty) otherwise. */
function readKey32(value: unknown, what: string, problems: ConfigProblems): Uint8Array {
  if (typeof value === 'string') {
    try {
      const bytes = fromBase64Url(value, what, 32);
      if (bytes.length === 32) return bytes;
    } catch {
      // reported below
    }
  }
  problems.add(`${what} must be a base64url string of 32 bytes`);
  return new Uint8Array(0);
}

/** The network parameters: the defaults, with what `given` sets (each nested object merged field by field). */
function readNetwork(given: unknown, problems: ConfigProblems): NetworkParameters {
  if (given === undefined) return DEFAULT_NETWORK_PARAMETERS;
  if (!isJsonObject(given)) {
    problems.add('network must be an object');
    return DEFAULT_NETWORK_PARAMETERS;
  }
  problems.unknownFields(given, NETWORK_KEYS, 'network.');
  const merged = (name: 'geometry' | 'mixing' | 'traffic' | 'pir' | 'reliability'): JsonObject => {
    const defaults = DEFAULT_NETWORK_PARAMETERS[name];
    const value = given[name];
    if (value === undefined) return { ...defaults };
    if (!isJsonObject(value)) {
      problems.add(`network.${name} must be an object`);
      return { ...defaults };
    }
    problems.unknownFields(value, Object.keys(defaults), `network.${name}.`);
    return { ...defaults, ...value };
  };
  return {
    suite: (given.suite ?? DEFAULT_NETWORK_PARAMETERS.suite) as NetworkParameters['suite'],
    geometry: merged('geometry') as unknown as NetworkParameters['geometry'],
    mixing: merged('mixing') as unknown as NetworkParameters['mixing'],
    traffic: merged('traffic') as unknown as NetworkParameters['traffic'],
    retrieval: (given.retrieval ?? DEFAULT_NETWORK_PARAMETERS.retrieval) as NetworkParameters['retrieval'],
    pir: merged('pir') as unknown as NetworkParameters['pir'],
    retentionMs: (given.retentionMs ?? DEFAULT_NETWORK_PARAMETERS.retentionMs) as number,
    reliability: merged('reliability') as unknown as NetworkParameters['reliability'],
  };
}
