/** A binary input that does not parse: truncated, oversized, or with a field out of range. */
export class DecodeError extends Error {
  readonly code = 'malformed' as const;
  constructor(what: string, detail: string) {
    super(`${what}: ${detail}`);
    this.name = 'DecodeError';
  }
}
