/**
 * A whole network in one process for the PIR tests: an authority, a gateway, two mixes per layer and
 * two providers, started with the library functions on 127.0.0.1 (ephemeral ports), on one fake
 * clock, in a chosen retrieval mode. Used by test/node/pir and test/client/pir-*.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../../src/node/authority/index.js';
import { startGateway } from '../../../src/node/gateway/index.js';
import { startMix } from '../../../src/node/mix/index.js';
import { startProvider, type PirServiceOptions, type ProviderHandle } from '../../../src/node/provider/index.js';
import { validateNodeConfig, type NodeHandle } from '../../../src/node/runtime/index.js';
import type { WebSocketConnector } from '../../../src/net/request-channel.js';
import { connectWebSocket } from '../../../src/net/websocket.js';
import type { PirParameters, RetrievalMode } from '../../../src/pki/index.js';
import { FakeClock } from '../authority/fake-clock.js';
import { interceptedConnection } from '../../support/intercepted-connection.js';

export const crypto = getCrypto('sodium');
export const EPOCH_MS = 60_000;

export interface TestNetworkOptions {
  readonly label: string;
  readonly retrieval: RetrievalMode;
  readonly genesisMs: number;
  readonly pir?: PirServiceOptions;
  readonly providers?: number;
  /** Epoch length (default EPOCH_MS). */
  readonly epochMs?: number;
  /** The consensus's client traffic rates (default 20 sends, 2 loops, 1 drop a second). */
  readonly traffic?: { readonly clientSendRate: number; readonly loopRate: number; readonly dropRate: number; readonly gatewayClientRate: number };
  /** Gateways (default 1). */
  readonly gateways?: number;
  /** The consensus's PIR sizes (default DEFAULT_NETWORK_PARAMETERS.pir). */
  readonly pirSizes?: PirParameters;
  /** Further node configuration for every node (it replaces `link` as a whole). */
  readonly nodeConfig?: Record<string, unknown>;
}

export class TestNetwork {
  readonly clock: FakeClock;
  readonly nodes: NodeHandle[] = [];
  readonly providers: ProviderHandle[] = [];
  authority!: AuthorityHandle;
  /** The fake clock is never pumped past this. */
  pumpLimit: number;
  private readonly dirs: string[] = [];
  readonly authoritySeed: Uint8Array;

  private constructor(readonly options: TestNetworkOptions) {
    const scale = (options.epochMs ?? EPOCH_MS) / EPOCH_MS;
    this.clock = new FakeClock(options.genesisMs - 30_000 * scale); // before genesis: a fresh network
    this.pumpLimit = options.genesisMs - 16_000 * scale;
    this.authoritySeed = crypto.blake2b(32, new TextEncoder().encode(`umbra pir test ${options.label} authority`));
  }

  get epochMs(): number {
    return this.options.epochMs ?? EPOCH_MS;
  }

  get authorityKey(): Uint8Array {
    return crypto.ed25519PublicKey(this.authoritySeed);
  }

