import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { toBase64Url } from '../src/codec/bytes.js';
import { getCrypto } from '../src/crypto/index.js';
import { fetchConsensus } from '../src/net/authority-client.js';
import { encodeGatewayFrame } from '../src/wire/gateway-frame.js';
import { startGateway } from '../src/node/gateway/index.js';
import { connectWebSocket, type WebSocketConnection } from '../src/net/websocket.js';
import { startMix } from '../src/node/mix/index.js';
import { startProvider } from '../src/node/provider/index.js';
import { decodeRetrievalResponse, encodeFetchEpoch } from '../src/wire/retrieval.js';
import { validateNodeConfig, type NodeDeps, type NodeHandle } from '../src/node/runtime/index.js';
import { DEFAULT_NETWORK_PARAMETERS, pathLayers, sphinxKeyFor, type NodeDescriptor } from '../src/pki/index.js';
import { makeSuite, Sphinx, SURB_ID_LENGTH, type PathHop } from '../src/sphinx/index.js';
import { SqliteMailboxStore } from '../src/store/index.js';
import { packetCounters, percentile, RecordingStore, startBenchAuthority, tempDir, waitFor, waitForCount } from './net-support.js';
import { round } from './timing.js';

/**
 * Part 3 of `npm run bench -- net`: end-to-end latency through a whole small network on loopback:
 * an authority, a gateway, one mix per layer and a provider, all started in this process with the
 * library functions (real TLS links, the wall clock), the consensus mixing delay at a 5 ms mean
 * (50 ms cap). Each packet carries per-hop delays the bench draws (exponential, 5 ms mean, capped),
 * so their sum is known; it is timed from the moment its frame is written to the gateway's WebSocket to
 * the moment the provider's mailbox store has stored it (a store wrapper timestamps each delivery;
 * one address per packet). Reported: arrival − send − the packet's delay sum, in ms. At the end
 * the provider's retrieval WebSocket is asked for the epoch, as a check that everything is stored.
 */
const EPOCH_MS = 600_000;
const MEAN_DELAY_MS = 5;
const MAX_DELAY_MS = 50;
const WARMUP_PACKETS = 20;
const PACKETS = 300;
const SEND_INTERVAL_MS = 10;
const FORWARDING_HOPS = 3; // mix 1, mix 2, mix 3 (the gateway forwards at once; the provider only delivers)

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export interface LatencyResult {
  packets: number;
  arrived: number;
  send_interval_ms: number;
  mean_delay_ms: number;
  max_delay_ms: number;
  delay_sum_mean_ms: number;
  overhead_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  total_ms: { p50: number; p90: number; p99: number };
  retrievable: number;
  counters: Record<string, Record<string, number>>;
}

interface Sent {
  readonly delaySum: number;
  sentAt: number;
  arrivedAt: number | undefined;
}

