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

/**
 * A server command (`umbra authority|mix|gateway|provider`) could not listen: an address of its
 * config is in use. main.ts says so in one line and exits with EXIT_ADDRESS_IN_USE, so `umbra up`
 * can tell this from other failures and move the node to fresh ports (docs/network.md).
 */
export class AddressInUseError extends Error {
  constructor(readonly command: string, readonly address: string) {
    super(`${command}: cannot listen on ${address}: the address is in use`);
    this.name = 'AddressInUseError';
  }
}

/** The AddressInUseError for a failed listen (Node's EADDRINUSE), else undefined. */
export function addressInUse(command: string, error: unknown): AddressInUseError | undefined {
  if (typeof error !== 'object' || error === null || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') return undefined;
  const { address, port } = error as { address?: unknown; port?: unknown };
  const host = typeof address === 'string' ? (address.includes(':') ? `[${address}]` : address) : 'an address';
  return new AddressInUseError(command, typeof port === 'number' ? `${host}:${port}` : host);
}

/** Exit codes: 0 success, 1 the command ran but something did not check out, 2 bad usage, 3 a server's address is in use. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_ADDRESS_IN_USE = 3;
