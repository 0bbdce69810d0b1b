import { ConfigProblems, isJsonObject, parseJsonObject, type JsonObject } from '../../codec/schema.js';
import type { NodeRole } from '../../pki/index.js';
import { DEFAULT_GEOMETRY, type GeometryOptions, type SuiteName } from '../../sphinx/index.js';
import {
  defaultPollMs,
  LINK_KEYS,
  MIX_ATTACKS,
  NODE_DEFAULTS,
  NODE_ROLES,
  NodeConfigError,
  nodeConfigProblems,
  parseKey32,
  type MixAttack,
  type NodeConfig,
  type NodeLinkOptions,
  type ProviderStoreOptions,
} from './config.js';

/** The JSON form of a node's configuration (docs/nodes.md, "Configuration"). */
const TOP_LEVEL_KEYS = [
  'role', 'name', 'family', 'bandwidth', 'layer', 'host', 'advertiseHost', 'linkPort', 'wsPort', 'metricsPort', 'metricsHost', 'metricsToken', 'dataDir',
  'identitySeed', 'linkSeed', 'authorityUrls', 'authorities', 'genesisMs', 'epochMs', 'graceMs',
  'suite', 'geometry', 'replayFilterLog2Bits', 'scheduleCapacity', 'consensusPollMs', 'link',
  'maxClients', 'store', 'maxResponseBytes', 'maxClientsPerAddress', 'clientIdleTimeoutMs',
  'clientHandshakeTimeoutMs', 'expectedClients', 'attackForTests', 'unwrapWorkers', 'testDropFraction',
  'recordPacketsForTests',
];
const STORE_KEYS = ['path', 'maxDatabaseBytes', 'retentionMs', 'postgres'];
const GEOMETRY_KEYS = ['hops', 'userForwardPayloadLength', 'withSurb'];

/**
 * Turns a parsed JSON configuration (or its text) into a NodeConfig, filling defaults. Throws
 * NodeConfigError listing every problem found (unknown fields too, to catch typos).
 */
