/**
 * An on-path observer for the client tests (not a test file itself): a TCP relay on loopback that
 * forwards a client's connection to a server and records every byte in both directions, and the
 * reading an observer would do of a capture: the raw bytes, and the payloads of the WebSocket
 * frames in it, unmasked (client frames are XOR-masked with a key sent in the clear).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class RecordingRelay {
  /** Bytes from the client to the server: one buffer per connection, in order. */
  readonly toServer: Buffer[] = [];
  /** Bytes from the server to the client. */
  readonly toClient: Buffer[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  /** Listens on an ephemeral loopback port and relays each connection to `upstreamPort`. */
  static async start(upstreamPort: number): Promise<RecordingRelay> {
    const relay: RecordingRelay = new RecordingRelay(createServer((client) => relay.relay(client, upstreamPort)));
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private relay(client: Socket, upstreamPort: number): void {
    const upstream = connect(upstreamPort, '127.0.0.1');
    const fromClient: Buffer[] = [];
    this.toServer.push(Buffer.alloc(0));
    const slot = this.toServer.length - 1;
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      fromClient.push(chunk);
      this.toServer[slot] = Buffer.concat(fromClient);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.toClient.push(chunk);
      client.write(chunk);
    });
  }
}

/**
 * The payloads of the WebSocket frames in one connection's client-to-server bytes, unmasked, after
 * the HTTP upgrade request when there is one in the clear. Parsing stops at the first thing that is
 * not a whole frame (for TLS records, that is almost at once).
 */
export function webSocketPayloads(stream: Buffer): Buffer[] {
  const payloads: Buffer[] = [];
  let at = 0;
  if (stream.subarray(0, 4).toString('latin1') === 'GET ') {
    const end = stream.indexOf('\r\n\r\n');
    if (end < 0) return payloads;
    at = end + 4;
  }
  while (at + 2 <= stream.length) {
    const second = stream[at + 1];
    let length = second & 0x7f;
    let p = at + 2;
    if (length === 126) {
      if (p + 2 > stream.length) break;
      length = stream.readUInt16BE(p);
      p += 2;
    } else if (length === 127) {
      if (p + 8 > stream.length) break;
      const long = stream.readBigUInt64BE(p);
      if (long > BigInt(stream.length)) break;
      length = Number(long);
      p += 8;
    }
    const masked = (second & 0x80) !== 0;
    const mask = masked ? stream.subarray(p, p + 4) : undefined;
    if (masked) p += 4;
    if (p + length > stream.length) break;
    const payload = Buffer.from(stream.subarray(p, p + length));
    if (mask !== undefined) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
    payloads.push(payload);
    at = p + length;
  }
  return payloads;
}

/** Whether an observer of the relay reads `secret`: in the raw bytes or in an unmasked frame. */
export function exposes(relay: RecordingRelay, secret: Uint8Array): boolean {
  const needle = Buffer.from(secret);
  for (const stream of relay.toServer) {
    if (stream.includes(needle)) return true;
    if (webSocketPayloads(stream).some((payload) => payload.includes(needle))) return true;
  }
  return Buffer.concat(relay.toClient).includes(needle);
}
