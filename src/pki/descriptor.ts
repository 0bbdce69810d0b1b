import { ByteReader, ByteWriter, concatBytes, sameBytes } from '../codec/bytes.js';
import { LowOrderPointError } from '../crypto/errors.js';
import type { Crypto } from '../crypto/types.js';
import { PkiError } from './errors.js';
import {
  addressProblem,
  decodeUtf8,
  familyProblem,
  isBytes,
  KEY_BYTES,
  MAX_ADDRESS_BYTES,
  MAX_NAME_BYTES,
  nameProblem,
  SIGNATURE_BYTES,
} from './fields.js';

/**
 * A node descriptor (docs/pki.md, "Node descriptor"): what a node tells the authorities about
 * itself for one epoch, signed by its Ed25519 identity key (whose public key is the node ID).
 * The encoding is canonical binary: every value has exactly one encoding, and
 * decodeDescriptor(encodeDescriptor(d)) gives back d.
 */
export type NodeRole = 'gateway' | 'mix' | 'provider';

export const GATEWAY_LAYER = 0;
export const MIX_LAYERS: readonly number[] = Object.freeze([1, 2, 3]);
export const PROVIDER_LAYER = 4;
/** Layers on a client's path: gateway, three mix layers, provider (5 Sphinx hops). */
export const LAYER_COUNT = 5;

export interface NodeAddresses {
  /** "host:port" of the node's TLS link listener. */
  readonly link: string;
  /** "host:port" of the client WebSocket listener: required for gateways and providers, absent for mixes. */
  readonly ws?: string;
}

export interface SphinxKeyEntry {
  readonly epoch: number;
  /** X25519 public key, 32 bytes, not of small order. */
  readonly publicKey: Uint8Array;
}

export interface NodeDescriptor {
  readonly version: typeof DESCRIPTOR_VERSION;
  /** The epoch the descriptor is uploaded for. */
  readonly epoch: number;
  /**
   * Orders a node's descriptors for one epoch: a later one must have a larger serial. Nodes use the
   * Unix milliseconds at which they sign.
   */
  readonly serial: number;
  /** The node's Ed25519 identity public key: its Sphinx node ID. */
  readonly nodeId: Uint8Array;
  readonly name: string;
  /**
   * The node's operator: nodes of one family are run by one party. A path never uses two nodes
   * of one family, and a provider's PIR partner is of another family (docs/pki.md, "Families").
   */
  readonly family: string;
  readonly role: NodeRole;
  readonly layer: number;
  readonly addresses: NodeAddresses;
  /** Ed25519 public key of the node's self-signed TLS certificate (peers pin it). */
  readonly linkPublicKey: Uint8Array;
  /** Exactly two: for `epoch` and for `epoch + 1`, in that order, with different keys. */
  readonly sphinxKeys: readonly SphinxKeyEntry[];
  /**
   * The Sphinx packets per second the node declares it can carry (1..MAX_BANDWIDTH): path choice
   * weighs nodes by bandwidth × reliability (docs/network.md, "Reliability").
   */
  readonly bandwidth: number;
  /** Ed25519 by `nodeId` over DESCRIPTOR_SIGNATURE_LABEL ‖ the encoding before the signature. */
  readonly signature: Uint8Array;
}

/** What makeDescriptor needs; the node ID comes from the identity seed. */
export interface DescriptorFields {
  readonly epoch: number;
  readonly serial: number;
  readonly name: string;
  /** The operator's name (familyProblem's character set). */
  readonly family: string;
  readonly role: NodeRole;
  /** Required for mixes (1..3); for gateways (0) and providers (4) it may be left out. */
  readonly layer?: number;
  readonly addresses: NodeAddresses;
  readonly linkPublicKey: Uint8Array;
  /** Exactly `[{ epoch, publicKey }, { epoch: epoch + 1, publicKey }]`. */
  readonly sphinxKeys: readonly SphinxKeyEntry[];
  /** Declared packets per second; default DEFAULT_BANDWIDTH. */
  readonly bandwidth?: number;
}

/** 3: the declared bandwidth after the Sphinx keys. */
export const DESCRIPTOR_VERSION = 3;
export const DEFAULT_BANDWIDTH = 1000;
export const MAX_BANDWIDTH = 0xffffffff;
export const DESCRIPTOR_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x44]); // "UMBD"
export const DESCRIPTOR_SIGNATURE_LABEL = new TextEncoder().encode('umbra node descriptor v3');
const ROLE_CODES: Record<NodeRole, number> = { gateway: 0, mix: 1, provider: 2 };
const ROLES: readonly NodeRole[] = ['gateway', 'mix', 'provider'];