export function validateNodeConfig(json: unknown): NodeConfig {
  const input = parseJsonObject(json, (problem) => new NodeConfigError([problem]));
  const problems = new ConfigProblems();
  problems.unknownFields(input, TOP_LEVEL_KEYS);
  const role = input.role as NodeRole;
  if (!NODE_ROLES.includes(role)) problems.add('role is required: "gateway", "mix" or "provider"');

  const layerDefault = role === 'gateway' ? 0 : role === 'provider' ? 4 : undefined;
  const layer = problems.integer(input, 'layer', 'layer', layerDefault);
  const host = input.host ?? NODE_DEFAULTS.host;
  if (typeof host !== 'string') problems.add('host must be a string');
  const advertiseHost = input.advertiseHost ?? host;
  if (typeof advertiseHost !== 'string') problems.add('advertiseHost must be a string');
  const linkPort = problems.integer(input, 'linkPort', 'linkPort', 0);
  const wsPort = role === 'mix' && input.wsPort === undefined ? undefined : problems.integer(input, 'wsPort', 'wsPort', 0);
  const metricsPort = problems.integer(input, 'metricsPort', 'metricsPort', 0);
  const metricsHost = input.metricsHost ?? NODE_DEFAULTS.metricsHost;
  if (typeof metricsHost !== 'string') problems.add('metricsHost must be a string');
  if (input.metricsToken !== undefined && typeof input.metricsToken !== 'string') problems.add('metricsToken must be a string');
  if (typeof input.dataDir !== 'string' || input.dataDir === '') problems.add('dataDir is required (a directory path)');
  const dataDir = typeof input.dataDir === 'string' ? input.dataDir : '';
  const { authorityUrls, authorities } = readAuthorities(input, problems);
  const genesisMs = problems.integer(input, 'genesisMs', 'genesisMs', undefined);
  const epochMs = problems.integer(input, 'epochMs', 'epochMs', NODE_DEFAULTS.epochMs);
  const epochKnown = Number.isSafeInteger(epochMs) && epochMs > 0;
  const graceMs = problems.integer(input, 'graceMs', 'graceMs', epochKnown ? Math.floor(epochMs / 4) : 0);
  const geometry = readGeometry(input, problems);
  const replayFilterLog2Bits = problems.integer(input, 'replayFilterLog2Bits', 'replayFilterLog2Bits', NODE_DEFAULTS.replayFilterLog2Bits);
  const scheduleCapacity = problems.integer(input, 'scheduleCapacity', 'scheduleCapacity', NODE_DEFAULTS.scheduleCapacity);
  if (role !== 'mix' && input.unwrapWorkers !== undefined) problems.add('unwrapWorkers: only a mix has unwrap workers');
  const unwrapWorkers = input.unwrapWorkers === undefined ? undefined : problems.integer(input, 'unwrapWorkers', 'unwrapWorkers', undefined);
  const consensusPollMs = problems.integer(input, 'consensusPollMs', 'consensusPollMs', epochKnown ? defaultPollMs(epochMs) : 1000);
  const link = readLink(input, problems);
  const maxClients = problems.integer(input, 'maxClients', 'maxClients', NODE_DEFAULTS.maxClients);
  const clientLimits = {
    maxClientsPerAddress: problems.integer(input, 'maxClientsPerAddress', 'maxClientsPerAddress', NODE_DEFAULTS.maxClientsPerAddress),
    clientIdleTimeoutMs: problems.integer(input, 'clientIdleTimeoutMs', 'clientIdleTimeoutMs', NODE_DEFAULTS.clientIdleTimeoutMs),
    clientHandshakeTimeoutMs: problems.integer(input, 'clientHandshakeTimeoutMs', 'clientHandshakeTimeoutMs', NODE_DEFAULTS.clientHandshakeTimeoutMs),
  };
  const expectedClients = problems.integer(input, 'expectedClients', 'expectedClients', NODE_DEFAULTS.expectedClients);
  const store = readStore(input, role, dataDir, epochKnown ? epochMs : undefined, problems);
  if (role !== 'provider' && input.maxResponseBytes !== undefined) problems.add('maxResponseBytes: only a provider answers fetches');
  const maxResponseBytes = problems.integer(input, 'maxResponseBytes', 'maxResponseBytes', NODE_DEFAULTS.maxResponseBytes);
  if (input.attackForTests !== undefined && !(isMixAttack(input.attackForTests) && role === 'mix')) problems.add(`attackForTests: one of ${MIX_ATTACKS.join(', ')}, and only on a mix`);
  if (input.recordPacketsForTests !== undefined && (typeof input.recordPacketsForTests !== 'string' || input.recordPacketsForTests === '')) problems.add('recordPacketsForTests: a file path');

  const config: NodeConfig = {
    role,
    name: input.name as string,
    ...(input.family === undefined ? {} : { family: input.family as string }),
    ...(input.bandwidth === undefined ? {} : { bandwidth: problems.integer(input, 'bandwidth', 'bandwidth', undefined) }),
    layer,
    host: typeof host === 'string' ? host : NODE_DEFAULTS.host,
    advertiseHost: typeof advertiseHost === 'string' ? advertiseHost : NODE_DEFAULTS.host,
    linkPort,
    wsPort,
    metricsPort,
    metricsHost: typeof metricsHost === 'string' ? metricsHost : NODE_DEFAULTS.metricsHost,
    metricsToken: typeof input.metricsToken === 'string' ? input.metricsToken : undefined,
    dataDir,
    identitySeed: readSeed(input, 'identitySeed', problems),
    linkSeed: readSeed(input, 'linkSeed', problems),
    authorityUrls,
    authorities,
    genesisMs,
    epochMs,
    graceMs,
    suite: (input.suite ?? 'umbra-v1') as SuiteName,
    geometry,
    replayFilterLog2Bits,
    expectedClients,
    scheduleCapacity,
    ...(unwrapWorkers === undefined ? {} : { unwrapWorkers }),
    consensusPollMs,
    link,
    maxClients,
    ...clientLimits,
    store,
    maxResponseBytes,
    ...(isMixAttack(input.attackForTests) ? { attackForTests: input.attackForTests } : {}),
    ...(input.testDropFraction === undefined ? {} : { testDropFraction: input.testDropFraction as number }),
    ...(typeof input.recordPacketsForTests === 'string' ? { recordPacketsForTests: input.recordPacketsForTests } : {}),
  };
  problems.addUnreported(nodeConfigProblems(config));
  if (problems.list.length > 0) throw new NodeConfigError(problems.list);
  return config;
}

