import { ByteReader, ByteWriter, concatBytes, sameBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { checkSignatureList, checkUnsignedDocument } from './consensus-checks.js';
import {
  CONSENSUS_MAGIC,
  CONSENSUS_SIGNATURE_LABEL,
  CONSENSUS_VERSION,
  MAX_CONSENSUS_BYTES,
  MAX_CONSENSUS_NODES,
  MAX_CONSENSUS_SIGNATURES,
  type ConsensusDocument,
  type ConsensusSignature,
} from './consensus-document.js';
import { decodeDescriptor, decodeDescriptorUnverified, encodeDescriptor, MAX_DESCRIPTOR_BYTES } from './descriptor.js';
import { MAX_EPOCH_MS } from './epoch.js';
import { PkiError } from './errors.js';
import { KEY_BYTES, SIGNATURE_BYTES } from './fields.js';
import { readNetworkParameters, writeNetworkParameters } from './params-codec.js';

/**
 * The canonical binary encoding of a consensus document (docs/pki.md, "Consensus document"):
 * the signed body (header, then every descriptor in node-ID order), then the signatures in
 * authority-ID order. Decoding checks every structural rule.
 */

/** The signed part: everything before the signature count. The document must be valid. */
export function consensusBody(doc: Omit<ConsensusDocument, 'signatures'>): Uint8Array {
  const writer = new ByteWriter(4096)
    .bytes(CONSENSUS_MAGIC)
    .u8(CONSENSUS_VERSION)
    .u64(doc.epoch)
    .u64(doc.genesisMs)
    .u64(doc.epochMs)
    .u64(doc.validUntilMs);
  writeNetworkParameters(writer, doc);
  writer.u16(doc.nodes.length);
  for (const node of doc.nodes) writer.prefixed(2, encodeDescriptor(node));
  for (const score of doc.scores) writer.u16(score);
  for (const pps of doc.measured) writer.u32(pps);
  return writer.finish();
}

/** The canonical encoding, signatures included ('invalid' if a rule is broken). */
export function encodeConsensus(doc: ConsensusDocument): Uint8Array {
  checkUnsignedDocument(doc, 'invalid');
  checkSignatureList(doc.signatures, 'invalid');
  const writer = new ByteWriter(64 + doc.signatures.length * 96).bytes(consensusBody(doc)).u8(doc.signatures.length);
  for (const { authorityId, signature } of doc.signatures) writer.bytes(authorityId).bytes(signature);
  return writer.finish();
}

/** The bytes every authority signs: the label ‖ the encoding without the signatures. */
export function consensusSignedBytes(doc: ConsensusDocument): Uint8Array {
  checkUnsignedDocument(doc, 'invalid');
  return concatBytes(CONSENSUS_SIGNATURE_LABEL, consensusBody(doc));
}

/** A 32-byte BLAKE2b digest of the signed part: names a document independently of its signatures. */
export function consensusDigest(crypto: Crypto, doc: ConsensusDocument): Uint8Array {
  return crypto.blake2b(32, consensusSignedBytes(doc));
}

function malformed(detail: string): PkiError {
  return new PkiError('malformed', `consensus: ${detail}`);
}

/**
 * Parses a document and checks every structural rule (bounds, order, topology, timing,
 * parameters) and, when `verifyDescriptors`, every descriptor's signature, but NOT the authority
 * signatures: use verifyConsensus for anything received from the network.
 */
export function decodeConsensusUnverified(
  crypto: Crypto,
  bytes: Uint8Array,
  verifyDescriptors = true,
): { doc: ConsensusDocument; signedBytes: Uint8Array } {
  const { doc, signedBytes, descriptorBytes } = parseConsensus(bytes);
  if (verifyDescriptors) verifyDescriptorsOf(crypto, descriptorBytes);
  return { doc, signedBytes };
}

export function verifyDescriptorsOf(crypto: Crypto, descriptorBytes: readonly Uint8Array[]): void {
  for (const encoded of descriptorBytes) {
    try {
      decodeDescriptor(crypto, encoded);
    } catch (error) {
      if (error instanceof PkiError && error.code === 'bad-signature') throw error;
      throw malformed(`a descriptor is malformed (${error instanceof Error ? error.message : 'unknown'})`);
    }
  }
}

/** Structure only: no signature of any kind is checked. */
export function parseConsensus(bytes: Uint8Array): { doc: ConsensusDocument; signedBytes: Uint8Array; descriptorBytes: Uint8Array[] } {
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_CONSENSUS_BYTES) throw malformed(`over ${MAX_CONSENSUS_BYTES} bytes`);
  let doc: ConsensusDocument;
  let bodyLength: number;
  const descriptorBytes: Uint8Array[] = [];
  try {
    const reader = new ByteReader(bytes, 'consensus');
    if (!sameBytes(reader.bytesOf(4, 'magic'), CONSENSUS_MAGIC)) throw malformed('not a consensus document');
    const version = reader.u8('version');
    if (version !== CONSENSUS_VERSION) throw malformed(`unknown version ${version}`);
    const epoch = reader.u64('epoch');
    const genesisMs = reader.u64('genesis');
    const epochMs = reader.u64('epoch length');
    if (epochMs > MAX_EPOCH_MS) throw malformed('the epoch length is out of range');
    const validUntilMs = reader.u64('valid until');
    const params = readNetworkParameters(reader);
    const count = reader.u16('node count');
    if (count > MAX_CONSENSUS_NODES) throw malformed(`over ${MAX_CONSENSUS_NODES} nodes`);
    for (let i = 0; i < count; i++) descriptorBytes.push(reader.prefixed(2, MAX_DESCRIPTOR_BYTES, 'descriptor'));
    const scores: number[] = [];
    for (let i = 0; i < count; i++) scores.push(reader.u16('score'));
    const measured: number[] = [];
    for (let i = 0; i < count; i++) measured.push(reader.u32('measured bandwidth'));
    bodyLength = bytes.length - reader.remaining;
    const signatureCount = reader.u8('signature count');
    if (signatureCount > MAX_CONSENSUS_SIGNATURES) throw malformed(`over ${MAX_CONSENSUS_SIGNATURES} signatures`);
    const signatures: ConsensusSignature[] = [];
    for (let i = 0; i < signatureCount; i++) {
      signatures.push({ authorityId: reader.bytesOf(KEY_BYTES, 'authority ID'), signature: reader.bytesOf(SIGNATURE_BYTES, 'signature') });
    }
    reader.end();
    doc = {
      version: CONSENSUS_VERSION,
      epoch,
      genesisMs,
      epochMs,
      validUntilMs,
      ...params,
      nodes: [],
      scores: Object.freeze(scores),
      measured: Object.freeze(measured),
      signatures: Object.freeze(signatures),
    };
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw malformed(error instanceof Error ? error.message : 'does not parse'); // a DecodeError
  }
  // Cheap checks before the descriptors' signatures.
  checkSignatureList(doc.signatures, 'malformed');
  const nodes = descriptorBytes.map((encoded) => {
    try {
      return decodeDescriptorUnverified(encoded);
    } catch (error) {
      throw malformed(`a descriptor is malformed (${error instanceof Error ? error.message : 'unknown'})`);
    }
  });
  doc = { ...doc, nodes: Object.freeze(nodes) };
  checkUnsignedDocument(doc, 'malformed');
  return { doc, signedBytes: concatBytes(CONSENSUS_SIGNATURE_LABEL, bytes.subarray(0, bodyLength)), descriptorBytes };
}