/** magic, version, epoch, serial, node ID, role, layer, name, family, link, ws, link key, 2 Sphinx keys, bandwidth, signature. */
const FIXED_BYTES = 4 + 1 + 8 + 8 + KEY_BYTES + 1 + 1 + 1 + 1 + 1 + 1 + KEY_BYTES + 2 * KEY_BYTES + 4 + SIGNATURE_BYTES;
export const MIN_DESCRIPTOR_BYTES = FIXED_BYTES + 1 + 1 + 3; // a 1-byte name and family, a 3-byte link address, no ws
export const MAX_DESCRIPTOR_BYTES = FIXED_BYTES + 2 * MAX_NAME_BYTES + 2 * MAX_ADDRESS_BYTES;
/** The largest epoch a descriptor may name (its epoch + 1 must stay a safe integer). */
export const MAX_DESCRIPTOR_EPOCH = Number.MAX_SAFE_INTEGER - 1;

/** A clamped scalar: X25519 of it and any small-order point is zero, of any other point not. */
const PROBE_SCALAR = new Uint8Array(32).fill(0x5a);

export function layerProblem(role: NodeRole, layer: number): string | undefined {
  if (role === 'gateway') return layer === GATEWAY_LAYER ? undefined : `a gateway is on layer ${GATEWAY_LAYER}`;
  if (role === 'provider') return layer === PROVIDER_LAYER ? undefined : `a provider is on layer ${PROVIDER_LAYER}`;
  if (role === 'mix') return MIX_LAYERS.includes(layer) ? undefined : 'a mix is on layer 1, 2 or 3';
  return 'the role is not gateway, mix or provider';
}

/** Every rule a descriptor's values must keep, except the signature and the X25519 order check. */
function descriptorProblem(d: Omit<NodeDescriptor, 'signature'>): string | undefined {
  if (d.version !== DESCRIPTOR_VERSION) return `version ${String(d.version)} is not ${DESCRIPTOR_VERSION}`;
  if (!Number.isSafeInteger(d.epoch) || d.epoch < 0 || d.epoch > MAX_DESCRIPTOR_EPOCH) return 'the epoch is not a non-negative safe integer';
  if (!Number.isSafeInteger(d.serial) || d.serial < 0) return 'the serial is not a non-negative safe integer';
  if (!isBytes(d.nodeId, KEY_BYTES)) return 'the node ID is not 32 bytes';
  const name = nameProblem(d.name);
  if (name !== undefined) return name;
  const family = familyProblem(d.family);
  if (family !== undefined) return family;
  if (!ROLES.includes(d.role)) return 'the role is not gateway, mix or provider';
  const layer = layerProblem(d.role, d.layer);
  if (layer !== undefined) return layer;
  if (typeof d.addresses !== 'object' || d.addresses === null) return 'the addresses are missing';
  const link = addressProblem('link', d.addresses.link);
  if (link !== undefined) return link;
  if (d.role === 'mix') {
    if (d.addresses.ws !== undefined) return 'a mix has no WebSocket address';
  } else {
    const ws = addressProblem('WebSocket', d.addresses.ws);
    if (ws !== undefined) return `${ws}; gateways and providers need one`;
  }
  if (!isBytes(d.linkPublicKey, KEY_BYTES)) return 'the link public key is not 32 bytes';
  const keys = d.sphinxKeys;
  if (!Array.isArray(keys) || keys.length !== 2) return 'there must be exactly two Sphinx keys';
  for (let i = 0; i < 2; i++) {
    const entry = keys[i] as SphinxKeyEntry;
    if (typeof entry !== 'object' || entry === null || entry.epoch !== d.epoch + i) {
      return `Sphinx key ${i} must be for epoch ${d.epoch + i}`;
    }
    if (!isBytes(entry.publicKey, KEY_BYTES)) return `Sphinx key ${i} is not 32 bytes`;
  }
  if (sameBytes(keys[0].publicKey, keys[1].publicKey)) return 'the two Sphinx keys must differ';
  if (!Number.isInteger(d.bandwidth) || d.bandwidth < 1 || d.bandwidth > MAX_BANDWIDTH) return `the bandwidth must be an integer in 1..${MAX_BANDWIDTH}`;
  return undefined;
}

