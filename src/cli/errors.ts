/**
 * A mistake in how the command was called (unknown command, bad option or value). main.ts turns
 * it into one line on stderr and exit code 2, so a typo never shows a stack trace.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes: 0 success, 1 the command ran but something did not check out, 2 bad usage. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
