import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { fromBase64Url, toBase64Url } from '../src/codec/bytes.js';
import { getCrypto } from '../src/crypto/index.js';
import { connectLink, fetchConsensus, listenLinks, pinnedPeers, uploadDescriptor } from '../src/net/index.js';
import { DEFAULT_NETWORK_PARAMETERS, findNode, sphinxKeyFor } from '../src/pki/index.js';
import { makeSuite, Sphinx, type PathHop } from '../src/sphinx/index.js';
import { unwrapWorkerCount } from '../src/node/mix/index.js';
import { startChild, stopChild, type Child } from '../src/testnet/processes.js';
import { fakeNode, packetCounters, processCpuNs, startBenchAuthority, tempDir, waitFor, waitForCount } from './net-support.js';
import { median, round, timePerOp } from './timing.js';

/**
 * Part 1 of `npm run bench -- net`: packets per second through one mix over real TLS links.
 *
 * The mix is a real `umbra mix` child process (its own process and core, default configuration,
 * the wall clock) on layer 2 of a network whose authority runs here. The bench plays its
 * neighbours: a layer-1 node (a LinkDialer whose link key the consensus lists on layer 1, so the
 * mix accepts it) and a layer-3 node (a link listener, pinning the mix's link key, that counts
 * arrivals); gateway and provider exist only as descriptors, for a complete topology. Every packet
 * is built with the mix as first hop (delay 0), the layer-3 node second: the mix unwraps it for
 * real (replay filter and journal included), and forwards it over its own TLS dialer.
 *
 * Part 2: Sphinx.unwrap of the same suite and geometry in a tight loop (one core, no replay
 * filter), measured in this process right after, and the ratio of the two.
 */
const EPOCH_MS = 600_000;
const WARMUP_PACKETS = 2_000;
const PACKETS = 20_000;
/** Packets handed to the dialer between two turns of the event loop (so the sink can read). */
const CHUNK = 256;
const UNWRAP_ROUNDS = 5;
const UNWRAP_ITERATIONS = 4_000;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export interface MixThroughput {
  /** The mix's unwrap worker threads (0: on its main thread). */
  unwrap_workers: number;
  packets: number;
  received: number;
  seconds: number;
  mix_packets_per_sec: number;
  warmup: { packets: number; received: number; packets_per_sec: number };
  build_per_sec: number;
  mix_counters: Record<string, number>;
  unwrap_per_sec: number;
  unwrap_us: number;
  mix_over_unwrap: number;
  /**
   * CPU per packet received in the measured run, in µs: the mix's process (main thread and
   * workers) and this one (sender and sink), all threads (Linux; absent elsewhere).
   */
  cpu_us_per_packet?: { mix: number; bench: number; total: number };
}