function smallOrderKey(crypto: Crypto, keys: readonly SphinxKeyEntry[]): boolean {
  for (const { publicKey } of keys) {
    try {
      crypto.x25519(PROBE_SCALAR, publicKey);
    } catch (error) {
      if (error instanceof LowOrderPointError) return true;
      throw error;
    }
  }
  return false;
}

/** The signed part of the encoding (everything before the signature); values must be valid. */
function descriptorBody(d: Omit<NodeDescriptor, 'signature'>): Uint8Array {
  const writer = new ByteWriter(512)
    .bytes(DESCRIPTOR_MAGIC)
    .u8(DESCRIPTOR_VERSION)
    .u64(d.epoch)
    .u64(d.serial)
    .bytes(d.nodeId)
    .u8(ROLE_CODES[d.role])
    .u8(d.layer)
    .text(1, d.name)
    .text(1, d.family)
    .text(1, d.addresses.link)
    .text(1, d.addresses.ws ?? '')
    .bytes(d.linkPublicKey);
  for (const entry of d.sphinxKeys) writer.bytes(entry.publicKey);
  return writer.u32(d.bandwidth).finish();
}

function copyKeys(keys: readonly SphinxKeyEntry[]): SphinxKeyEntry[] {
  if (!Array.isArray(keys)) return [];
  return keys.map((entry: SphinxKeyEntry) =>
    typeof entry === 'object' && entry !== null && isBytes(entry.publicKey) ? { epoch: entry.epoch, publicKey: entry.publicKey.slice() } : entry,
  );
}

/**
 * Makes and signs the descriptor of the node whose identity seed is `identitySeed`. Fields that
 * break a rule (docs/pki.md) are PkiError('invalid'), including a Sphinx key of small order.
 */
export function makeDescriptor(crypto: Crypto, identitySeed: Uint8Array, fields: DescriptorFields): NodeDescriptor {
  if (!isBytes(identitySeed, KEY_BYTES)) throw new PkiError('invalid', 'the identity seed is not 32 bytes');
  if (typeof fields !== 'object' || fields === null) throw new PkiError('invalid', 'no descriptor fields');
  const role = fields.role;
  const layer = fields.layer ?? (role === 'gateway' ? GATEWAY_LAYER : role === 'provider' ? PROVIDER_LAYER : -1);
  const addresses: NodeAddresses =
    fields.addresses?.ws === undefined ? { link: fields.addresses?.link } : { link: fields.addresses.link, ws: fields.addresses.ws };
  const unsigned = {
    version: DESCRIPTOR_VERSION,
    epoch: fields.epoch,
    serial: fields.serial,
    nodeId: crypto.ed25519PublicKey(identitySeed),
    name: fields.name,
    family: fields.family,
    role,
    layer,
    addresses,
    linkPublicKey: isBytes(fields.linkPublicKey) ? fields.linkPublicKey.slice() : fields.linkPublicKey,
    sphinxKeys: copyKeys(fields.sphinxKeys),
    bandwidth: fields.bandwidth ?? DEFAULT_BANDWIDTH,
  } as const;
  const problem = descriptorProblem(unsigned);
  if (problem !== undefined) throw new PkiError('invalid', problem);
  if (smallOrderKey(crypto, unsigned.sphinxKeys)) throw new PkiError('invalid', 'a Sphinx key has small order');
  const body = descriptorBody(unsigned);
  const signature = crypto.ed25519Sign(identitySeed, concatBytes(DESCRIPTOR_SIGNATURE_LABEL, body));
  return { ...unsigned, signature };
}

/** The canonical encoding. Checks every rule except the signature (that needs crypto): 'invalid'. */
export function encodeDescriptor(descriptor: NodeDescriptor): Uint8Array {
  const problem = descriptorProblem(descriptor);
  if (problem !== undefined) throw new PkiError('invalid', problem);
  if (!isBytes(descriptor.signature, SIGNATURE_BYTES)) throw new PkiError('invalid', 'the signature is not 64 bytes');
  return concatBytes(descriptorBody(descriptor), descriptor.signature);
}

function malformed(detail: string): PkiError {
  return new PkiError('malformed', `descriptor: ${detail}`);
}

