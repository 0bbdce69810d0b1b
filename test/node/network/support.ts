/** Helpers for the whole-network tests (not a test file itself). */
import type { Server } from 'node:https';
import { createPinnedServer, httpsFetch } from '../../net/https-fetch.js';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Crypto, RandomSource } from '../../../src/crypto/index.js';
import { connectWebSocket, type WebSocketConnection } from '../../../src/net/websocket.js';
import {
  decodeConsensusUnverified,
  encodeConsensus,
  pathLayers,
  signConsensus,
  sphinxKeyFor,
  type ConsensusDocument,
  type NodeDescriptor,
} from '../../../src/pki/index.js';
import type { HopCommand, PathHop, Sphinx } from '../../../src/sphinx/index.js';
import { encodeGatewayFrame } from '../../../src/wire/gateway-frame.js';
import { StoreError, type StoreErrorKind } from '../../../src/store/errors.js';
import type { MailboxStore, StoredMessage, StoreStats } from '../../../src/store/mailbox.js';
import type { FakeClock } from '../authority/fake-clock.js';

/**
 * Waits for `condition`, moving the fake clock forward by `pumpMs` per round (never past
 * `pumpLimit()`), so that timers on the node clock (polls, retries, mixing delays) fire. Real time
 * is only a guard: the condition must come true by itself well before it.
 */
export async function until(
  what: string,
  condition: () => boolean | Promise<boolean>,
  clock: FakeClock,
  pumpLimit: () => number,
  { pumpMs = 20, guardMs = 60_000 }: { pumpMs?: number; guardMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    if (pumpMs > 0 && clock.now() + pumpMs <= pumpLimit()) clock.advance(pumpMs);
    await sleep(5);
  }
}

// --- A test client that builds packets from the consensus ------------------------------------------

export interface Route {
  /** One node per layer: gateway, mix 1, mix 2, mix 3, provider. */
  readonly nodes: readonly NodeDescriptor[];
}

export class TestClient {
  readonly layers: ReturnType<typeof pathLayers>;

  constructor(
    readonly sphinx: Sphinx,
    readonly doc: ConsensusDocument,
    private readonly random: RandomSource,
  ) {
    this.layers = pathLayers(doc);
  }

  /** A route through the given provider; mixes picked at random unless `pick` names them. */
  route(provider: Uint8Array, pick: Partial<Record<1 | 2 | 3, Uint8Array>> = {}): Route {
    const choose = (layer: 1 | 2 | 3): NodeDescriptor => {
      const nodes = this.layers[layer];
      const wanted = pick[layer];
      if (wanted !== undefined) return must(nodes.find((node) => same(node.nodeId, wanted)), `layer ${layer} node`);
      return nodes[this.random(1)[0] % nodes.length];
    };
    const gateway = this.layers[0][0];
    const last = must(this.layers[4].find((node) => same(node.nodeId, provider)), 'provider');
    return { nodes: [gateway, choose(1), choose(2), choose(3), last] };
  }

  /**
   * The Sphinx path of a route: its mixes and provider (the gateway is no Sphinx hop). `delays` is
   * indexed by route node, so delays[0] (the gateway's) is unused.
   */
  path(route: Route, delays: readonly number[], lastCommands: HopCommand[]): PathHop[] {
    const hops = route.nodes.slice(1);
    return hops.map((node, i) => ({
      id: node.nodeId,
      publicKey: must(sphinxKeyFor(node, this.doc.epoch), `Sphinx key of ${node.name} for epoch ${this.doc.epoch}`),
      commands: i === hops.length - 1 ? lastCommands : [{ type: 'delay', delayMs: delays[i + 1] ?? 0 }],
    }));
  }

  /**
   * The gateway frame of a packet for `recipient` as clients send mail: the last hop names the
   * recipient and a random SURB ID, and the whole payload is the caller's (`message`, zero-padded),
   * stored as is.
   */
  packet(route: Route, recipient: Uint8Array, message: Uint8Array, delays: readonly number[] = [0, 0, 0, 0]): Uint8Array {
    const payload = new Uint8Array(this.sphinx.geometry.payloadLength);
    payload.set(message);
    const last: HopCommand[] = [{ type: 'recipient', recipient }, { type: 'surb-reply', surbId: this.random(16) }];
    const packet = this.sphinx.newPacketWithPayload(this.path(route, delays, last), payload, this.random);
    return encodeGatewayFrame({ firstHop: route.nodes[1].nodeId, packet });
  }

