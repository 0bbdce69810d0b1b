import {
  CONSENSUS_VERSION,
  MAX_CONSENSUS_NODES,
  MAX_CONSENSUS_SIGNATURES,
  topologyProblem,
  type ConsensusDocument,
  type ConsensusSignature,
} from './consensus-document.js';
import { epochEnd, timingProblem } from './epoch.js';
import { PkiError } from './errors.js';
import { MAX_BANDWIDTH } from './descriptor.js';
import { compareBytes, isBytes, KEY_BYTES, SIGNATURE_BYTES } from './fields.js';
import { networkParametersProblems, RELIABILITY_SCALE } from './params.js';

/**
 * The rules of a consensus document (docs/pki.md, "Consensus document") that making, encoding and
 * decoding all enforce; `code` is 'invalid' for a document built here and 'malformed' for one
 * received.
 */
export function checkUnsignedDocument(doc: Omit<ConsensusDocument, 'signatures'>, code: 'invalid' | 'malformed'): void {
  const fail = (detail: string): never => {
    throw new PkiError(code, `consensus: ${detail}`);
  };
  if (doc.version !== CONSENSUS_VERSION) fail(`version ${String(doc.version)} is not ${CONSENSUS_VERSION}`);
  const timing = timingProblem(doc);
  if (timing !== undefined) fail(timing);
  if (!Number.isSafeInteger(doc.epoch) || doc.epoch < 0) fail('the epoch is not a non-negative safe integer');
  let end: number;
  try {
    end = epochEnd(doc.epoch, doc);
  } catch {
    return fail('the epoch is too far in the future');
  }
  if (!Number.isSafeInteger(doc.validUntilMs) || doc.validUntilMs < end || doc.validUntilMs > end + doc.epochMs) {
    fail('validUntilMs must lie between the end of the epoch and one epoch later');
  }
  const problems = networkParametersProblems(doc);
  if (problems.length > 0) fail(problems.join('; '));
  if (!Array.isArray(doc.nodes) || doc.nodes.length > MAX_CONSENSUS_NODES) fail(`at most ${MAX_CONSENSUS_NODES} nodes`);
  for (let i = 0; i < doc.nodes.length; i++) {
    if (doc.nodes[i].epoch !== doc.epoch) fail(`a descriptor is for epoch ${doc.nodes[i].epoch}`);
    if (i > 0 && compareBytes(doc.nodes[i - 1].nodeId, doc.nodes[i].nodeId) >= 0) fail('nodes are not in strictly ascending node-ID order');
  }
  if (!Array.isArray(doc.scores) || doc.scores.length !== doc.nodes.length) fail('there must be one score per node');
  if (doc.scores.some((score) => !Number.isInteger(score) || score < 0 || score > RELIABILITY_SCALE)) fail(`a score is not an integer in 0..${RELIABILITY_SCALE}`);
  if (!Array.isArray(doc.measured) || doc.measured.length !== doc.nodes.length) fail('there must be one measured bandwidth per node');
  if (doc.measured.some((pps) => !Number.isInteger(pps) || pps < 0 || pps > MAX_BANDWIDTH)) fail(`a measured bandwidth is not an integer in 0..${MAX_BANDWIDTH}`);
  const topology = topologyProblem(doc.nodes);
  if (topology !== undefined) throw new PkiError('incomplete-topology', `consensus: ${topology}`);
}

export function checkSignatureList(signatures: readonly ConsensusSignature[], code: 'invalid' | 'malformed'): void {
  if (!Array.isArray(signatures) || signatures.length > MAX_CONSENSUS_SIGNATURES) {
    throw new PkiError(code, `consensus: at most ${MAX_CONSENSUS_SIGNATURES} signatures`);
  }
  for (let i = 0; i < signatures.length; i++) {
    const { authorityId, signature } = signatures[i];
    if (!isBytes(authorityId, KEY_BYTES) || !isBytes(signature, SIGNATURE_BYTES)) {
      throw new PkiError(code, 'consensus: a signature entry is not 32 + 64 bytes');
    }
    if (i > 0 && compareBytes(signatures[i - 1].authorityId, authorityId) >= 0) {
      throw new PkiError(code, 'consensus: signatures are not in strictly ascending authority-ID order');
    }
  }
}
