/**
 * The simulator against the real network: real nodes in one process (an authority, a gateway, two
 * mixes per layer, one provider, test/node/pir/support.ts) on one fake clock, and the simulator with
 * the same parameters (10 ms mean hop delay, capped at 1000 ms; the same topology), measure one
 * quantity each: the network latency of a packet, from the gateway's input to the provider's
 * input, in the nodes' own (fake) time. The real network is moved 1 ms at a time, and between steps
 * the test waits until no packet is on a link (every packet a node handed to a link has been counted
 * in at the next node; a node unwraps and schedules a packet in the same turn it counts it), so
 * link transit takes no fake time and each packet's latency is the sum of the holds the nodes gave
 * it. Tolerance: the mean within 10 % and the median and 90th percentile within 15 % (200 packets;
 * the standard error of the mean is about 3.5 % of it). The control: a simulator whose mixes hold
 * twice as long is outside that tolerance.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../src/crypto/index.js';
import { delayMs } from '../../src/mixing/exponential.js';
import { fetchConsensus } from '../../src/net/authority-client.js';
import type { NodeHandle } from '../../src/node/runtime/index.js';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { simulate } from '../../src/sim/engine.js';
import { mean, quantile } from '../../src/sim/entropy.js';
import { DEFAULT_GEOMETRY, makeSuite, Sphinx } from '../../src/sphinx/index.js';
import { crypto, TestNetwork } from '../node/pir/support.js';
import { labelled, must, openGateway, TestClient } from '../node/network/support.js';

const GENESIS = 1_950_000_000_000;
const PACKETS = 200;
const MEAN_DELAY_MS = 10; // TestNetwork's mixing parameters
const MAX_DELAY_MS = 1000;

let net: TestNetwork;

before(async () => {
  net = await TestNetwork.start({ label: 'simcheck', retrieval: 'bucket', genesisMs: GENESIS, providers: 1 });
}, { timeout: 60_000 });

after(() => net?.close());

const count = (node: NodeHandle, name: 'node_packets_in_total' | 'node_packets_out_total'): number => node.metrics.value(name);

/** Waits (real time only as a guard) until every packet handed to a link has reached its next node. */
async function linksIdle(gateway: NodeHandle, mixes: NodeHandle[], provider: NodeHandle): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const sent = [gateway, ...mixes].reduce((s, n) => s + count(n, 'node_packets_out_total'), 0);
    const received = [...mixes, provider].reduce((s, n) => s + count(n, 'node_packets_in_total'), 0);
    if (sent === received) return;
    if (Date.now() > deadline) throw new Error(`links never idle: ${sent} sent, ${received} received`);
    await sleep(1);
  }
}

/** The real network's latencies (ms of node time) for PACKETS packets sent at one instant. */
async function realLatencies(): Promise<number[]> {
  const gateway = must(net.nodes.find((n) => n.role === 'gateway'), 'gateway');
  const mixes = net.nodes.filter((n) => n.role === 'mix');
  const provider = net.providers[0];
  const fetched = await fetchConsensus(crypto, net.authority.url, 0, { authorities: [net.authorityKey], nowMs: net.clock.now() });
  const random = seededRandom(crypto, 20261205);
  const client = new TestClient(new Sphinx(makeSuite('umbra-v1', crypto), DEFAULT_GEOMETRY), must(fetched, 'the consensus').doc, random);
  const address = random(32);
  address[0] |= 1;
  const inBefore = count(gateway, 'node_packets_in_total');
  const exitedBefore = provider.metrics.value('node_packets_exited_total');
  const conn = await openGateway({ wsUrl: gateway.wsUrl as string, linkKey: gateway.linkKey });
  for (let i = 0; i < PACKETS; i++) {
    const delays = [0, 1, 2, 3].map(() => delayMs(random, MEAN_DELAY_MS, MAX_DELAY_MS));
    assert.ok(conn.send(client.packet(client.route(provider.nodeId), address, labelled('simcheck', i), delays)));
  }
  const deadline = Date.now() + 30_000;
  while (count(gateway, 'node_packets_in_total') < inBefore + PACKETS) {
    if (Date.now() > deadline) throw new Error('the gateway never took every packet');
    await sleep(2);
  }
  const start = net.clock.now();
  const latencies: number[] = [];
  while (latencies.length < PACKETS) {
    if (net.clock.now() - start > 5 * MAX_DELAY_MS) throw new Error(`${latencies.length} of ${PACKETS} delivered`);
    net.clock.advance(1);
    await linksIdle(gateway, mixes, provider);
    const exited = provider.metrics.value('node_packets_exited_total') - exitedBefore;
    while (latencies.length < exited) latencies.push(net.clock.now() - start);
  }
  conn.close();
  return latencies;
}

function simulatedLatencies(meanDelayMs: number): number[] {
  const config: SimConfig = {
    ...DEFAULT_SIM_CONFIG,
    network: { ...DEFAULT_SIM_CONFIG.network, mixing: { meanDelayMs, maxDelayMs: MAX_DELAY_MS } },
    topology: { gateways: 1, mixesPerLayer: 2, providers: 1 },
    clientCover: false,
    users: 50,
    workload: { mailsPerUserPerDay: 86_400, contacts: 4, zipfExponent: 1 },
    durationMs: 60_000,
    warmupMs: 1_000,
    seed: 17,
  };
  return simulate(config).latencies.network;
}

const within = (got: number, want: number, share: number): boolean => Math.abs(got - want) <= share * want;

describe('the simulator against the real network', { timeout: 120_000 }, () => {
  it('per-packet network latency agrees: mean within 10 %, median and p90 within 15 %', async (t) => {
    const real = await realLatencies();
    const sim = simulatedLatencies(MEAN_DELAY_MS);
    const figures = (xs: number[]): number[] => [mean(xs), quantile(xs, 0.5), quantile(xs, 0.9)];
    const [rMean, rMedian, rP90] = figures(real);
    const [sMean, sMedian, sP90] = figures(sim);
    const text = `real ${rMean.toFixed(1)}/${rMedian.toFixed(1)}/${rP90.toFixed(1)} ms, simulated ${sMean.toFixed(1)}/${sMedian.toFixed(1)}/${sP90.toFixed(1)} ms (mean/median/p90)`;
    t.diagnostic(text);
    assert.ok(sim.length > 1000, `${sim.length} simulated packets`);
    assert.ok(within(rMean, sMean, 0.1) && within(rMedian, sMedian, 0.15) && within(rP90, sP90, 0.15), text);
    // The control: mixes that hold twice as long are told apart.
    const [cMean, cMedian] = figures(simulatedLatencies(2 * MEAN_DELAY_MS));
    assert.ok(!within(rMean, cMean, 0.1) && !within(rMedian, cMedian, 0.15), `control: ${cMean}/${cMedian} ms`);
  });
});