  /** The gateway frame of a plain forward packet (the layout providers no longer store: the SURB slot is in clear). */
  plainPacket(route: Route, recipient: Uint8Array, message: Uint8Array): Uint8Array {
    const g = this.sphinx.geometry;
    const surb = g.withSurb ? this.random(g.surbLength) : undefined;
    const packet = this.sphinx.newPacket(this.path(route, [0, 0, 0, 0], [{ type: 'recipient', recipient }]), message, this.random, surb);
    return encodeGatewayFrame({ firstHop: route.nodes[1].nodeId, packet });
  }

  /** The message inside a stored item (`0x03 ‖ SURB ID ‖ payload`, the message at the payload's start). */
  messageOf(stored: Uint8Array): Uint8Array {
    if (stored[0] !== 0x03) throw new Error('not a stored item');
    return stored.subarray(17);
  }
}

export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** "tag #index", zero-padded by Sphinx; `labelOf` reads it back. */
export function labelled(tag: string, index: number): Uint8Array {
  return encoder.encode(`${tag} #${index}`);
}

export function labelOf(message: Uint8Array): string {
  const end = message.indexOf(0);
  return decoder.decode(end < 0 ? message : message.subarray(0, end));
}

// --- Client WebSockets ------------------------------------------------------------------------------

/** A gateway's or provider's client listener: its `wss://` URL and the link key clients pin. */
export interface ClientListener {
  readonly wsUrl: string;
  readonly linkKey: Uint8Array;
}

export const clientTarget = (node: ClientListener): { url: string; linkKey: Uint8Array } => ({ url: node.wsUrl, linkKey: node.linkKey });

export async function openGateway(gateway: ClientListener): Promise<WebSocketConnection> {
  return connectWebSocket(clientTarget(gateway), { maxMessageBytes: 1024 });
}

/**
 * The provider's retrieval protocol written out by hand from docs/network.md (independently of
 * src/wire/retrieval.ts), with responses matched to requests by id.
 */
