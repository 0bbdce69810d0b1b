import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { initClient, startClient, type ClientAgent, type ClientEvent, type InitResult } from '../../src/client/index.js';
import { toBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../src/node/authority/index.js';
import { startGateway } from '../../src/node/gateway/index.js';
import { startMix } from '../../src/node/mix/index.js';
import { startProvider, type ProviderHandle } from '../../src/node/provider/index.js';
import { validateNodeConfig, type NodeHandle } from '../../src/node/runtime/index.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import { FAST_KDF, seed, tempDir, TEST_NETWORK_POLICY } from './support.js';

/**
 * The real node code in one process on 127.0.0.1 (ephemeral ports), all on one fake clock: an
 * authority, a gateway, two mixes per layer and a provider, and as many client agents as a test
 * asks for. The clock is pumped 20 ms per round, and never past the first epoch.
 */
export interface RealUser {
  readonly name: string;
  readonly init: InitResult;
  readonly agent: ClientAgent;
  readonly events: ClientEvent[];
}

export class RealNetwork {
  readonly crypto = getCrypto('sodium');
  readonly clock: FakeClock;
  readonly nodes: NodeHandle[] = [];
  readonly users: RealUser[] = [];
  provider!: ProviderHandle;
  private authority!: AuthorityHandle;
  private readonly authoritySeed: Uint8Array;
  private pumpLimit: number;

  private constructor(private readonly label: string, private readonly genesis: number, private readonly epochMs: number) {
    this.clock = new FakeClock(genesis - 30_000); // before genesis: a fresh network
    this.pumpLimit = genesis - 16_000;
    this.authoritySeed = seed(this.crypto, `${label} authority`);
  }

  static async start(label: string, genesis = 1_800_000_000_000, epochMs = 60_000): Promise<RealNetwork> {
    const net = new RealNetwork(label, genesis, epochMs);
    await net.init();
    return net;
  }

  get authorityKey(): Uint8Array {
    return this.crypto.ed25519PublicKey(this.authoritySeed);
  }

  /** Moves the fake clock 20 ms per round (never past the pump limit) until `condition` holds. */
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
      role, name, dataDir: tempDir(`umbra-${this.label}-`), authorityUrls: [this.authority.url], authorities: [toBase64Url(this.authorityKey)],
      genesisMs: this.genesis, epochMs: this.epochMs, replayFilterLog2Bits: 16, consensusPollMs: 1000, link: { reconnectInitialMs: 20, reconnectMaxMs: 200 }, ...extra,
    });
  }

  private async init(): Promise<void> {
    const { crypto, clock } = this;
    this.authority = await startAuthority(
      validateAuthorityConfig({
        identitySeed: toBase64Url(this.authoritySeed), authorities: [toBase64Url(this.authorityKey)], genesisMs: this.genesis, epochMs: this.epochMs,
        dataDir: tempDir(`umbra-${this.label}-`), openAdmission: true,
        network: { mixing: { meanDelayMs: 10, maxDelayMs: 1000 }, traffic: { clientSendRate: 20, loopRate: 2, dropRate: 1, gatewayClientRate: 400 }, retrieval: 'bucket' },
      }),
      { crypto, clock },
    );
    const deps = { crypto, clock, log: () => undefined };
    const starts: Promise<NodeHandle>[] = [startGateway(this.nodeConfig('gateway', 'gateway'), deps)];
    for (const layer of [1, 2, 3]) for (const letter of ['a', 'b']) starts.push(startMix(this.nodeConfig('mix', `mix-${layer}-${letter}`, { layer }), deps));
    starts.push(startProvider(this.nodeConfig('provider', 'provider'), deps).then((handle) => (this.provider = handle)));
    this.nodes.push(...(await Promise.all(starts)));
    await this.until('every descriptor for epoch 0', () => this.nodes.every((node) => node.status().uploadedEpochs.includes(0)));
    clock.advanceTo(this.genesis + 1);
    this.pumpLimit = this.genesis + 40_000;
    await this.until('every node holding the consensus of epoch 0', () =>
      this.nodes.every((node) => node.status().consensusEpochs.includes(0) && node.status().uploadedEpochs.includes(1)));
  }

  /** A new user with its own directory and running agent, on the network's provider. */
  async user(name: string): Promise<RealUser> {
    const server = this.provider.wsUrl.replace(/^wss:\/\//, '');
    const dir = join(tempDir(), name);
    const init = await initClient(dir, { name, passphrase: 'pw', authority: { url: this.authority.url, publicKeys: [this.authorityKey] }, servers: [server], kdf: FAST_KDF, clock: this.clock, ...TEST_NETWORK_POLICY });
    const events: ClientEvent[] = [];
    const agent = await startClient(dir, 'pw', { clock: this.clock, onEvent: (event) => events.push(event) });
    const user = { name, init, agent, events };
    this.users.push(user);
    return user;
  }

  async close(): Promise<void> {
    for (const user of this.users) await user.agent.close().catch(() => undefined);
    await Promise.all(this.nodes.map((node) => node.close()));
    await this.authority?.close();
  }
}
