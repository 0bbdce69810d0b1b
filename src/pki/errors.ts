/**
 * Why the PKI refused a descriptor, a consensus document or an input to one of its constructors.
 * Codes, not messages, are what callers, metrics and tests check.
 */
export type PkiErrorCode =
  | 'malformed' // does not parse, breaks a bound or a rule of the format (docs/pki.md)
  | 'invalid' // a value given to a constructor (makeDescriptor, makeConsensus, epoch arithmetic) breaks a rule
  | 'bad-signature' // a descriptor or authority signature that does not verify
  | 'unknown-authority' // a consensus signature by a key outside the trusted authority list
  | 'not-enough-signatures' // fewer valid authority signatures than the threshold (or none)
  | 'wrong-epoch' // a descriptor or document for another epoch than expected
  | 'expired' // a document whose validUntilMs has passed
  | 'conflict' // two descriptors for one node where only one may be
  | 'incomplete-topology'; // a layer 1..3 without a mix, or no gateway, or no provider

export class PkiError extends Error {
  readonly code: PkiErrorCode;
  constructor(code: PkiErrorCode, message: string) {
    super(`pki: ${message}`);
    this.name = 'PkiError';
    this.code = code;
  }
}