export class MailboxClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (bytes: Uint8Array) => void>();
  readonly unmatched: Uint8Array[] = [];

  private constructor(readonly conn: WebSocketConnection) {
    conn.onMessage((bytes) => {
      const id = bytes.length >= 5 ? new DataView(bytes.buffer, bytes.byteOffset).getUint32(1) : -1;
      const resolve = this.waiting.get(id);
      if (resolve === undefined) return void this.unmatched.push(bytes);
      this.waiting.delete(id);
      resolve(bytes);
    });
  }

  static async open(provider: ClientListener): Promise<MailboxClient> {
    return new MailboxClient(await connectWebSocket(clientTarget(provider), { maxMessageBytes: 16 * 1024 * 1024 }));
  }

  /** Sends raw bytes and waits for the answer carrying `id`. */
  request(bytes: Uint8Array, id: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to request ${id}`)), 30_000);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.conn.send(bytes);
    });
  }

  fetchBucket(epoch: number, bucket: number, buckets: number): Promise<Answer> {
    const id = this.nextId++;
    const bytes = new Uint8Array(21);
    const view = new DataView(bytes.buffer);
    bytes[0] = 0x01;
    view.setUint32(1, id);
    view.setBigUint64(5, BigInt(epoch));
    view.setUint32(13, bucket);
    view.setUint32(17, buckets);
    return this.request(bytes, id).then(parseAnswer);
  }

  fetchEpoch(epoch: number): Promise<Answer> {
    const id = this.nextId++;
    const bytes = new Uint8Array(13);
    const view = new DataView(bytes.buffer);
    bytes[0] = 0x02;
    view.setUint32(1, id);
    view.setBigUint64(5, BigInt(epoch));
    return this.request(bytes, id).then(parseAnswer);
  }

  close(): void {
    this.conn.close();
  }
}

export type Answer =
  | { kind: 'messages'; id: number; messages: { address: Uint8Array; ciphertext: Uint8Array }[] }
  | { kind: 'error'; id: number; code: number; reason: string };

export function parseAnswer(bytes: Uint8Array): Answer {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getUint32(1);
  if (bytes[0] === 0xe0) {
    const length = view.getUint16(7);
    if (bytes.length !== 9 + length) throw new Error('bad error length');
    return { kind: 'error', id, code: view.getUint16(5), reason: decoder.decode(bytes.subarray(9)) };
  }
  if (bytes[0] !== 0x81) throw new Error(`unknown answer type ${bytes[0]}`);
  const count = view.getUint32(5);
  const messages: { address: Uint8Array; ciphertext: Uint8Array }[] = [];
  let offset = 9;
  for (let i = 0; i < count; i++) {
    const address = bytes.slice(offset, offset + 32);
    const length = view.getUint32(offset + 32);
    messages.push({ address, ciphertext: bytes.slice(offset + 36, offset + 36 + length) });
    offset += 36 + length;
  }
  if (offset !== bytes.length) throw new Error('trailing bytes in a messages answer');
  return { kind: 'messages', id, messages };
}

// --- A store whose failures the test switches on and off -----------------------------------------

export class FaultyStore implements MailboxStore {
  failDeliver: StoreErrorKind | undefined;
  failFetch: StoreErrorKind | undefined;

  constructor(private readonly inner: MailboxStore) {}

  get maxCiphertextBytes(): number {
    return this.inner.maxCiphertextBytes;
  }

  deliver(address: Uint8Array, epoch: number, ciphertext: Uint8Array, receivedAtMs: number): Promise<void> {
    if (this.failDeliver !== undefined) return Promise.reject(new StoreError(this.failDeliver, 'injected failure'));
    return this.inner.deliver(address, epoch, ciphertext, receivedAtMs);
  }

  fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredMessage[]> {
    if (this.failFetch !== undefined) return Promise.reject(new StoreError(this.failFetch, 'injected failure'));
    return this.inner.fetchBucket(epoch, bucket, buckets);
  }

  fetchEpoch(epoch: number): Promise<StoredMessage[]> {
    if (this.failFetch !== undefined) return Promise.reject(new StoreError(this.failFetch, 'injected failure'));
    return this.inner.fetchEpoch(epoch);
  }

  deleteBefore(cutoffMs: number): Promise<number> {
    return this.inner.deleteBefore(cutoffMs);
  }

  stats(): Promise<StoreStats> {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

// --- A mirror that forges documents -----------------------------------------------------------------

/**
 * An HTTP proxy in front of the authority: uploads and everything else pass through; consensus
 * documents come back forged: epoch 0's with a broken signature, later ones re-signed by a key
 * nobody trusts.
 */
export async function startForger(crypto: Crypto, authorityUrl: string, authoritySeed: Uint8Array): Promise<{ url: string; forged: number; close(): Promise<void> }> {
  const rogueSeed = crypto.blake2b(32, encoder.encode('umbra test rogue authority'));
  const state = { forged: 0 };
  // It answers with the authority's own TLS key (the node pins that key): what it serves still has to verify.
  const authorityKey = crypto.ed25519PublicKey(authoritySeed);
  const { server }: { server: Server } = createPinnedServer(authoritySeed, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const ask = () => httpsFetch(`${authorityUrl}${req.url ?? '/'}`, authorityKey, {
          method: req.method ?? 'GET',
          headers: req.headers['content-type'] === undefined ? {} : { 'content-type': req.headers['content-type'] },
          ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
        });
        let upstream = await ask();
        // A document not made yet is waited for (up to 2 s): a node that asks just before the test's
        // clock reaches the publish time still gets a forgery, not a 404 and then the real one elsewhere.
        for (let tries = 0; upstream.status === 404 && /^\/v1\/consensus\/\d+$/.test(req.url ?? '') && tries < 20; tries++) {
          await upstream.body?.cancel();
          await sleep(100);
          upstream = await ask();
        }
        let body: Uint8Array = new Uint8Array(await upstream.arrayBuffer());
        const consensus = /^\/v1\/consensus\/(\d+)$/.exec(req.url ?? '');
        if (upstream.status === 200 && consensus !== null) {
          state.forged++;
          if (consensus[1] === '0') {
            body = body.slice();
            body[body.length - 1] ^= 0x01; // the last byte of the authority's signature
          } else {
            const { doc } = decodeConsensusUnverified(crypto, body, false);
            body = encodeConsensus(signConsensus(crypto, { ...doc, signatures: [] }, rogueSeed));
          }
        }
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/octet-stream' });
        res.end(body);
      })().catch(() => {
        res.writeHead(502);
        res.end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    get forged() {
      return state.forged;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The value of one line of a Prometheus page (0 when absent). */
export function metricLine(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}
