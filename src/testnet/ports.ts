import { createServer } from 'node:net';
import { TestnetError } from './errors.js';

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Where `umbra up` gets ports for a new plan and for a node it moves (`owner` is the node or
 * authority that will listen on it). The default asks the OS (freePort); tests inject one that
 * hands out ports they keep busy. A port is free when drawn, not when the node binds it: another
 * program may take it in between, which `umbra up` survives by moving the node (docs/network.md).
 */
export type PortAllocator = (owner: string) => Promise<number>;

export const osPortAllocator: PortAllocator = () => freePort();

/** Draws after this many repeats in a row are a broken allocator, not bad luck. */
const MAX_DRAWS = 64;

/** A port from `allocate` that is not in `taken` (the OS may hand a port out again once released); adds it to `taken`. */
export async function distinctPort(allocate: PortAllocator, owner: string, taken: Set<number>): Promise<number> {
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const candidate = await allocate(owner);
    if (!Number.isInteger(candidate) || candidate < 1 || candidate > 65_535) throw new TestnetError(`the port allocator gave ${String(candidate)} for ${owner}, not a TCP port`);
    if (!taken.has(candidate)) {
      taken.add(candidate);
      return candidate;
    }
  }
  throw new TestnetError(`the port allocator gave ${owner} only ports already taken (${MAX_DRAWS} draws)`);
}
