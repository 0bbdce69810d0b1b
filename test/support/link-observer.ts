/**
 * A network observer on a client's links (not a test file itself): a TCP relay in front of each
 * server the client dials, recording what anyone on the path sees of TLS — the records' cleartext
 * headers (content type and length), their direction, and when each record was complete — on the
 * clock the test runs on. And the observer's readings: gaps between records, sizes, bytes per window.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { WebSocketConnector } from '../../src/net/request-channel.js';

/** One TLS record as seen on the wire. */
export interface ObservedRecord {
  /** Clock time at which its last byte arrived at the observer. */
  readonly at: number;
  /** Content type (23 for application data; everything is 23 in TLS 1.3 after the handshake). */
  readonly type: number;
  /** Record length on the wire, header included. */
  readonly bytes: number;
}

/** One TCP connection the client made, as the observer saw it. */
export interface ObservedLink {
  /** Which server it went to ("host:port" of the real target). */
  readonly target: string;
  readonly openedAt: number;
  closedAt?: number;
  /** Client to server. */
  readonly up: ObservedRecord[];
  /** Server to client. */
  readonly down: ObservedRecord[];
}

const TLS_HEADER = 5;
/** TLS 1.3 allows 2^14 + 256 bytes of ciphertext in a record. */
const MAX_RECORD = (1 << 14) + 256;

/** Splits one direction of a TLS stream into records (their headers are in the clear). */
export class TlsRecordReader {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes that did not parse as TLS (the stream is then no longer read). */
  garbage = 0;

  constructor(private readonly out: ObservedRecord[]) {}

  push(chunk: Buffer, at: number): void {
    if (this.garbage > 0) {
      this.garbage += chunk.length;
      return;
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = 0;
    while (this.pending.length - offset >= TLS_HEADER) {
      const type = this.pending[offset];
      const length = this.pending.readUInt16BE(offset + 3);
      if (type < 20 || type > 24 || length > MAX_RECORD) {
        this.garbage = this.pending.length - offset;
        break;
      }
      if (this.pending.length - offset < TLS_HEADER + length) break;
      this.out.push({ at, type, bytes: TLS_HEADER + length });
      offset += TLS_HEADER + length;
    }
    this.pending = this.garbage > 0 ? Buffer.alloc(0) : this.pending.subarray(offset);
  }
}

/**
 * Relays every connection a client makes through loopback listeners of its own, one per target,
 * and records each connection's records. `now` is the clock the records are stamped with.
 */
export class LinkObserver {
  readonly links: ObservedLink[] = [];
  private readonly relays = new Map<string, Promise<Server>>();
  private readonly sockets = new Set<Socket>();

  constructor(private readonly now: () => number) {}

  /** A connector that dials `target` through this observer (the pinned key is still checked end to end). */
  connector(base: WebSocketConnector): WebSocketConnector {
    return async (target, options) => {
      const url = new URL(target.url);
      const server = await this.relayFor(url.hostname, Number(url.port));
      const port = (server.address() as { port: number }).port;
      return base({ url: `wss://127.0.0.1:${port}`, linkKey: target.linkKey }, options);
    };
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    for (const server of this.relays.values()) {
      const listening = await server;
      await new Promise<void>((resolve) => listening.close(() => resolve()));
    }
    this.relays.clear();
  }

  private relayFor(host: string, port: number): Promise<Server> {
    const key = `${host}:${port}`;
    let server = this.relays.get(key);
    if (server === undefined) {
      const listener = createServer((client) => this.relay(client, key, host, port));
      server = new Promise((resolve) => listener.listen(0, '127.0.0.1', () => resolve(listener)));
      this.relays.set(key, server);
    }
    return server;
  }

  private relay(client: Socket, target: string, host: string, port: number): void {
    const link: ObservedLink = { target, openedAt: this.now(), up: [], down: [] };
    this.links.push(link);
    const upstream = connect(port, host);
    const upReader = new TlsRecordReader(link.up);
    const downReader = new TlsRecordReader(link.down);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        link.closedAt ??= this.now();
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      upReader.push(chunk, this.now());
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      downReader.push(chunk, this.now());
      client.write(chunk);
    });
  }
}

/** The records of a list that fall in [from, to). */
export function within(records: readonly ObservedRecord[], from: number, to: number): ObservedRecord[] {
  return records.filter((record) => record.at >= from && record.at < to);
}

/** Gaps between consecutive records (the observer's inter-packet times). */
export function gaps(records: readonly ObservedRecord[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < records.length; i++) out.push(records[i].at - records[i - 1].at);
  return out;
}

/** Bytes in each window of `windowMs` from `from` to `to` (the last partial window is left out). */
export function bytesPerWindow(records: readonly ObservedRecord[], from: number, to: number, windowMs: number): number[] {
  const count = Math.floor((to - from) / windowMs);
  const totals = new Array<number>(count).fill(0);
  for (const record of records) {
    const index = Math.floor((record.at - from) / windowMs);
    if (index >= 0 && index < count) totals[index] += record.bytes;
  }
  return totals;
}
