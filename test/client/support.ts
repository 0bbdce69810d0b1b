import { mkdtempSync, rmSync } from 'node:fs';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toBase64Url } from '../../src/codec/bytes.js';
import { getCrypto, type Crypto } from '../../src/crypto/index.js';
import { uploadDescriptor } from '../../src/net/authority-client.js';
import { listenWebSocket, type WebSocketConnection, type WebSocketListener } from '../../src/net/websocket.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../src/node/authority/index.js';
import { encodeMessagesResponse as encodeMessages } from '../../src/wire/retrieval.js';
import { encodeStoredItem } from '../../src/wire/stored-ciphertext.js';
import { encodeErrorResponse as encodeProviderError } from '../../src/wire/retrieval-errors.js';
import { gatewayFrameLength, parseGatewayFrame } from '../../src/wire/gateway-frame.js';
import {
  DEFAULT_NETWORK_PARAMETERS,
  encodeDescriptor,
  epochAt,
  makeDescriptor,
  type NodeDescriptor,
  type NodeRole,
  type TrafficParameters,
} from '../../src/pki/index.js';
import { makeGeometry, Sphinx, umbraV1Suite, type UnwrapResult } from '../../src/sphinx/index.js';
import { SqliteMailboxStore } from '../../src/store/index.js';
import { openKeystore, readKeystoreFile } from '../../src/client/keystore.js';
import { KEYSTORE_FILE } from '../../src/client/directory.js';
import { decodePayload } from '../../src/client/settings.js';
import { MailEndpoint } from '../../src/e2e/mail-endpoint.js';
import type { OpenedFragment } from '../../src/e2e/fragment.js';
import { fragmentParamsFor } from '../../src/e2e/sphinx-link.js';
import { systemRandom } from '../../src/crypto/index.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import type { ClientAgent } from '../../src/client/index.js';

/**
 * A small network for the client tests, in process: a real authority (on a fake clock), real
 * WebSocket listeners for the gateways and providers (the client talks to them exactly as to real
 * nodes), and nodes whose Sphinx keys the test holds. With `route` on, every gateway frame a gateway
 * receives is parsed and its packet unwrapped hop by hop from the layer-1 mix it names, with the real Sphinx code (delays are not waited for) and what
 * reaches a provider is stored in a real SQLite mailbox store, served over the provider protocol.
 */
export const FAST_KDF = Object.freeze({ opsLimit: 1, memLimitBytes: 8192 });
/**
 * The test networks run fast (short delays, few or no loops, bucket or download retrieval) and
 * have no mirrors: their clients lower the minimums and turn the partition check off, as a user
 * would consent to for such a network (docs/client.md, "Minimums").
 */
export const TEST_NETWORK_POLICY = Object.freeze({
  minimums: Object.freeze({ clientSendRate: 0, loopRate: 0, dropRate: 0, meanDelayMs: 0, retrieval: Object.freeze(['bucket', 'download', 'pir'] as const) }),
  mirrorsRequired: 0,
});
export const GENESIS_MS = 1_700_000_000_000;

const dirs: string[] = [];

/** The user's mail endpoint as its keystore holds it (what only the user has: its secret keys). */
export async function endpointOf(user: { readonly dir: string; readonly passphrase: string }): Promise<MailEndpoint> {
  const crypto = getCrypto('sodium');
  const { payload } = await openKeystore(crypto, readKeystoreFile(join(user.dir, KEYSTORE_FILE)), user.passphrase);
  const endpoint = MailEndpoint.restore(crypto, systemRandom(crypto), decodePayload(payload).endpoint);
  return MailEndpoint.restore(crypto, systemRandom(crypto), endpoint.exportState(), { fragment: fragmentParamsFor(new Sphinx(umbraV1Suite(crypto), DEFAULT_NETWORK_PARAMETERS.geometry).geometry) });
}

/** A stored payload opened as a fragment with the user's key (throws when it is not one for the user). */
export async function openedBy(user: { readonly dir: string; readonly passphrase: string }, payload: Uint8Array): Promise<OpenedFragment> {
  return (await endpointOf(user)).open(payload);
}

export function tempDir(prefix = 'umbra-client-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * The simulated networks and agents a test file starts: after the file's tests the agents are
 * closed, then the networks, and the temporary directories removed.
 */
export function closedAfterTests(): { nets: SimNet[]; agents: ClientAgent[] } {
  const held = { nets: [] as SimNet[], agents: [] as ClientAgent[] };
  after(async () => {
    for (const agent of held.agents) await agent.close().catch(() => undefined);
    for (const net of held.nets) await net.close();
    removeTempDirs();
  });
  return held;
}

/** Waits (in real time) until `condition` holds; fails after `timeoutMs` (a guard for a stuck test). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function seed(crypto: Crypto, label: string): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`umbra client test ${label}`));
}

export interface SimNode {
  readonly name: string;
  /** Every node is its own operator. */
  readonly family: string;
  readonly role: NodeRole;
  readonly layer: number;
  readonly identitySeed: Uint8Array;
  readonly nodeId: Uint8Array;
  ws?: string;
  listener?: WebSocketListener;
  store?: SqliteMailboxStore;
}