/** Parses without checking the signature or the X25519 keys' order. */
function parseDescriptor(bytes: Uint8Array): { descriptor: NodeDescriptor; bodyLength: number } {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_DESCRIPTOR_BYTES) throw malformed(`over ${MAX_DESCRIPTOR_BYTES} bytes`);
  try {
    const reader = new ByteReader(bytes, 'descriptor');
    if (!sameBytes(reader.bytesOf(4, 'magic'), DESCRIPTOR_MAGIC)) throw malformed('not a node descriptor');
    const version = reader.u8('version');
    if (version !== DESCRIPTOR_VERSION) throw malformed(`unknown version ${version}`);
    const epoch = reader.u64('epoch');
    const serial = reader.u64('serial');
    const nodeId = reader.bytesOf(KEY_BYTES, 'node ID');
    const roleCode = reader.u8('role');
    const role = ROLES[roleCode];
    if (role === undefined) throw malformed(`unknown role ${roleCode}`);
    const layer = reader.u8('layer');
    const texts = [
      reader.prefixed(1, MAX_NAME_BYTES, 'name'),
      reader.prefixed(1, MAX_NAME_BYTES, 'family'),
      reader.prefixed(1, MAX_ADDRESS_BYTES, 'link address'),
      reader.prefixed(1, MAX_ADDRESS_BYTES, 'ws address'),
    ].map(decodeUtf8);
    if (texts.some((text) => text === undefined)) throw malformed('a text field is not UTF-8');
    const [name, family, link, ws] = texts as string[];
    const linkPublicKey = reader.bytesOf(KEY_BYTES, 'link public key');
    const sphinxKeys = [0, 1].map((i) => ({ epoch: epoch + i, publicKey: reader.bytesOf(KEY_BYTES, 'Sphinx key') }));
    const bandwidth = reader.u32('bandwidth');
    const bodyLength = bytes.length - reader.remaining;
    const signature = reader.bytesOf(SIGNATURE_BYTES, 'signature');
    reader.end();
    const descriptor: NodeDescriptor = {
      version: DESCRIPTOR_VERSION,
      epoch,
      serial,
      nodeId,
      name,
      family,
      role,
      layer,
      // An empty ws field means "none"; descriptorProblem refuses it where one is needed.
      addresses: ws === '' ? { link } : { link, ws },
      linkPublicKey,
      sphinxKeys,
      bandwidth,
      signature,
    };
    const problem = descriptorProblem(descriptor);
    if (problem !== undefined) throw malformed(problem);
    return { descriptor, bodyLength };
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw malformed(error instanceof Error ? error.message : 'does not parse'); // a DecodeError
  }
}

/**
 * Parses and verifies a descriptor: size (checked first), every bound and rule, no trailing
 * bytes, role/layer consistency, Sphinx keys not of small order ('malformed'), then the identity
 * signature ('bad-signature'). `expectedEpoch`, when given, must match ('wrong-epoch').
 */
export function decodeDescriptor(crypto: Crypto, bytes: Uint8Array, expectedEpoch?: number): NodeDescriptor {
  const { descriptor, bodyLength } = parseDescriptor(bytes);
  if (smallOrderKey(crypto, descriptor.sphinxKeys)) throw malformed('a Sphinx key has small order');
  verifyDescriptorSignature(crypto, descriptor, bytes.subarray(0, bodyLength));
  if (expectedEpoch !== undefined && descriptor.epoch !== expectedEpoch) {
    throw new PkiError('wrong-epoch', `descriptor for epoch ${descriptor.epoch}, not ${expectedEpoch}`);
  }
  return descriptor;
}

function verifyDescriptorSignature(crypto: Crypto, descriptor: NodeDescriptor, body: Uint8Array): void {
  if (!crypto.ed25519Verify(descriptor.nodeId, concatBytes(DESCRIPTOR_SIGNATURE_LABEL, body), descriptor.signature)) {
    throw new PkiError('bad-signature', 'the descriptor signature does not verify');
  }
}

/**
 * Parses a descriptor and checks its structure and rules, but NOT its signature or its Sphinx
 * keys' order: only for descriptors already vouched for (inside a verified consensus document).
 */
export function decodeDescriptorUnverified(bytes: Uint8Array): NodeDescriptor {
  return parseDescriptor(bytes).descriptor;
}

/** The Sphinx public key a descriptor publishes for `epoch`, or undefined. */
export function sphinxKeyFor(descriptor: NodeDescriptor, epoch: number): Uint8Array | undefined {
  return descriptor.sphinxKeys.find((entry) => entry.epoch === epoch)?.publicKey;
}

/** True iff both descriptors encode to the same bytes (same content and signature). */
export function sameDescriptor(a: NodeDescriptor, b: NodeDescriptor): boolean {
  return sameBytes(encodeDescriptor(a), encodeDescriptor(b));
}
