import { hexOf, sameBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { checkUnsignedDocument } from './consensus-checks.js';
import { consensusBody, consensusSignedBytes, parseConsensus, verifyDescriptorsOf } from './consensus-codec.js';
import {
  CONSENSUS_VERSION,
  MAX_CONSENSUS_SIGNATURES,
  type ConsensusDocument,
  type ConsensusInput,
  type ConsensusSignature,
  type VerifyConsensusOptions,
} from './consensus-document.js';
import { epochEnd, timingProblem } from './epoch.js';
import { PkiError } from './errors.js';
import { compareBytes, isBytes, KEY_BYTES } from './fields.js';
import { copyNetworkParameters, networkParametersProblems, RELIABILITY_SCALE } from './params.js';

/**
 * Making, signing and verifying consensus documents (docs/pki.md, "Consensus document"). The
 * document's shape is in consensus-document.ts, its encoding in consensus-codec.ts.
 */

/**
 * Builds the unsigned document for `input.epoch`: descriptors sorted by node ID, the network
 * parameters copied. Deterministic (same inputs, same bytes). Refuses a descriptor for another
 * epoch ('wrong-epoch'), two for one node ('conflict'), a layer without nodes
 * ('incomplete-topology') and parameters that break a rule ('invalid').
 */
export function makeConsensus(input: ConsensusInput): ConsensusDocument {
  if (typeof input !== 'object' || input === null) throw new PkiError('invalid', 'consensus: no input');
  const timing = timingProblem(input);
  if (timing !== undefined) throw new PkiError('invalid', `consensus: ${timing}`);
  if (!Number.isSafeInteger(input.epoch) || input.epoch < 0) throw new PkiError('invalid', 'consensus: the epoch is not a non-negative safe integer');
  const graceMs = input.graceMs ?? Math.floor(input.epochMs / 4);
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > input.epochMs) {
    throw new PkiError('invalid', 'consensus: graceMs must be an integer in 0..epochMs');
  }
  const problems = networkParametersProblems(input.network);
  if (problems.length > 0) throw new PkiError('invalid', `consensus: ${problems.join('; ')}`);
  if (!Array.isArray(input.descriptors)) throw new PkiError('invalid', 'consensus: descriptors is not an array');
  for (const descriptor of input.descriptors) {
    if (descriptor.epoch !== input.epoch) {
      throw new PkiError('wrong-epoch', `consensus: a descriptor is for epoch ${descriptor.epoch}, not ${input.epoch}`);
    }
  }
  const nodes = [...input.descriptors].sort((a, b) => compareBytes(a.nodeId, b.nodeId));
  for (let i = 1; i < nodes.length; i++) {
    if (sameBytes(nodes[i - 1].nodeId, nodes[i].nodeId)) {
      throw new PkiError('conflict', `consensus: two descriptors for node ${hexOf(nodes[i].nodeId)}`);
    }
  }
  let end: number;
  try {
    end = epochEnd(input.epoch, input);
  } catch {
    throw new PkiError('invalid', 'consensus: the epoch is too far in the future');
  }
  const doc: ConsensusDocument = {
    version: CONSENSUS_VERSION,
    epoch: input.epoch,
    genesisMs: input.genesisMs,
    epochMs: input.epochMs,
    validUntilMs: end + graceMs,
    ...copyNetworkParameters(input.network),
    nodes: Object.freeze(nodes),
    scores: Object.freeze(nodes.map((node) => input.scores?.get(hexOf(node.nodeId)) ?? RELIABILITY_SCALE)),
    measured: Object.freeze(nodes.map((node) => input.measured?.get(hexOf(node.nodeId)) ?? 0)),
    signatures: Object.freeze([]),
  };
  checkUnsignedDocument(doc, 'invalid');
  // Encoding checks every descriptor's fields too.
  consensusBody(doc);
  return doc;
}

/**
 * The document with the authority's signature added (replacing an earlier one by the same
 * authority), the signatures kept in authority-ID order.
 */
export function signConsensus(crypto: Crypto, doc: ConsensusDocument, authoritySeed: Uint8Array): ConsensusDocument {
  if (!isBytes(authoritySeed, KEY_BYTES)) throw new PkiError('invalid', 'consensus: the authority seed is not 32 bytes');
  const authorityId = crypto.ed25519PublicKey(authoritySeed);
  const signature = crypto.ed25519Sign(authoritySeed, consensusSignedBytes(doc));
  const signatures = [...doc.signatures.filter((entry) => !sameBytes(entry.authorityId, authorityId)), { authorityId, signature }];
  signatures.sort((a, b) => compareBytes(a.authorityId, b.authorityId));
  if (signatures.length > MAX_CONSENSUS_SIGNATURES) throw new PkiError('invalid', `consensus: at most ${MAX_CONSENSUS_SIGNATURES} signatures`);
  return { ...doc, signatures: Object.freeze(signatures) };
}

