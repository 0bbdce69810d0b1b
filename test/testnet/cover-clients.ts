/**
 * Users of an `umbra up` network that send only what every idle client sends (support for
 * test/testnet/sim-vs-real.test.ts, not a test file): the Loopix streams of src/traffic/poisson.ts
 * at the consensus's rates, a send stream whose every slot carries drop cover (no mail is queued),
 * a loop stream to the user's own mailbox and a drop stream, as the client agent and the simulator
 * run them. Each user has its own gateway WebSocket from its own loopback address (127.0.0.N), so
 * the gateway sees one connection per user and applies its per-address limits to each. Paths are
 * one mix per layer uniformly (what the client's path choice gives when each layer's nodes are
 * alike, as the simulator draws them) and each mix's delay is the sender's exponential draw.
 * Packets are real Sphinx packets under the epoch's keys from the verified consensus. A slot that
 * comes while the current epoch's document is not yet held (its authority late on a loaded
 * machine) sends nothing and is counted in `stale`: as for a client agent, which builds no packet
 * without its epoch's keys, an older epoch's would be refused once its grace is over.
 */
import { getCrypto, seededRandom, type RandomSource } from '../../src/crypto/index.js';
import { fromBase64Url } from '../../src/codec/bytes.js';
import { delayMs } from '../../src/mixing/exponential.js';
import { fetchConsensus } from '../../src/net/authority-client.js';
import type { WebSocketConnection } from '../../src/net/websocket.js';
import { connectWebSocket } from '../../src/net/websocket.js';
import { epochAt, type ConsensusDocument } from '../../src/pki/index.js';
import { makeSuite, Sphinx } from '../../src/sphinx/index.js';
import { PoissonStreams } from '../../src/traffic/poisson.js';
import type { Testnet } from '../../src/testnet/up.js';
import { TestClient } from '../node/network/support.js';

const crypto = getCrypto();
const COVER_ADDRESS = new Uint8Array(32);

interface User {
  readonly conn: WebSocketConnection;
  readonly address: Uint8Array;
  readonly provider: number;
  readonly streams: PoissonStreams;
  readonly drops: PoissonStreams | undefined;
  timer?: NodeJS.Timeout;
}

export class CoverClients {
  /** Packets each user handed to its gateway connection. */
  sent = 0;
  failed = 0;
  stale = 0;
  private readonly docs = new Map<number, TestClient>();
  private readonly users: User[] = [];
  private poller: NodeJS.Timeout | undefined;
  private stopped = false;
  private startMs = 0;

  private constructor(
    private readonly net: Testnet,
    private readonly sphinx: Sphinx,
    private readonly random: RandomSource,
  ) {}

  /** Opens `count` users' connections, then starts every stream at one instant. */
  static async start(net: Testnet, count: number, seed: number): Promise<CoverClients> {
    const { geometry, suite } = net.plan.network;
    const clients = new CoverClients(net, new Sphinx(makeSuite(suite, crypto), geometry), seededRandom(crypto, seed));
    await clients.refresh();
    if (clients.docs.size === 0) throw new Error('no consensus for the cover clients');
    const gateway = (clients.client() ?? clients.newest()).layers[0][0];
    const url = net.file.nodes.find((node) => node.name === gateway.name)?.wsUrl;
    if (url === undefined) throw new Error('no gateway WebSocket');
    const linkKey = gateway.linkPublicKey;
    const { traffic } = net.plan.network;
    for (let i = 0; i < count; i++) {
      const conn = await connectWebSocket({ url, linkKey }, { maxMessageBytes: 1024, localAddress: `127.0.0.${10 + i}` });
      const address = clients.random(32);
      address[0] |= 1;
      clients.users.push({
        conn,
        address,
        provider: i % 2,
        streams: new PoissonStreams(clients.random, { sendPerSecond: traffic.clientSendRate, loopPerSecond: traffic.loopRate }, 0),
        drops: traffic.dropRate > 0 ? new PoissonStreams(clients.random, { sendPerSecond: traffic.dropRate, loopPerSecond: 0 }, 0) : undefined,
      });
    }
    clients.poller = setInterval(() => void clients.refresh(), 500);
    clients.startMs = Date.now();
    for (const user of clients.users) clients.schedule(user);
    return clients;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.poller);
    for (const user of this.users) {
      clearTimeout(user.timer);
      user.conn.close();
    }
  }

  /** Fetches the current and next epochs' documents not yet held. */
  private async refresh(): Promise<void> {
    const keys = this.net.authorities.map((authority) => fromBase64Url(authority.publicKey, 'key', 32));
    const now = Date.now();
    const epoch = epochAt(now, this.net.file);
    for (const wanted of [epoch, epoch + 1]) {
      if (this.docs.has(wanted)) continue;
      const fetched = await fetchConsensus(crypto, this.net.authorityUrl, wanted, { authorities: keys, nowMs: now }).catch(() => undefined);
      if (fetched !== undefined) this.docs.set(wanted, new TestClient(this.sphinx, fetched.doc as ConsensusDocument, this.random));
    }
  }

  /** The current epoch's document, the only one a slot may send under. */
  private client(): TestClient | undefined {
    return this.docs.get(epochAt(Date.now(), this.net.file));
  }

  /** The newest document held (at start, to find the gateway; at least one is held then). */
  private newest(): TestClient {
    return this.docs.get(Math.max(...this.docs.keys()))!;
  }

  private next(user: User): number {
    return Math.min(user.streams.peek().at, user.drops?.peek().at ?? Infinity);
  }

  private schedule(user: User): void {
    if (this.stopped) return;
    const at = this.startMs + this.next(user);
    user.timer = setTimeout(() => this.fire(user), Math.max(0, at - Date.now()));
  }

  /** One slot: a drop from the drop stream, else the send stream's loop or (empty) send slot. */
  private fire(user: User): void {
    if (this.stopped) return;
    let loop = false;
    if (user.drops !== undefined && user.drops.peek().at <= user.streams.peek().at) user.drops.take();
    else loop = user.streams.take().kind === 'loop';
    const client = this.client();
    if (client === undefined) {
      this.stale++;
      this.schedule(user);
      return;
    }
    try {
      const providers = client.layers[4];
      const provider = loop ? providers[user.provider % providers.length] : providers[this.random(1)[0] % providers.length];
      const { meanDelayMs, maxDelayMs } = client.doc.mixing;
      const delays = [0, 1, 2, 3].map((hop) => (hop === 0 ? 0 : delayMs(this.random, meanDelayMs, maxDelayMs)));
      const frame = client.packet(client.route(provider.nodeId), loop ? user.address : COVER_ADDRESS, new Uint8Array(0), [...delays, 0]);
      if (user.conn.send(frame)) this.sent++;
      else this.failed++;
    } catch {
      this.failed++;
    }
    this.schedule(user);
  }
}
