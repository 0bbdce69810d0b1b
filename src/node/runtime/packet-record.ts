import { closeSync, openSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { hexOf } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/index.js';

/**
 * A test hook (`recordPacketsForTests`: a file path; docs/privacy.md, "The simulator against
 * `umbra up`"): the node appends one line per packet event, so that a test can rebuild what a
 * global passive observer of the links saw, with the ground truth beside it, and measure it with
 * the simulator's analysis (src/sim/recorded-run.ts). Off unless configured; never set in a
 * deployment. A line names a packet only by an opaque hash (the first 8 bytes of a 16-byte BLAKE2b) of its bytes as they
 * crossed the link (the same bytes at both ends, so a departure at one node joins the arrival at
 * the next) and a client only by the gateway's connection index: no key, address or payload.
 *
 * Lines (times: Unix milliseconds with microseconds, from the process's high-resolution clock):
 * - `A time hash from`: a packet arrived (`c<n>`: gateway client connection n; `link`: a previous-layer node);
 * - `D time hash pool input`: a packet left for the next hop; `pool` is what the node held just
 *   before, the departing packet included (1 at a gateway), `input` the hash of the arrival it
 *   came from (the ground truth the observer does not see);
 * - `X time hash`: a packet reached its last hop (a provider).
 */
export interface PacketRecorder {
  /** Records an arrival and returns the packet's hash (the departure's `input`). */
  arrival(packet: Uint8Array, from: string): string;
  departure(packet: Uint8Array, poolBefore: number, input: string): void;
  delivery(packet: Uint8Array): void;
  close(): void;
}

/** The recorder `path` asks for, or undefined when recording is off. */
export function openPacketRecorder(path: string | undefined, crypto: Crypto): PacketRecorder | undefined {
  if (path === undefined) return undefined;
  let fd: number | undefined = openSync(path, 'a', 0o600);
  const hash = (packet: Uint8Array): string => hexOf(crypto.blake2b(16, packet).subarray(0, 8));
  const now = (): string => (performance.timeOrigin + performance.now()).toFixed(3);
  const write = (line: string): void => {
    if (fd !== undefined) writeSync(fd, `${line}\n`);
  };
  return {
    arrival(packet, from) {
      const h = hash(packet);
      write(`A ${now()} ${h} ${from}`);
      return h;
    },
    departure(packet, poolBefore, input) {
      write(`D ${now()} ${hash(packet)} ${poolBefore} ${input}`);
    },
    delivery(packet) {
      write(`X ${now()} ${hash(packet)}`);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
