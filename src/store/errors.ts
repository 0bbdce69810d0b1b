/**
 * The one error a mailbox store raises for a failure of storage (docs/mailbox.md, "Errors").
 * Callers switch on `kind`, never on message text; `cause` keeps the driver's own error.
 *
 * - `full`: no room (the disk, a quota, or the configured maximum database size). Nothing of the
 *   failed call was stored; everything stored before is intact and readable.
 * - `io`: the database cannot be read or written (read-only file or role, permissions, not a
 *   database, a schema newer than this program, a lost connection). Nothing partial was stored.
 * - `too-large`: the ciphertext exceeds the store's configured maximum; nothing was stored.
 * - `closed`: the store was closed; nothing was done.
 *
 * Arguments that break the interface's contract (an address that is not 32 bytes, an epoch that is
 * not a non-negative safe integer, a bucket outside 0..buckets-1) are programming errors and raise
 * RangeError instead.
 */
export type StoreErrorKind = 'full' | 'io' | 'too-large' | 'closed';

export class StoreError extends Error {
  readonly kind: StoreErrorKind;

  constructor(kind: StoreErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.kind = kind;
  }
}

/** Error codes (SQLite result codes and Node errno names) that mean "no space left". */
const FULL_CODES = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT', 'EFBIG']);

/**
 * Maps a driver or file-system error to a StoreError: `full` for the codes above, `io` for every
 * other error the driver or the operating system reports. A StoreError passes through unchanged.
 */
export function storeErrorFrom(error: unknown, doing: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  const kind: StoreErrorKind = typeof code === 'string' && FULL_CODES.has(code) ? 'full' : 'io';
  const codeText = typeof code === 'string' ? ` (${code})` : '';
  return new StoreError(kind, `mailbox store: ${doing} failed${codeText}: ${detail}`, { cause: error });
}