/**
 * The document with a signature made elsewhere added (replacing an earlier one by the same
 * authority), the signatures kept in authority-ID order. The signature is not checked here: the
 * caller verifies it against consensusSignedBytes(doc) first.
 */
export function addConsensusSignature(doc: ConsensusDocument, entry: ConsensusSignature): ConsensusDocument {
  if (!isBytes(entry.authorityId, KEY_BYTES) || !isBytes(entry.signature, 64)) throw new PkiError('invalid', 'consensus: a signature entry is not 32 + 64 bytes');
  const signatures = [...doc.signatures.filter((other) => !sameBytes(other.authorityId, entry.authorityId)), { authorityId: entry.authorityId.slice(), signature: entry.signature.slice() }];
  signatures.sort((a, b) => compareBytes(a.authorityId, b.authorityId));
  if (signatures.length > MAX_CONSENSUS_SIGNATURES) throw new PkiError('invalid', `consensus: at most ${MAX_CONSENSUS_SIGNATURES} signatures`);
  return { ...doc, signatures: Object.freeze(signatures) };
}

/** The threshold verifyConsensus applies by default (and at least): a majority of `authorityCount`. */
export function majority(authorityCount: number): number {
  return Math.floor(authorityCount / 2) + 1;
}

/**
 * Parses and verifies a document received from anyone (integrity comes from the signatures).
 * In order: 'malformed' (does not parse or breaks a rule; 'incomplete-topology' for a missing
 * layer), 'unknown-authority' (any signature by a key not in `authorities`), 'bad-signature' (any
 * signature that does not verify, or a descriptor's), 'not-enough-signatures' (fewer than the
 * threshold, including none), 'wrong-epoch', 'expired' (nowMs > validUntilMs).
 */
export function verifyConsensus(crypto: Crypto, bytes: Uint8Array, options: VerifyConsensusOptions): ConsensusDocument {
  const trusted = trustedAuthorities(options.authorities);
  const threshold = options.threshold ?? majority(trusted.length);
  // Never less than a majority: a minority of the trusted authorities cannot make a document.
  if (!Number.isInteger(threshold) || threshold < majority(trusted.length) || threshold > trusted.length) {
    throw new PkiError('invalid', `the threshold must be an integer in ${majority(trusted.length)}..${trusted.length} (a majority at least)`);
  }
  if (typeof options.nowMs !== 'number' || !Number.isFinite(options.nowMs)) throw new PkiError('invalid', 'nowMs is not a finite number');
  // Signatures are checked before the descriptors' own signatures (cheaper to refuse a forgery).
  const { doc, signedBytes, descriptorBytes } = parseConsensus(bytes);
  for (const { authorityId } of doc.signatures) {
    if (!trusted.some((key) => sameBytes(key, authorityId))) {
      throw new PkiError('unknown-authority', `consensus signed by unknown authority ${hexOf(authorityId)}`);
    }
  }
  for (const { authorityId, signature } of doc.signatures) {
    if (!crypto.ed25519Verify(authorityId, signedBytes, signature)) {
      throw new PkiError('bad-signature', `the signature of authority ${hexOf(authorityId)} does not verify`);
    }
  }
  if (doc.signatures.length < threshold) {
    throw new PkiError('not-enough-signatures', `${doc.signatures.length} valid signatures, ${threshold} needed`);
  }
  if (options.verifyDescriptors ?? true) verifyDescriptorsOf(crypto, descriptorBytes);
  if (options.epoch !== undefined && doc.epoch !== options.epoch) {
    throw new PkiError('wrong-epoch', `the document is for epoch ${doc.epoch}, not ${options.epoch}`);
  }
  if (options.nowMs > doc.validUntilMs) throw new PkiError('expired', `the document for epoch ${doc.epoch} has expired`);
  return doc;
}

function trustedAuthorities(authorities: readonly Uint8Array[]): Uint8Array[] {
  if (!Array.isArray(authorities) || authorities.length === 0) throw new PkiError('invalid', 'no trusted authorities');
  const unique: Uint8Array[] = [];
  for (const key of authorities) {
    if (!isBytes(key, KEY_BYTES)) throw new PkiError('invalid', 'an authority key is not 32 bytes');
    if (!unique.some((other) => sameBytes(other, key))) unique.push(key);
  }
  return unique;
}