  tempDir(prefix = 'umbra-pir-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Moves the fake clock 20 ms per round (never past pumpLimit) until `condition` holds. */
  async until(what: string, condition: () => boolean | Promise<boolean>, guardMs = 20_000): Promise<void> {
    const deadline = Date.now() + guardMs;
    for (;;) {
      if (await condition()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      if (this.clock.now() + 20 <= this.pumpLimit) this.clock.advance(20);
      await sleep(5);
    }
  }

  private nodeConfig(role: string, name: string, extra: Record<string, unknown> = {}) {
    return validateNodeConfig({
      role,
      name,
      dataDir: this.tempDir(),
      authorityUrls: [this.authority.url],
      authorities: [toBase64Url(this.authorityKey)],
      genesisMs: this.options.genesisMs,
      epochMs: this.epochMs,
      replayFilterLog2Bits: 16,
      consensusPollMs: 1000,
      link: { reconnectInitialMs: 20, reconnectMaxMs: 200 },
      // Mixes unwrap inline: on the fake clock a packet must be unwrapped and scheduled in the turn
      // it is counted in (a worker thread would let the clock move while it waits).
      ...(role === 'mix' ? { unwrapWorkers: 0 } : {}),
      ...this.options.nodeConfig,
      ...extra,
    });
  }

  static async start(options: TestNetworkOptions): Promise<TestNetwork> {
    const net = new TestNetwork(options);
    const { genesisMs } = options;
    net.authority = await startAuthority(
      validateAuthorityConfig({
        identitySeed: toBase64Url(net.authoritySeed),
        authorities: [toBase64Url(net.authorityKey)],
        genesisMs,
        epochMs: net.epochMs,
        dataDir: net.tempDir(),
        openAdmission: true,
        network: {
          mixing: { meanDelayMs: 10, maxDelayMs: 1000 },
          traffic: options.traffic ?? { clientSendRate: 20, loopRate: 2, dropRate: 1, gatewayClientRate: 200 },
          retrieval: options.retrieval,
          ...(options.pirSizes === undefined ? {} : { pir: options.pirSizes }),
        },
      }),
      { crypto, clock: net.clock },
    );
    const deps = { crypto, clock: net.clock, log: () => undefined };
    const starts: Promise<NodeHandle>[] = [];
    for (let i = 0; i < (options.gateways ?? 1); i++) starts.push(startGateway(net.nodeConfig('gateway', i === 0 ? `${options.label}-gateway` : `${options.label}-gateway-${i + 1}`), deps));
    for (const layer of [1, 2, 3]) for (const letter of ['a', 'b']) starts.push(startMix(net.nodeConfig('mix', `${options.label}-mix-${layer}-${letter}`, { layer }), deps));
    for (let i = 0; i < (options.providers ?? 2); i++) {
      const name = `${options.label}-provider-${i + 1}`;
      starts.push(
        startProvider(net.nodeConfig('provider', name, { identitySeed: toBase64Url(net.providerSeed(name)) }), { ...deps, ...(options.pir === undefined ? {} : { pir: options.pir }) }).then((handle) => {
          net.providers.push(handle);
          return handle;
        }),
      );
    }
    net.nodes.push(...(await Promise.all(starts)));
    net.providers.sort((a, b) => a.name.localeCompare(b.name));
    await net.until('every descriptor for epoch 0', () => net.nodes.every((node) => node.status().uploadedEpochs.includes(0)));
    net.clock.advanceTo(genesisMs + 1);
    net.pumpLimit = genesisMs + (40_000 * net.epochMs) / EPOCH_MS;
    await net.until('every node holding the consensus of epoch 0', () =>
      net.nodes.every((node) => node.status().consensusEpochs.includes(0) && node.status().uploadedEpochs.includes(1)));
    return net;
  }

  /** A provider's identity seed (fixed, so a test can sign as it). */
  providerSeed(name: string): Uint8Array {
    return crypto.blake2b(32, new TextEncoder().encode(`umbra pir test ${name} identity`));
  }

  /** The provider's "host:port" as its card names it. */
  server(provider: ProviderHandle): string {
    return provider.wsUrl.replace(/^wss:\/\//, '');
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.close()));
    await this.authority?.close();
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A WebSocket connector that passes everything through, except that messages from `url` go
 * through `tamper` first while `active()` holds (a server that lies, seen from the client).
 */
export function tamperingConnector(url: () => string | undefined, tamper: (bytes: Uint8Array) => Uint8Array, active: () => boolean = () => true): WebSocketConnector {
  return async (target, options) => {
    const conn = await connectWebSocket(target, options);
    if (target.url !== url()) return conn;
    return interceptedConnection(conn, { incoming: (bytes) => (active() ? tamper(bytes) : bytes) });
  };
}

/** Flips one bit of a PIR answer (0x84) at `offset` into the row; other messages pass. */
export function flipAnswerBit(offset: number, bit = 0): (bytes: Uint8Array) => Uint8Array {
  return (bytes) => {
    if (bytes[0] !== 0x84) return bytes;
    const out = bytes.slice();
    out[5 + (offset % (out.length - 5))] ^= 1 << bit;
    return out;
  };
}
