/**
 * Why the PIR core refused an input. Callers switch on `code`, never on message text; a server
 * that receives a malformed key answers nothing and counts it by code.
 */
export type PirErrorCode =
  | 'malformed-key' // wrong length for its domain, unknown version, bad party or control byte
  | 'invalid-domain' // N is not an integer in 1 .. 2^32 - 1
  | 'invalid-index' // the index is not an integer in 0 .. N - 1
  | 'domain-mismatch' // the key was made for another domain size than the one given
  | 'invalid-random' // the RandomSource returned the wrong number of bytes
  | 'answer-mismatch' // the two answers differ in length or are not byte arrays
  | 'scan-failed'; // the scan kernel refused the database or the selection (cause attached)

export class PirError extends Error {
  readonly code: PirErrorCode;
  constructor(code: PirErrorCode, message: string, options?: { cause?: unknown }) {
    super(`pir: ${message}`, options);
    this.name = 'PirError';
    this.code = code;
  }
}
