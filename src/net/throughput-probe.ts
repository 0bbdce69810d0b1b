import type { TLSSocket } from 'node:tls';

/**
 * An authority's throughput probe (docs/links.md, "Probes"; docs/network.md, "Measured
 * bandwidth"). After the TLS handshake of a probe, the authority writes one byte: a count k of
 * THROUGHPUT_CHUNK_BYTES chunks (1..MAX_THROUGHPUT_CHUNKS). The node answers with k chunks of zero
 * bytes and ends the connection; the authority times them. A probe that ends without writing is
 * the plain liveness probe, which the node answers by closing. Only a node's authorities (known by
 * their certificates) can ask: no stranger can make a node send anything.
 */
export const THROUGHPUT_CHUNK_BYTES = 64 * 1024;
export const MAX_THROUGHPUT_CHUNKS = 64;
/** How long a node waits for a probing authority's request byte or end. */
export const PROBE_REQUEST_WAIT_MS = 5000;
/** How long a node lets a probing authority take to read its answer. */
export const PROBE_ANSWER_MS = 30_000;

/**
 * The node's side: answers one probing authority's connection (the handshake done). Resolves with
 * the bytes sent (0 for a liveness probe, a connection that said nothing valid, or an answer not
 * taken within `answerMs`: an authority that stops reading cannot hold the node's socket); never
 * rejects.
 */
export function answerProbe(socket: TLSSocket, waitMs = PROBE_REQUEST_WAIT_MS, answerMs = PROBE_ANSWER_MS): Promise<number> {
  return new Promise<number>((resolve) => {
    let timer = setTimeout(() => finish(0), waitMs);
    let settled = false;
    function finish(sent: number): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(sent);
    }
    socket.on('error', () => finish(0));
    socket.on('close', () => finish(0));
    let asked = false;
    socket.on('end', () => {
      if (!asked) finish(0); // the liveness probe's end
    });
    socket.once('data', (data: Buffer) => {
      const chunks = data[0];
      if (data.length !== 1 || chunks < 1 || chunks > MAX_THROUGHPUT_CHUNKS) return finish(0);
      asked = true;
      clearTimeout(timer);
      timer = setTimeout(() => finish(0), answerMs);
      const zeros = new Uint8Array(THROUGHPUT_CHUNK_BYTES);
      for (let i = 0; i < chunks; i++) socket.write(zeros);
      socket.end(() => finish(chunks * THROUGHPUT_CHUNK_BYTES));
    });
  });
}

/**
 * The authority's side, on a connection whose handshake and pin check passed: asks for `chunks`
 * chunks and measures them. Resolves with bytes per second (first byte to last byte, the first
 * read excluded, so the request's round trip does not count), or undefined when the answer was
 * short, cut or timed out. Never rejects; ends the connection either way.
 */
export function measureThroughput(socket: TLSSocket, chunks: number, timeoutMs: number, now: () => number = () => performance.now()): Promise<number | undefined> {
  const expected = chunks * THROUGHPUT_CHUNK_BYTES;
  return new Promise<number | undefined>((resolve) => {
    let received = 0;
    let firstAt: number | undefined;
    let firstBytes = 0;
    let settled = false;
    const settle = (value: number | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => settle(undefined), timeoutMs);
    socket.on('data', (data: Buffer) => {
      const at = now();
      if (firstAt === undefined) {
        firstAt = at;
        firstBytes = data.length;
      }
      received += data.length;
      if (received > expected) return settle(undefined);
      if (received < expected) return;
      const elapsedMs = at - firstAt;
      const timed = received - firstBytes;
      // Everything in one read: too fast to time here; count it at one millisecond.
      settle(timed === 0 || elapsedMs <= 0 ? expected * 1000 : (timed * 1000) / elapsedMs);
    });
    socket.on('error', () => settle(undefined));
    socket.on('close', () => settle(undefined));
    socket.write(new Uint8Array([chunks]));
  });
}