/** `unwrapWorkers`: the mix's configuration (default: its own, one per core). */
export async function benchMixThroughput(unwrapWorkers?: number): Promise<MixThroughput> {
  const crypto = getCrypto('sodium');
  const params = DEFAULT_NETWORK_PARAMETERS;
  const sphinx = new Sphinx(makeSuite(params.suite, crypto), params.geometry);
  const g = sphinx.geometry;
  const dir = tempDir('umbra-bench-mix-');
  const closers: (() => Promise<void> | void)[] = [];
  let child: Child | undefined;
  try {
    const { authority, authorityKey, genesisMs } = await startBenchAuthority(crypto, join(dir.path, 'authority'), EPOCH_MS, {});
    closers.push(() => authority.close());

    // The layer-3 sink: listens before its descriptor names its port; accepts only the mix's key.
    const mixIdentitySeed = crypto.randomBytes(32);
    const mixLinkSeed = crypto.randomBytes(32);
    const mixLinkKey = crypto.ed25519PublicKey(mixLinkSeed);
    let arrivals = 0;
    let lastArrival = 0;
    const sinkSeed = crypto.randomBytes(32);
    const sink = await listenLinks<string>({
      seed: sinkSeed,
      isKnownPeer: pinnedPeers([{ linkKey: mixLinkKey, peer: 'mix' }]),
      packetLength: g.packetLength,
      maxFrameBytes: g.packetLength + 1,
      onPacket: () => {
        arrivals++;
        lastArrival = performance.now();
      },
    });
    closers.push(() => sink.close());

    const driverSeed = crypto.randomBytes(32);
    const node = (name: string, role: 'gateway' | 'mix' | 'provider', layer: number, link: string, linkKey: Uint8Array, ws?: string) =>
      fakeNode(crypto, { name, role, layer, link, linkKey, epoch: 0, ...(ws === undefined ? {} : { ws }) });
    const fakes = {
      gateway: node('bench-gateway', 'gateway', 0, '127.0.0.1:1', crypto.ed25519PublicKey(crypto.randomBytes(32)), '127.0.0.1:2'),
      driver: node('bench-driver-1', 'mix', 1, '127.0.0.1:3', crypto.ed25519PublicKey(driverSeed)),
      sink: node('bench-sink-3', 'mix', 3, `127.0.0.1:${sink.port}`, crypto.ed25519PublicKey(sinkSeed)),
      provider: node('bench-provider', 'provider', 4, '127.0.0.1:4', crypto.ed25519PublicKey(crypto.randomBytes(32)), '127.0.0.1:5'),
    };
    for (const fake of Object.values(fakes)) await uploadDescriptor({ url: authority.url, keys: [authorityKey] }, fake.descriptor);

    // The mix, in its own process.
    const mixDir = join(dir.path, 'mix');
    const configPath = join(dir.path, 'mix.json');
    writeFileSync(configPath, JSON.stringify({
      role: 'mix',
      name: 'bench-mix-2',
      layer: 2,
      dataDir: join(mixDir, 'data'),
      identitySeed: hex(mixIdentitySeed),
      linkSeed: hex(mixLinkSeed),
      authorityUrls: [authority.url],
      authorities: [toBase64Url(authorityKey)],
      genesisMs,
      epochMs: EPOCH_MS,
      suite: params.suite,
      geometry: params.geometry,
      consensusPollMs: 200,
      ...(unwrapWorkers === undefined ? {} : { unwrapWorkers }),
    }));
    const logDir = join(dir.path, 'logs');
    try {
      child = await startChild('bench-mix-2', 'mix', configPath, logDir);
    } catch (error) {
      printLog(logDir);
      throw error;
    }
    const metricsUrl = String(child.ready.metricsUrl);
    const healthUrl = metricsUrl.replace(/\/metrics$/, '/healthz');
    const mixId = fromBase64Url(String(child.ready.nodeId), 'node ID', 32);
    const mixLinkPort = Number(child.ready.linkPort);
    console.log(`mix process pid ${child.process.pid ?? '?'} on link port ${mixLinkPort}; waiting for the consensus`);
    await waitFor('the mix to hold the consensus of epoch 0', async () => {
      const health = (await (await fetch(healthUrl)).json()) as { status?: string };
      return health.status === 'ok';
    }, 20_000, 50);
    const fetched = await fetchConsensus(crypto, authority.url, 0, { authorities: [authorityKey], nowMs: Date.now() });
    if (fetched === undefined) throw new Error('no consensus for epoch 0');
    const mixDescriptor = findNode(fetched.doc, mixId);
    const mixKey = mixDescriptor === undefined ? undefined : sphinxKeyFor(mixDescriptor, 0);
    if (mixKey === undefined) throw new Error('the consensus does not list the mix with a Sphinx key for epoch 0');
    console.log(`consensus of epoch 0: ${fetched.doc.nodes.length} nodes`);

    // Packets: mix (delay 0) → sink (delay 0) → provider (recipient). Only the mix unwraps them.
    const path: PathHop[] = [
      { id: mixId, publicKey: mixKey, commands: [{ type: 'delay', delayMs: 0 }] },
      { id: fakes.sink.nodeId, publicKey: fakes.sink.sphinxPublic, commands: [{ type: 'delay', delayMs: 0 }] },
      { id: fakes.provider.nodeId, publicKey: fakes.provider.sphinxPublic, commands: [{ type: 'recipient', recipient: crypto.randomBytes(32) }] },
    ];
    const random = (length: number): Uint8Array => crypto.randomBytes(length);
    const build = (count: number): Uint8Array[] => {
      const out: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        const surb = g.withSurb ? random(g.surbLength) : undefined;
        out.push(sphinx.newPacket(path, random(g.userForwardPayloadLength), random, surb));
      }
      return out;
    };
    const buildStart = performance.now();
    const warmup = build(WARMUP_PACKETS);
    const packets = build(PACKETS);
    const buildPerSec = (WARMUP_PACKETS + PACKETS) / ((performance.now() - buildStart) / 1000);
    console.log(`built ${WARMUP_PACKETS} + ${PACKETS} packets of ${g.packetLength} bytes (${Math.round(buildPerSec)}/s)`);

    // The layer-1 driver: a real TLS link to the mix, queue large enough to take every packet.
    const dialer = connectLink({
      port: mixLinkPort,
      expectedLinkKey: mixLinkKey,
      seed: driverSeed,
      packetLength: g.packetLength,
      maxFrameBytes: g.packetLength + 1,
      maxQueuedPackets: WARMUP_PACKETS + PACKETS + 16,
    });
    closers.unshift(() => dialer.close());
    await waitFor('the link to the mix', () => dialer.state === 'up', 10_000, 10);

    const mixPid = child.process.pid ?? -1;
    const pump = async (batch: Uint8Array[], label: string, deadlineMs: number) => {
      const target = arrivals + batch.length;
      const cpuBefore = { mix: processCpuNs(mixPid), bench: processCpuNs('self') };
      const start = performance.now();
      const deadline = start + deadlineMs;
      let refused = 0;
      for (let i = 0; i < batch.length; i += CHUNK) {
        for (const packet of batch.slice(i, i + CHUNK)) if (!dialer.send(packet)) refused++;
        await yieldToLoop();
      }
      const complete = await waitForCount(() => arrivals, target, deadline, 3_000);
      const received = batch.length - (target - arrivals);
      const seconds = received > 0 ? (lastArrival - start) / 1000 : (performance.now() - start) / 1000;
      const rate = received / seconds;
      const cpu = cpuPerPacket(cpuBefore, { mix: processCpuNs(mixPid), bench: processCpuNs('self') }, received);
      console.log(`${label}: ${received}/${batch.length} packets through the mix in ${seconds.toFixed(3)} s = ${Math.round(rate)}/s${complete ? '' : ' (incomplete)'}${refused > 0 ? `, ${refused} refused by the dialer` : ''}${cpu === undefined ? '' : `; CPU per packet ${cpu.mix} us in the mix, ${cpu.bench} us here`}`);
      return { received, seconds, rate, cpu };
    };
    // One packet first: it makes the mix open its link to the sink (packets released before that
    // link is up wait in the mix's dialer queue, 1024 by default). Then a warm-up for the JIT.
    await pump(build(1), 'first packet', 10_000);
    const warm = await pump(warmup, 'warm-up', 20_000);
    const run = await pump(packets, 'measured', 40_000);
    const counters = await packetCounters(metricsUrl);
    console.log(`mix counters: ${JSON.stringify(counters)}`);

    // Part 2: the unwrap-only floor, same suite and geometry, one core, in this process (the mix is idle now).
    const secret = fakes.sink.sphinxSecret;
    const probe = sphinx.newPacket(path.slice(1), random(g.userForwardPayloadLength), random, g.withSurb ? random(g.surbLength) : undefined);
    const unwrapNs: number[] = [];
    for (let r = 0; r < UNWRAP_ROUNDS; r++) unwrapNs.push(timePerOp(UNWRAP_ITERATIONS, () => sphinx.unwrap(secret, probe)));
    const unwrapPerSec = 1e9 / median(unwrapNs);
    console.log(`unwrap only: ${Math.round(unwrapPerSec)}/s (${round(median(unwrapNs) / 1000, 2)} us); mix/unwrap ${round(run.rate / unwrapPerSec)}`);

    return {
      unwrap_workers: unwrapWorkers ?? unwrapWorkerCount({}),
      packets: PACKETS,
      received: run.received,
      seconds: round(run.seconds),
      mix_packets_per_sec: Math.round(run.rate),
      warmup: { packets: WARMUP_PACKETS, received: warm.received, packets_per_sec: Math.round(warm.rate) },
      build_per_sec: Math.round(buildPerSec),
      mix_counters: counters,
      unwrap_per_sec: Math.round(unwrapPerSec),
      unwrap_us: round(median(unwrapNs) / 1000, 2),
      mix_over_unwrap: round(run.rate / unwrapPerSec),
      ...(run.cpu === undefined ? {} : { cpu_us_per_packet: run.cpu }),
    };
  } finally {
    if (child !== undefined) await stopChild(child.process);
    for (const close of closers) {
      try {
        await close();
      } catch {
        // closing is best effort
      }
    }
    dir.remove();
  }
}

type CpuReading = { mix: number | undefined; bench: number | undefined };

/** µs of CPU per packet between two readings, each process's and their sum (undefined without both). */
function cpuPerPacket(before: CpuReading, after: CpuReading, packets: number): MixThroughput['cpu_us_per_packet'] {
  if (before.mix === undefined || before.bench === undefined || after.mix === undefined || after.bench === undefined || packets === 0) return undefined;
  const mix = (after.mix - before.mix) / packets / 1000;
  const bench = (after.bench - before.bench) / packets / 1000;
  return { mix: round(mix, 1), bench: round(bench, 1), total: round(mix + bench, 1) };
}

function printLog(logDir: string): void {
  try {
    console.log(readFileSync(join(logDir, 'bench-mix-2.log'), 'utf8').split('\n').slice(-20).join('\n'));
  } catch {
    // no log
  }
}