function readSeed(input: JsonObject, name: 'identitySeed' | 'linkSeed', problems: ConfigProblems): Uint8Array | undefined {
  const value = input[name];
  if (value === undefined) return undefined;
  const bytes = parseKey32(value);
  if (bytes === undefined) problems.add(`${name} must be 32 bytes as 64 hex digits or unpadded base64url`);
  return bytes ?? new Uint8Array(0);
}

function readAuthorities(input: JsonObject, problems: ConfigProblems): { authorityUrls: string[]; authorities: Uint8Array[] } {
  let authorityUrls: string[] = [];
  if (!Array.isArray(input.authorityUrls) || input.authorityUrls.some((url) => typeof url !== 'string')) {
    problems.add('authorityUrls must be an array of URLs (strings)');
  } else {
    authorityUrls = input.authorityUrls as string[];
  }
  let authorities: Uint8Array[] = [];
  if (!Array.isArray(input.authorities)) {
    problems.add('authorities must be an array of public keys (hex or base64url)');
  } else {
    authorities = input.authorities.map((value, i) => {
      const key = parseKey32(value);
      if (key === undefined) problems.add(`authorities[${i}] must be 32 bytes as 64 hex digits or unpadded base64url`);
      return key ?? new Uint8Array(32);
    });
  }
  return { authorityUrls, authorities };
}

function readGeometry(input: JsonObject, problems: ConfigProblems): GeometryOptions {
  if (input.geometry === undefined) return DEFAULT_GEOMETRY;
  if (!isJsonObject(input.geometry)) {
    problems.add('geometry must be an object');
    return DEFAULT_GEOMETRY;
  }
  problems.unknownFields(input.geometry, GEOMETRY_KEYS, 'geometry.');
  return { ...DEFAULT_GEOMETRY, ...(input.geometry as Partial<GeometryOptions>) };
}

function readLink(input: JsonObject, problems: ConfigProblems): NodeLinkOptions {
  if (input.link === undefined) return {};
  if (!isJsonObject(input.link)) {
    problems.add('link must be an object');
    return {};
  }
  problems.unknownFields(input.link, LINK_KEYS, 'link.');
  return { ...input.link };
}

/** A provider's store settings with their defaults; undefined for other roles (which must not give any). */
function readStore(
  input: JsonObject,
  role: NodeRole,
  dataDir: string,
  epochMs: number | undefined,
  problems: ConfigProblems,
): ProviderStoreOptions | undefined {
  if (role !== 'provider') {
    if (input.store !== undefined) problems.add('store: only a provider has a mailbox store');
    return undefined;
  }
  let given: JsonObject = {};
  if (input.store !== undefined) {
    if (!isJsonObject(input.store)) {
      problems.add('store must be an object');
    } else {
      given = input.store;
      problems.unknownFields(given, STORE_KEYS, 'store.');
    }
  }
  const path = given.path ?? (dataDir === '' ? '' : `${dataDir.replace(/[\\/]+$/, '')}/mailbox.sqlite`);
  if (typeof path !== 'string') problems.add('store.path must be a string');
  const maxDatabaseBytes = given.maxDatabaseBytes === undefined ? undefined : problems.integer(given, 'maxDatabaseBytes', 'store.maxDatabaseBytes', undefined);
  const postgres = readPostgres(given.postgres, problems);
  return {
    path: typeof path === 'string' ? path : '',
    ...(postgres === undefined ? {} : { postgres }),
    ...(maxDatabaseBytes === undefined ? {} : { maxDatabaseBytes }),
    retentionMs: problems.integer(given, 'retentionMs', 'store.retentionMs', Math.max(NODE_DEFAULTS.retentionMs, epochMs === undefined ? 0 : 2 * epochMs)),
  };
}

function readPostgres(given: unknown, problems: ConfigProblems): ProviderStoreOptions['postgres'] {
  if (given === undefined) return undefined;
  if (!isJsonObject(given) || typeof given.url !== 'string' || !/^postgres(ql)?:\/\//.test(given.url)) {
    problems.add('store.postgres must be { "url": "postgres://…", "schema"?: "name" }');
    return undefined;
  }
  if (given.schema !== undefined && (typeof given.schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(given.schema))) {
    problems.add('store.postgres.schema must be 1 to 63 of a-z, 0-9 and _');
    return undefined;
  }
  return { url: given.url, ...(typeof given.schema === 'string' ? { schema: given.schema } : {}) };
}

function isMixAttack(value: unknown): value is MixAttack {
  return (MIX_ATTACKS as readonly unknown[]).includes(value);
}
