/**
 * The node runtime's parts on their own: configuration, the keyring (rotation, grace, restart),
 * the forwarder (delay cap, drops), the gateway's token bucket, the provider's protocol codec, and
 * a node that starts without a reachable authority.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { hexOf, toBase64Url } from '../../../src/codec/bytes.js';
import { replayFilterSizing } from '../../../src/mixing/replay-sizing.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { gatewayBurst, TokenBucket } from '../../../src/node/gateway/index.js';
import { startMix } from '../../../src/node/mix/index.js';
import {
  Forwarder,
  NodeConfigError,
  NodeMetrics,
  parseKey32,
  SphinxKeyring,
  validateNodeConfig,
  type ConsensusTracker,
  type Peers,
} from '../../../src/node/runtime/index.js';
import { NetMetrics } from '../../../src/net/metrics.js';
import { epochStart } from '../../../src/pki/index.js';
import type { ForwardResult } from '../../../src/sphinx/index.js';
import { FakeClock } from '../authority/fake-clock.js';

const crypto = getCrypto('sodium');
const GENESIS = 1_700_000_000_000;
const EPOCH_MS = 4000;
const timing = { genesisMs: GENESIS, epochMs: EPOCH_MS };
const KEY = toBase64Url(new Uint8Array(32).fill(7));

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-node-'));
  dirs.push(dir);
  return dir;
}

function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    role: 'mix',
    name: 'mix-1',
    layer: 1,
    dataDir: '/tmp/umbra-mix-1',
    authorityUrls: ['https://127.0.0.1:8000'],
    authorities: [KEY],
    genesisMs: GENESIS,
    ...extra,
  };
}

function problemsOf(json: unknown): readonly string[] {
  try {
    validateNodeConfig(json);
  } catch (error) {
    assert.ok(error instanceof NodeConfigError);
    return error.problems;
  }
  assert.fail('the configuration was accepted');
}

describe('node configuration', () => {
  test('fills the defaults', () => {
    const config = validateNodeConfig(minimal());
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.advertiseHost, '127.0.0.1');
    assert.equal(config.linkPort, 0);
    assert.equal(config.wsPort, undefined);
    assert.equal(config.metricsPort, 0);
    assert.equal(config.epochMs, 20 * 60 * 1000);
    assert.equal(config.graceMs, 5 * 60 * 1000);
    assert.equal(config.suite, 'umbra-v1');
    assert.deepEqual(config.geometry, { hops: 5, userForwardPayloadLength: 2048, withSurb: true });
    assert.equal(config.replayFilterLog2Bits, 24);
    assert.equal(config.expectedClients, 10_000);
    assert.equal(config.maxClientsPerAddress, 16);
    assert.equal(config.clientIdleTimeoutMs, 120_000);
    assert.equal(config.clientHandshakeTimeoutMs, 10_000);
    assert.deepEqual(validateNodeConfig(minimal({ link: { maxConnectionsPerAddress: 3 } })).link, { maxConnectionsPerAddress: 3 });
    assert.ok(problemsOf(minimal({ maxClientsPerAddress: 0 })).some((p) => /maxClientsPerAddress/.test(p)));
    assert.ok(problemsOf(minimal({ link: { maxConnectionsPerAddress: -1 } })).some((p) => /link\.maxConnectionsPerAddress/.test(p)));
    assert.equal(config.scheduleCapacity, 32768);
    assert.equal(config.consensusPollMs, 30_000);
    assert.equal(config.identitySeed, undefined);
    assert.equal(config.store, undefined);
    assert.deepEqual(config.authorities, [new Uint8Array(32).fill(7)]);
    assert.equal(config.bandwidth, undefined, 'the descriptor then declares DEFAULT_BANDWIDTH');
    assert.equal(validateNodeConfig(minimal({ bandwidth: 5000 })).bandwidth, 5000);
    for (const bad of [0, 1.5, -1, 2 ** 32, '5000']) assert.ok(problemsOf(minimal({ bandwidth: bad })).some((p) => /bandwidth/.test(p)), String(bad));

    const gateway = validateNodeConfig(minimal({ role: 'gateway', layer: undefined, epochMs: 2000 }));
    assert.equal(gateway.layer, 0);
    assert.equal(gateway.wsPort, 0);
    assert.equal(gateway.graceMs, 500);
    assert.equal(gateway.consensusPollMs, 250);
    const provider = validateNodeConfig(JSON.stringify(minimal({ role: 'provider', layer: undefined, dataDir: '/var/lib/p/' })));
    assert.equal(provider.layer, 4);
    assert.deepEqual(provider.store, { path: '/var/lib/p/mailbox.sqlite', retentionMs: 7 * 24 * 3600 * 1000 });
    assert.equal(provider.maxResponseBytes, 8 * 1024 * 1024);
    const onPostgres = validateNodeConfig(minimal({ role: 'provider', layer: undefined, store: { postgres: { url: 'postgres://umbra@db:5432/umbra', schema: 'mail' } } }));
    assert.deepEqual(onPostgres.store?.postgres, { url: 'postgres://umbra@db:5432/umbra', schema: 'mail' });
    assert.throws(() => validateNodeConfig(minimal({ role: 'provider', layer: undefined, store: { postgres: { url: 'mysql://x' } } })), /store\.postgres/);
    assert.throws(() => validateNodeConfig(minimal({ role: 'provider', layer: undefined, store: { postgres: { url: 'postgres://x', schema: 'Bad-Name' } } })), /schema/);
  });

  test('takes seeds and keys as hex or base64url', () => {
    const seed = new Uint8Array(32).map((_, i) => i);
    const config = validateNodeConfig(minimal({ identitySeed: hexOf(seed), linkSeed: toBase64Url(seed), authorities: [hexOf(seed).toUpperCase()] }));
    assert.deepEqual(config.identitySeed, seed);
    assert.deepEqual(config.linkSeed, seed);
    assert.deepEqual(config.authorities[0], seed);
    assert.equal(parseKey32('abc'), undefined);
    assert.equal(parseKey32(toBase64Url(new Uint8Array(31))), undefined);
  });

  test('lists every problem at once', () => {
    const problems = problemsOf({
      role: 'mix',
      name: '',
      layer: 4,
      wsPort: 9000,
      linkPort: 70000,
      dataDir: '',
      identitySeed: 'nope',
      authorityUrls: ['ftp://x'],
      authorities: ['short'],
      epochMs: 50,
      geometry: { hops: 3, colour: 'red' },
      store: {},
      tpyo: 1,
    });
    const expected = [
      /unknown field "tpyo"/,
      /identitySeed/,
      /dataDir is required/,
      /authorities\[0\]/,
      /genesisMs is required/,
      /unknown field "geometry.colour"/,
      /store: only a provider/,
      /name:/,
      /layer: a mix needs layer 1, 2 or 3/,
      /linkPort must be an integer in 0..65535/,
      /wsPort: a mix has no client WebSocket/,
      /authorityUrls\[0\]/,
      /epochMs must be an integer in 100/,
      /geometry.hops/,
    ];
    for (const pattern of expected) assert.ok(problems.some((problem) => pattern.test(problem)), `${pattern} in ${JSON.stringify(problems, null, 1)}`);
    assert.deepEqual(problemsOf('{not json'), ['the configuration is not valid JSON']);
    assert.deepEqual(problemsOf([]), ['the configuration must be a JSON object']);
    assert.ok(problemsOf(minimal({ role: 'provider', layer: undefined, epochMs: 60_000, store: { retentionMs: 60_000 } })).some((p) => /retentionMs/.test(p)));
    assert.ok(problemsOf(minimal({ host: '0.0.0.0' })).some((p) => /advertiseHost is required/.test(p)));
    assert.equal(validateNodeConfig(minimal({ host: '0.0.0.0', advertiseHost: 'mix1.example' })).advertiseHost, 'mix1.example');
    assert.ok(problemsOf(minimal({ linkPort: 9000, metricsPort: 9000 })).some((p) => /must differ/.test(p)));
  });

  test('a node refuses a configuration for another role', async () => {
    const config = validateNodeConfig(minimal({ role: 'gateway', layer: undefined, dataDir: tempDir() }));
    await assert.rejects(startMix(config), (error: unknown) => error instanceof NodeConfigError && /this starts a mix/.test(error.message));
  });
});

describe('Sphinx keyring', () => {
  const make = (dataDir: string) =>
    new SphinxKeyring({ dataDir, crypto, timing, graceMs: 1000, replaySizing: () => replayFilterSizing(Number.POSITIVE_INFINITY, 12), metrics: new NodeMetrics(new NetMetrics()), log: () => undefined });

  test('before genesis holds epochs 0 and 1; then the current and two ahead; the previous one during grace', () => {
    const dir = tempDir();
    const ring = make(dir);
    ring.load(GENESIS - 10);
    assert.deepEqual(ring.epochs(), [0, 1]);
    assert.deepEqual(ring.candidates(GENESIS - 10), []);
    ring.rotate(GENESIS);
    assert.deepEqual(ring.epochs(), [0, 1, 2]);
    assert.deepEqual(ring.candidates(GENESIS).map((key) => key.epoch), [0]);
    const start1 = epochStart(1, timing);
    ring.rotate(start1);
    assert.deepEqual(ring.epochs(), [0, 1, 2, 3]);
    assert.deepEqual(ring.candidates(start1 + 999).map((key) => key.epoch), [1, 0]);
    assert.equal(ring.graceEnd(start1), start1 + 1000);
    assert.deepEqual(ring.candidates(start1 + 1000).map((key) => key.epoch), [1]);
    const secret0 = ring.candidates(start1)[1].secret;
    ring.rotate(start1 + 1000);
    assert.deepEqual(ring.epochs(), [1, 2, 3]);
    assert.ok(secret0.every((byte) => byte === 0), 'the destroyed key is zeroed');
    assert.equal(existsSync(join(dir, 'sphinx', '0.key')), false);
    assert.equal(existsSync(join(dir, 'sphinx', '3.key')), true);
    ring.close();
  });

  test('a restart finds the same keys and the replay tags seen', async () => {
    const dir = tempDir();
    const first = make(dir);
    first.load(GENESIS + 5);
    const public0 = first.publicKey(0);
    const tag = crypto.randomBytes(32);
    assert.equal(first.candidates(GENESIS + 5)[0].filter.testAndSet(tag), false);
    await new Promise((resolve) => setImmediate(resolve)); // the journal is written once per turn
    first.close();
    const second = make(dir);
    second.load(GENESIS + 6);
    assert.deepEqual(second.publicKey(0), public0);
    assert.equal(second.candidates(GENESIS + 6)[0].filter.testAndSet(tag), true, 'the tag was read back');
    second.close();
    // Much later, the stored keys are all past their time: destroyed, replaced by new ones.
    const third = make(dir);
    third.load(epochStart(10, timing));
    assert.deepEqual(third.epochs(), [10, 11, 12]);
    assert.equal(existsSync(join(dir, 'sphinx', '0.key')), false);
    assert.equal(existsSync(join(dir, 'replay', '0.tags')), false);
    third.close();
  });

  test('a damaged key file is replaced, not trusted', () => {
    const dir = tempDir();
    const ring = make(dir);
    ring.load(GENESIS);
    const before = ring.publicKey(1);
    ring.close();
    writeFileSync(join(dir, 'sphinx', '1.key'), 'short');
    const again = make(dir);
    again.load(GENESIS);
    assert.notDeepEqual(again.publicKey(1), before);
    assert.equal(readFileSync(join(dir, 'sphinx', '1.key')).length, 32);
    again.close();
  });
});

describe('forwarder', () => {
  function setup(options: { capacity?: number; accept?: boolean } = {}) {
    const clock = new FakeClock(GENESIS);
    const metrics = new NodeMetrics(new NetMetrics());
    const sent: Uint8Array[] = [];
    const dialer = { state: 'up', send: (packet: Uint8Array) => (options.accept === false ? false : (sent.push(packet), true)) };
    const peers = {
      nextHop: (id: Uint8Array) => (id[0] === 1 ? 'next' : undefined),
      dialer: (id: string) => (id === 'next' ? dialer : undefined),
    } as unknown as Peers;
    const consensus = { active: () => ({ mixing: { maxDelayMs: 100 } }) } as unknown as ConsensusTracker;
    const forwarder = new Forwarder({ clock, peers, consensus, metrics, capacity: options.capacity ?? 10 });
    const result = (delayMs: number | undefined, next = 1): ForwardResult => ({
      kind: 'forward',
      nextHop: new Uint8Array(32).fill(next),
      delayMs,
      packet: Uint8Array.of(delayMs ?? 255),
      replayTag: new Uint8Array(32),
      commands: [],
    });
    return { clock, metrics, sent, forwarder, result };
  }

  test('holds each packet for its delay, capped at the consensus maximum, then sends it on', () => {
    const { clock, sent, forwarder, result, metrics } = setup();
    forwarder.forward(result(undefined));
    assert.equal(sent.length, 1, 'no delay: at once');
    forwarder.forward(result(50));
    forwarder.forward(result(5000)); // capped at 100
    assert.equal(forwarder.depth, 2);
    clock.advance(50);
    assert.deepEqual(sent.map((p) => p[0]), [255, 50]);
    clock.advance(50);
    assert.deepEqual(sent.map((p) => p[0]), [255, 50, 5000 & 0xff]);
    assert.equal(forwarder.depth, 0);
    assert.equal(metrics.value('node_packets_out_total'), 3);
  });

  test('drops, by reason: unknown next hop, full schedule, full link queue, shutdown', () => {
    const full = setup({ capacity: 1 });
    full.forwarder.forward(full.result(10, 2));
    assert.equal(full.metrics.value('node_packets_dropped_total', { reason: 'unknown-next-hop' }), 1);
    full.forwarder.forward(full.result(10));
    full.forwarder.forward(full.result(10));
    assert.equal(full.metrics.value('node_packets_dropped_total', { reason: 'schedule-full' }), 1);
    full.forwarder.close();
    assert.equal(full.metrics.value('node_packets_dropped_total', { reason: 'shutdown' }), 1);
    const refusing = setup({ accept: false });
    refusing.forwarder.forward(refusing.result(0));
    assert.equal(refusing.metrics.value('node_packets_dropped_total', { reason: 'link-queue-full' }), 1);
  });
});

test('token bucket: a burst, then the rate', () => {
  const bucket = new TokenBucket();
  assert.equal(gatewayBurst(1), 4);
  assert.equal(gatewayBurst(10), 20);
  let taken = 0;
  for (let i = 0; i < 30; i++) if (bucket.take(1000, 10, gatewayBurst(10))) taken++;
  assert.equal(taken, 20);
  assert.equal(bucket.take(1050, 10, 20), false); // half a token
  assert.equal(bucket.take(1100, 10, 20), true);
  assert.equal(bucket.take(1100, 10, 20), false);
  // A long pause refills up to the burst, not beyond.
  taken = 0;
  for (let i = 0; i < 30; i++) if (bucket.take(100_000, 10, 20)) taken++;
  assert.equal(taken, 20);
});

test('a mix whose authority is unreachable starts, says so, keeps retrying, and closes cleanly', async () => {
  const clock = new FakeClock(GENESIS + 10);
  const dataDir = tempDir();
  const logs: string[] = [];
  const config = validateNodeConfig(minimal({ dataDir, epochMs: EPOCH_MS, authorityUrls: ['https://127.0.0.1:1'], consensusPollMs: 500, replayFilterLog2Bits: 12 }));
  const node = await startMix(config, { crypto, clock, log: (line) => logs.push(line) });
  try {
    const deadline = Date.now() + 10_000;
    while (node.metrics.value('node_consensus_fetch_failures_total', { reason: 'unreachable' }) < 2) {
      assert.ok(Date.now() < deadline, 'the polls were retried');
      clock.advance(100);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(node.metrics.value('node_descriptor_upload_failures_total', { reason: 'unreachable' }) >= 1);
    const health = (await (await fetch(node.healthUrl)).json()) as { status: string; consensusEpochs: number[] };
    assert.equal(health.status, 'starting');
    assert.deepEqual(health.consensusEpochs, []);
    // The seeds were generated and saved; a second start reads the same identity.
    const seedText = readFileSync(join(dataDir, 'identity.seed'), 'utf8');
    assert.match(seedText, /^[0-9a-f]{64}\n$/);
    assert.ok(logs.some((line) => line.includes('generated a new identity seed')));
  } finally {
    await node.close();
  }
  const again = await startMix(config, { crypto, clock });
  assert.deepEqual(again.nodeId, node.nodeId);
  await again.close();
  assert.equal(clock.pending.length, 0, 'every timer was cleared');
});

test('a node sees every epoch boundary within a second even when a long timer fires two epochs late', async () => {
  // Seen under load on `umbra up`: a node's epoch timer fired late, the node skipped an epoch's
  // start, uploaded no descriptor for the next one and was left out of its consensus (a gateway
  // left out means no document at all for that epoch). This clock plays it: a timer longer than a
  // second fires two epochs after it was due; shorter ones are on time.
  class LateLongTimers extends FakeClock {
    override setTimer(callback: () => void, delayMs: number): unknown {
      return super.setTimer(callback, delayMs > 1_000 ? delayMs + 2 * EPOCH_MS : delayMs);
    }
  }
  const start = GENESIS + 10;
  const clock = new LateLongTimers(start);
  const began: { epoch: number; atMs: number }[] = [];
  const config = validateNodeConfig(minimal({ dataDir: tempDir(), epochMs: EPOCH_MS, authorityUrls: ['https://127.0.0.1:1'], consensusPollMs: 500, replayFilterLog2Bits: 12 }));
  const node = await startMix(config, {
    crypto, clock,
    log: (line) => {
      const match = /epoch (\d+) begins/.exec(line);
      if (match !== null) began.push({ epoch: Number(match[1]), atMs: clock.now() });
    },
  });
  try {
    for (let step = 0; step < (4 * EPOCH_MS) / 100; step++) {
      clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await node.close();
  }
  assert.deepEqual(began.map((b) => b.epoch), [1, 2, 3, 4]);
  for (const { epoch, atMs } of began) assert.ok(atMs - (GENESIS + epoch * EPOCH_MS) <= 1_000, `epoch ${epoch} seen ${atMs - (GENESIS + epoch * EPOCH_MS)} ms late`);
});