export interface Arrival {
  readonly gateway: string;
  /** The gateway connection it came on (GatewayConnectionRecord.id). */
  readonly connection: number;
  /** Fake-clock time it arrived. */
  readonly atMs: number;
  /** The Sphinx packet (the frame's, once parsed). */
  packet: Uint8Array;
  /** When the gateway got it (performance.now(), real time). */
  readonly receivedMs: number;
  /**
   * What the packet turned out to be, once routed ('unrouted' when routing is off). Every item for
   * a mailbox ends in a SURB-reply hop and is stored alike; the test network calls it 'surb-reply'
   * (an ACK or a loop) when it lands at a watched user's own address, else 'deliver' (a fragment).
   */
  outcome: 'cover' | 'deliver' | 'surb-reply' | 'error' | 'unrouted';
  recipient?: Uint8Array;
  /** The stored payload (the packet's whole payload: a sealed fragment, an ACK or a loop). */
  payload?: Uint8Array;
  surbId?: Uint8Array;
  error?: string;
}

/** A client connection to a gateway, as an observer of the network sees it. */
export interface GatewayConnectionRecord {
  readonly id: number;
  readonly gateway: string;
  readonly openedMs: number;
  closedMs?: number;
}

export interface SimNetOptions {
  readonly label?: string;
  readonly epochMs?: number;
  /** Fake time at start, as an offset into the epoch after genesis. */
  readonly startOffsetMs?: number;
  readonly traffic?: Partial<TrafficParameters>;
  readonly gateways?: number;
  readonly providers?: number;
  /** Unwrap and deliver gateway packets (default true). */
  readonly route?: boolean;
}

export class SimNet {
  readonly crypto = getCrypto('sodium');
  readonly clock: FakeClock;
  readonly nodes: SimNode[] = [];
  readonly arrivals: Arrival[] = [];
  /** Every client connection to a gateway, in the order they opened. */
  readonly connections: GatewayConnectionRecord[] = [];
  readonly epochMs: number;
  readonly sphinx: Sphinx;
  authority!: AuthorityHandle;
  route: boolean;
  /** Drop every packet at the gateway instead of routing it (a network that loses everything). */
  blackhole = false;
  /** The provider refuses bucket fetches with fewer buckets than this as 'too-large' (code 5). */
  minBuckets = 1;
  /** Own addresses of watched users (watchOwnAddress): what lands there is an ACK or a loop. */
  private readonly ownAddresses: ((epoch: number) => Uint8Array)[] = [];
  /** Every bucket-count the provider was asked with. */
  readonly bucketCounts: number[] = [];
  /** Names of nodes whose descriptors are no longer uploaded: they leave the next consensus not yet made. */
  readonly withdrawn = new Set<string>();
  private readonly label: string;
  private readonly dataDir: string;
  private readonly authoritySeed: Uint8Array;
  private readonly uploaded = new Set<number>();
  private readonly traffic: TrafficParameters;

  private constructor(options: SimNetOptions) {
    this.label = options.label ?? 'sim';
    this.epochMs = options.epochMs ?? 60_000;
    this.clock = new FakeClock(GENESIS_MS + 10 * this.epochMs + (options.startOffsetMs ?? 1000));
    this.route = options.route ?? true;
    this.dataDir = tempDir('umbra-client-net-');
    this.authoritySeed = seed(this.crypto, `${this.label} authority`);
    this.traffic = { ...DEFAULT_NETWORK_PARAMETERS.traffic, gatewayClientRate: 10_000, ...options.traffic };
    this.sphinx = new Sphinx(umbraV1Suite(this.crypto), DEFAULT_NETWORK_PARAMETERS.geometry);
  }

  static async start(options: SimNetOptions = {}): Promise<SimNet> {
    const net = new SimNet(options);
    await net.init(options.gateways ?? 1, options.providers ?? 1);
    return net;
  }

  get authorityKey(): Uint8Array {
    return this.crypto.ed25519PublicKey(this.authoritySeed);
  }

  get authoritySettings(): { url: string; publicKeys: Uint8Array[] } {
    return { url: this.authority.url, publicKeys: [this.authorityKey] };
  }

  get packetLength(): number {
    return makeGeometry(umbraV1Suite(this.crypto), DEFAULT_NETWORK_PARAMETERS.geometry).packetLength;
  }

  get epoch(): number {
    return epochAt(this.clock.now(), { genesisMs: GENESIS_MS, epochMs: this.epochMs });
  }

