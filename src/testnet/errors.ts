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