export async function benchLatency(): Promise<LatencyResult> {
  const crypto = getCrypto('sodium');
  const params = DEFAULT_NETWORK_PARAMETERS;
  const sphinx = new Sphinx(makeSuite(params.suite, crypto), params.geometry);
  const g = sphinx.geometry;
  const dir = tempDir('umbra-bench-net-');
  const logs: string[] = [];
  const nodes: NodeHandle[] = [];
  let authorityHandle: { close(): Promise<void> } | undefined;
  let client: WebSocketConnection | undefined;
  try {
    const { authority, authorityKey, genesisMs } = await startBenchAuthority(crypto, join(dir.path, 'authority'), EPOCH_MS, {
      mixing: { meanDelayMs: MEAN_DELAY_MS, maxDelayMs: MAX_DELAY_MS },
      traffic: { gatewayClientRate: 1_000 },
      retrieval: 'bucket',
    });
    authorityHandle = authority;

    const config = (role: string, name: string, extra: Record<string, unknown> = {}) =>
      validateNodeConfig({
        role,
        name,
        dataDir: join(dir.path, name),
        authorityUrls: [authority.url],
        authorities: [toBase64Url(authorityKey)],
        genesisMs,
        epochMs: EPOCH_MS,
        suite: params.suite,
        geometry: params.geometry,
        consensusPollMs: 200,
        ...extra,
      });
    const deps = (name: string): NodeDeps => ({ crypto, log: (line) => logs.push(`${name}: ${line}`) });

    const sent = new Map<string, Sent>();
    let arrived = 0;
    const providerConfig = config('provider', 'bench-provider');
    const store = new RecordingStore(
      await SqliteMailboxStore.open({ path: providerConfig.store!.path, maxCiphertextBytes: 1 + 16 + g.payloadLength }),
      (address, atMs) => {
        const entry = sent.get(hex(address));
        if (entry === undefined || entry.arrivedAt !== undefined) return;
        entry.arrivedAt = atMs;
        arrived++;
      },
    );
    const started = await Promise.all([
      startGateway(config('gateway', 'bench-gateway'), deps('gateway')),
      startMix(config('mix', 'bench-mix-1', { layer: 1 }), deps('mix-1')),
      startMix(config('mix', 'bench-mix-2', { layer: 2 }), deps('mix-2')),
      startMix(config('mix', 'bench-mix-3', { layer: 3 }), deps('mix-3')),
      startProvider(providerConfig, { ...deps('provider'), store }),
    ]);
    nodes.push(...started);
    const [gateway, , , , provider] = started;
    console.log('network: authority, gateway, mix-1, mix-2, mix-3, provider; waiting for the consensus');
    await waitFor('every node to hold the consensus of epoch 0', () => nodes.every((node) => node.status().consensusEpochs.includes(0)), 20_000);
    const fetched = await fetchConsensus(crypto, authority.url, 0, { authorities: [authorityKey], nowMs: Date.now() });
    if (fetched === undefined) throw new Error('no consensus for epoch 0');
    const layers = pathLayers(fetched.doc);
    // The Sphinx path: the gateway is no hop; it forwards each frame's packet to the mix it names.
    const route: NodeDescriptor[] = [1, 2, 3, 4].map((layer) => layers[layer as 1 | 2 | 3 | 4][0]);

    const random = (length: number): Uint8Array => crypto.randomBytes(length);
    const sample = (): number => Math.min(MAX_DELAY_MS, Math.round(-MEAN_DELAY_MS * Math.log(1 - Math.random())));
    const build = (delays: readonly number[]): { packet: Uint8Array; address: string } => {
      const recipient = random(32);
      recipient[0] |= 1; // never the drop-cover address
      const path: PathHop[] = route.map((node, i) => {
        const publicKey = sphinxKeyFor(node, 0);
        if (publicKey === undefined) throw new Error(`no Sphinx key for ${node.name}`);
        return {
          id: node.nodeId,
          publicKey,
          // The last hop as a client's fragment has it: the mailbox, and a random SURB ID, so the
          // provider stores the uniform item it stores for every kind (docs/mailbox.md).
          commands: i < FORWARDING_HOPS ? [{ type: 'delay', delayMs: delays[i] }] : [{ type: 'recipient', recipient }, { type: 'surb-reply', surbId: random(SURB_ID_LENGTH) }],
        };
      });
      const surb = g.withSurb ? random(g.surbLength) : undefined;
      const packet = sphinx.newPacket(path, random(g.userForwardPayloadLength), random, surb);
      return { packet: encodeGatewayFrame({ firstHop: route[0].nodeId, packet }), address: hex(recipient) };
    };

    const conn = await connectWebSocket({ url: gateway.wsUrl!, linkKey: gateway.linkKey }, { maxMessageBytes: 1024 });
    client = conn;

    // Warm-up: opens the link at every hop and warms the JIT; not measured.
    const warm = Array.from({ length: WARMUP_PACKETS }, () => build([0, 0, 0]));
    for (const { packet, address } of warm) {
      sent.set(address, { delaySum: 0, sentAt: performance.now(), arrivedAt: undefined });
      conn.send(packet);
    }
    const warmed = await waitForCount(() => arrived, WARMUP_PACKETS, performance.now() + 10_000, 3_000);
    console.log(`warm-up: ${arrived}/${WARMUP_PACKETS} packets stored${warmed ? '' : ' (incomplete)'}`);
    const warmArrived = arrived;

    // Measured: pre-built, then one every SEND_INTERVAL_MS.
    const batch = Array.from({ length: PACKETS }, () => {
      const delays = Array.from({ length: FORWARDING_HOPS }, sample);
      return { ...build(delays), delaySum: delays.reduce((a, b) => a + b, 0) };
    });
    const measured: Sent[] = [];
    const sendStart = performance.now();
    for (let i = 0; i < batch.length; i++) {
      const next = sendStart + i * SEND_INTERVAL_MS;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      const entry: Sent = { delaySum: batch[i].delaySum, sentAt: performance.now(), arrivedAt: undefined };
      sent.set(batch[i].address, entry);
      measured.push(entry);
      if (!conn.send(batch[i].packet)) throw new Error('the gateway WebSocket closed');
    }
    const complete = await waitForCount(() => arrived - warmArrived, PACKETS, performance.now() + 20_000, 5_000);
    const done = measured.filter((entry) => entry.arrivedAt !== undefined);
    console.log(`measured: ${done.length}/${PACKETS} packets stored${complete ? '' : ' (incomplete)'}, sent over ${((performance.now() - sendStart) / 1000).toFixed(1)} s`);

    const overhead = done.map((entry) => entry.arrivedAt! - entry.sentAt - entry.delaySum).sort((a, b) => a - b);
    const total = done.map((entry) => entry.arrivedAt! - entry.sentAt).sort((a, b) => a - b);
    const delaySumMean = measured.reduce((sum, entry) => sum + entry.delaySum, 0) / measured.length;

    // Check: the provider serves what it stored over its retrieval protocol.
    const retrievable = await retrieveCount(provider, 0, new Set(sent.keys()));
    const counters: Record<string, Record<string, number>> = {};
    for (const node of nodes) counters[node.name] = await packetCounters(node.metricsUrl);

    const result: LatencyResult = {
      packets: PACKETS,
      arrived: done.length,
      send_interval_ms: SEND_INTERVAL_MS,
      mean_delay_ms: MEAN_DELAY_MS,
      max_delay_ms: MAX_DELAY_MS,
      delay_sum_mean_ms: round(delaySumMean, 2),
      overhead_ms: {
        p50: round(percentile(overhead, 0.5), 2),
        p90: round(percentile(overhead, 0.9), 2),
        p99: round(percentile(overhead, 0.99), 2),
        max: round(overhead[overhead.length - 1] ?? Number.NaN, 2),
        mean: round(overhead.reduce((a, b) => a + b, 0) / overhead.length, 2),
      },
      total_ms: { p50: round(percentile(total, 0.5), 2), p90: round(percentile(total, 0.9), 2), p99: round(percentile(total, 0.99), 2) },
      retrievable,
      counters,
    };
    console.log(`latency beyond the chosen delays: p50 ${result.overhead_ms.p50} ms, p90 ${result.overhead_ms.p90} ms, p99 ${result.overhead_ms.p99} ms (mean delay sum ${result.delay_sum_mean_ms} ms; total p50 ${result.total_ms.p50} ms)`);
    console.log(`retrievable from the provider: ${retrievable}/${sent.size}`);
    return result;
  } catch (error) {
    for (const line of logs.slice(-20)) console.log(line);
    throw error;
  } finally {
    // The client first, then the nodes, then the authority.
    client?.close();
    await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
    await authorityHandle?.close().catch(() => undefined);
    dir.remove();
  }
}

/** How many stored messages of `epoch` the provider serves for the given addresses (hex). */
async function retrieveCount(provider: { readonly wsUrl?: string; readonly linkKey: Uint8Array }, epoch: number, addresses: ReadonlySet<string>): Promise<number> {
  const conn = await connectWebSocket({ url: provider.wsUrl!, linkKey: provider.linkKey }, { maxMessageBytes: 16 * 1024 * 1024 });
  try {
    const answer = await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the provider did not answer the fetch')), 5_000);
      conn.onMessage((bytes) => {
        clearTimeout(timer);
        resolve(bytes);
      });
      conn.send(encodeFetchEpoch(1, epoch));
    });
    const response = decodeRetrievalResponse(answer);
    if (response.type !== 'messages') throw new Error(`the provider answered ${response.reason}`);
    return response.messages.filter((message) => addresses.has(hex(message.address))).length;
  } finally {
    conn.close();
  }
}