  providerWs(i = 0): string {
    return this.nodes.filter((node) => node.role === 'provider')[i].ws!;
  }

  private async init(gateways: number, providers: number): Promise<void> {
    const add = (role: NodeRole, layer: number, i: number): SimNode => {
      const name = `${this.label}-${role}-${layer}-${i}`;
      const identitySeed = seed(this.crypto, `${name} identity`);
      const node: SimNode = { name, family: `op-${role}-${layer}-${i}`, role, layer, identitySeed, nodeId: this.crypto.ed25519PublicKey(identitySeed) };
      this.nodes.push(node);
      return node;
    };
    for (let i = 0; i < gateways; i++) add('gateway', 0, i);
    for (const layer of [1, 2, 3]) for (let i = 0; i < 2; i++) add('mix', layer, i);
    for (let i = 0; i < providers; i++) add('provider', 4, i);
    const packetLength = this.packetLength;
    for (const node of this.nodes) {
      if (node.role === 'gateway') {
        node.listener = await listenWebSocket({
          seed: seed(this.crypto, `${node.name} link`),
          maxMessageBytes: gatewayFrameLength(packetLength),
          onConnection: (conn) => {
            const record: GatewayConnectionRecord = { id: this.connections.length, gateway: node.name, openedMs: this.clock.now() };
            this.connections.push(record);
            conn.onClose(() => (record.closedMs = this.clock.now()));
            conn.onMessage((frame) => this.onGatewayFrame(node, record.id, frame));
          },
        });
        node.ws = `127.0.0.1:${node.listener.port}`;
      } else if (node.role === 'provider') {
        node.store = await SqliteMailboxStore.open({ path: join(this.dataDir, `${node.name}.db`), maxCiphertextBytes: 1 << 20 });
        node.listener = await listenWebSocket({ seed: seed(this.crypto, `${node.name} link`), maxMessageBytes: 64, onConnection: (conn) => this.serveProvider(node, conn) });
        node.ws = `127.0.0.1:${node.listener.port}`;
      }
    }
    const config = validateAuthorityConfig({
      identitySeed: toBase64Url(this.authoritySeed),
      authorities: [toBase64Url(this.authorityKey)],
      genesisMs: GENESIS_MS,
      epochMs: this.epochMs,
      dataDir: join(this.dataDir, 'authority'),
      allowedNodes: this.nodes.map((node) => toBase64Url(node.nodeId)),
      network: { mixing: { meanDelayMs: 5, maxDelayMs: 50 }, traffic: this.traffic, retrieval: 'bucket' },
    });
    this.authority = await startAuthority(config, { clock: this.clock, crypto: this.crypto });
    await this.uploadFor(this.epoch);
    await this.uploadFor(this.epoch + 1);
  }

  /** The node's X25519 Sphinx secret for an epoch (deterministic, so any epoch can be asked for). */
  sphinxSecret(node: SimNode, epoch: number): Uint8Array {
    return seed(this.crypto, `${node.name} sphinx ${epoch}`);
  }

  descriptor(node: SimNode, epoch: number): NodeDescriptor {
    return makeDescriptor(this.crypto, node.identitySeed, {
      epoch,
      serial: 1,
      name: node.name,
      family: node.family,
      role: node.role,
      layer: node.layer,
      addresses: node.ws === undefined ? { link: `127.0.0.1:${1000 + this.nodes.indexOf(node)}` } : { link: `127.0.0.1:${1000 + this.nodes.indexOf(node)}`, ws: node.ws },
      linkPublicKey: this.crypto.ed25519PublicKey(seed(this.crypto, `${node.name} link`)),
      sphinxKeys: [0, 1].map((i) => ({ epoch: epoch + i, publicKey: this.crypto.x25519Base(this.sphinxSecret(node, epoch + i)) })),
    });
  }

  /** Uploads every node's descriptor for `epoch` (the authority takes the current and the next). */
  async uploadFor(epoch: number): Promise<void> {
    if (this.uploaded.has(epoch)) return;
    this.uploaded.add(epoch);
    for (const node of this.nodes) {
      if (!this.withdrawn.has(node.name)) await uploadDescriptor({ url: this.authority.url, keys: [this.authorityKey] }, encodeDescriptor(this.descriptor(node, epoch)));
    }
  }

