/**
 * The local network could not be brought up or kept running (a node did not start, the network did
 * not agree on a consensus): not a bug of the caller's, and not of Umbra's code either, so the
 * command line says it in one line without "internal error".
 */
export class TestnetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestnetError';
  }
}

/** A node's process exited before it was ready because a port of its own was in use (its exit code 3). */
export class PortInUseError extends TestnetError {
  constructor(readonly node: string, message: string) {
    super(message);
    this.name = 'PortInUseError';
  }
}
