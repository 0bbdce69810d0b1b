/** The PKI (floor 2, pure): epochs, node descriptors, consensus documents. docs/pki.md. */
export * from './consensus.js';
export { consensusDigest, consensusSignedBytes, decodeConsensusUnverified, encodeConsensus } from './consensus-codec.js';
export * from './consensus-document.js';
export * from './descriptor.js';
export * from './epoch.js';
export * from './grace.js';
export * from './errors.js';
export { parseHostPort, compareBytes, familyProblem } from './fields.js';
export * from './params.js';
export * from './vote.js';
export * from './tally.js';
export * from './signature-share.js';
export * from './path-choice.js';
export * from './loop-report.js';
export * from './reliability.js';