  /**
   * Advances the fake clock in steps (firing the client's and the authority's timers), uploading
   * descriptors for each next epoch on the way, and yields to I/O between steps.
   */
  async advance(ms: number, stepMs = 100): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      this.clock.advanceTo(Math.min(end, this.clock.now() + stepMs));
      await this.uploadFor(this.epoch + 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private byId(nodeId: Uint8Array): SimNode | undefined {
    return this.nodes.find((node) => Buffer.from(node.nodeId).equals(nodeId));
  }

  private unwrapAt(node: SimNode, packet: Uint8Array): UnwrapResult {
    const epoch = this.epoch;
    let lastError: unknown;
    for (const e of [epoch, epoch - 1]) {
      try {
        return this.sphinx.unwrap(this.sphinxSecret(node, e), packet);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private onGatewayFrame(gateway: SimNode, connection: number, frame: Uint8Array): void {
    const arrival: Arrival = { gateway: gateway.name, connection, atMs: this.clock.now(), receivedMs: performance.now(), packet: frame, outcome: 'unrouted' };
    this.arrivals.push(arrival);
    const parsed = parseGatewayFrame(frame, this.packetLength);
    if (typeof parsed === 'string') {
      arrival.outcome = 'error';
      arrival.error = `a frame of ${frame.length} bytes (${parsed})`;
      return;
    }
    arrival.packet = parsed.packet.slice();
    if (!this.route || this.blackhole) return;
    try {
      // The gateway is a forwarder: the packet starts at the layer-1 mix the frame names.
      let node = this.byId(parsed.firstHop);
      if (node === undefined || node.layer !== 1) throw new Error('the first hop is no layer-1 mix');
      let result = this.unwrapAt(node, arrival.packet);
      while (result.kind === 'forward') {
        const next = this.byId(result.nextHop);
        if (next === undefined) throw new Error('unknown next hop');
        if (next.layer !== node.layer + 1) throw new Error(`layer ${node.layer} forwarded to layer ${next.layer}`);
        node = next;
        result = this.unwrapAt(node, result.packet);
      }
      if (node.role !== 'provider') throw new Error(`a packet ended at ${node.name}`);
      const now = this.clock.now();
      if (result.kind === 'deliver') {
        if (result.recipient === undefined || result.recipient.every((byte) => byte === 0)) {
          arrival.outcome = 'cover';
          return;
        }
        throw new Error('a plain forward delivery to a mailbox (refused by providers)');
      }
      arrival.outcome = this.isOwnAddress(result.recipient) ? 'surb-reply' : 'deliver';
      arrival.recipient = result.recipient;
      arrival.surbId = result.surbId;
      arrival.payload = result.payload;
      void node.store!.deliver(result.recipient!, this.epoch, encodeStoredItem(result.surbId, result.payload), now);
    } catch (error) {
      arrival.outcome = 'error';
      arrival.error = error instanceof Error ? error.message : String(error);
    }
  }

  /** Counts what lands at this user's own addresses as ACKs and loops ('surb-reply'). */
  watchOwnAddress(ownAddressOf: (epoch: number) => Uint8Array): void {
    this.ownAddresses.push(ownAddressOf);
  }

  private isOwnAddress(address: Uint8Array | undefined): boolean {
    if (address === undefined) return false;
    const epochs = [this.epoch, this.epoch - 1];
    return this.ownAddresses.some((of) => epochs.some((e) => Buffer.from(of(e)).equals(address)));
  }

  /** Stores a ciphertext in a provider's mailbox directly (for tests that build replies themselves). */
  async deliver(providerIndex: number, address: Uint8Array, ciphertext: Uint8Array): Promise<void> {
    const node = this.nodes.filter((n) => n.role === 'provider')[providerIndex];
    await node.store!.deliver(address, this.epoch, ciphertext, this.clock.now());
  }

  /** Unwraps a packet through the nodes as the network would, from its first hop (for replies built by the test). */
  routeFrom(firstHop: Uint8Array, packet: Uint8Array): UnwrapResult {
    let node = this.byId(firstHop)!;
    let result = this.unwrapAt(node, packet);
    while (result.kind === 'forward') {
      node = this.byId(result.nextHop)!;
      result = this.unwrapAt(node, result.packet);
    }
    return result;
  }

  private serveProvider(node: SimNode, conn: WebSocketConnection): void {
    conn.onMessage((request) => {
      const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
      if (request.length !== 21 || request[0] !== 0x01) return conn.close();
      const id = view.getUint32(1);
      const epoch = Number(view.getBigUint64(5));
      const bucket = view.getUint32(13);
      const buckets = view.getUint32(17);
      this.bucketCounts.push(buckets);
      if (buckets < this.minBuckets) return void conn.send(encodeProviderError(id, 5, 'the answer would be too large'));
      void node.store!.fetchBucket(epoch, bucket, buckets).then((messages) => {
        conn.send(encodeMessages(id, messages.map((m) => ({ address: m.address, ciphertext: m.ciphertext }))));
      });
    });
  }

  count(outcome: Arrival['outcome']): number {
    return this.arrivals.filter((arrival) => arrival.outcome === outcome).length;
  }

  async close(): Promise<void> {
    for (const node of this.nodes) {
      await node.listener?.close();
      await node.store?.close();
    }
    await this.authority?.close();
  }
}
