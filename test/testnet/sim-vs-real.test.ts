/**
 * The simulator against `umbra up` (docs/privacy.md, "The simulator against `umbra up`"): the same
 * measurement, a global passive observer's sender entropy and the network latency, taken on the
 * real network by recording every packet on its links and on the simulator with the same
 * parameters, users and topology.
 *
 * Real: `up()` with the recommended parameters (500 ms mean hop delay, λ = 1/s sends, 0.2/s loops
 * and drops per user; 8 s epochs; the mixes' own loops off, as the simulator leaves them out of the
 * pools), the plan's gateway, 3 layers of 2 mixes and 2 providers, every node recording its packets
 * (`recordPackets`). USERS users (test/testnet/cover-clients.ts: the client's Poisson streams,
 * real Sphinx packets, one gateway connection each) send cover for TRAFFIC_MS. The records become
 * the simulator's EventLog (src/sim/recorded-run.ts); the packets sent from WARMUP_MS to
 * MEASURE_UNTIL_MS (so every one has 12 s, beyond the 10 s delay cap, to arrive) are measured with
 * the simulator's own posterior (linkFigures).
 *
 * Simulated: simulate() with the same parameters, users, topology, duration and window; three seeds,
 * to show the simulator's own spread.
 *
 * Tolerance: mean sender entropy within 0.3 bit and median latency within 20 %. With ~600 packets
 * measured the standard error of the mean entropy is about 0.03 bit and that of the median latency
 * about 4 % (the three-hop sum of 500 ms exponentials: median ≈ 1.34 s, sd ≈ 0.87 s); the seeds'
 * spread is of that order; the real nodes add processing and timer lateness (milliseconds a hop).
 * The control: a simulator whose mixes hold 10 × shorter (50 ms) must fall outside both. And the
 * recording's ground truth must be whole: with every node corrupt, every sender is named (0 bits).
 *
 * On the way, the keys' grace (docs/nodes.md, "Keys"): no mix or provider dropped a packet as
 * `bad-mac`, the drop of a packet that outlived its epoch's key. The nodes' configs hold the default
 * grace, a quarter epoch; they keep the previous key as long as the consensus's mixing needs. With
 * the quarter epoch alone, about one packet in 45 was (test/node/mix/grace-keys.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { simulate } from '../../src/sim/engine.js';
import { linkFigures, recordedRun, type LinkFigures } from '../../src/sim/recorded-run.js';
import { byLabel, parsePrometheus } from '../../src/testnet/prometheus.js';
import { packetLogOf, up, type Testnet } from '../../src/testnet/up.js';
import { CoverClients } from './cover-clients.js';

const USERS = Number(process.env.UMBRA_SIM_VS_REAL_USERS ?? 20);
const EPOCH_MS = 8_000;
const TRAFFIC_MS = 45_000;
const WARMUP_MS = 10_000;
const MEASURE_UNTIL_MS = TRAFFIC_MS - 12_000;
const ENTROPY_TOLERANCE_BITS = 0.3;
const LATENCY_TOLERANCE = 0.2;

/** The packets each node dropped as `bad-mac`, from its /metrics (nodes with none left out). */
async function droppedAsBadMac(net: Testnet): Promise<Map<string, number>> {
  const drops = new Map<string, number>();
  for (const node of net.file.nodes) {
    if (node.metricsUrl === undefined) continue;
    const samples = parsePrometheus(await (await fetch(node.metricsUrl)).text());
    const count = byLabel(samples, 'umbra_node_packets_dropped_total', 'reason')['bad-mac'] ?? 0;
    if (count > 0) drops.set(node.name, count);
  }
  return drops;
}

const describe = (f: LinkFigures): string =>
  `H mean ${f.senderEntropy.mean.toFixed(2)} bits (median ${f.senderEntropy.median.toFixed(2)}, p10 ${f.senderEntropy.p10.toFixed(2)}), ` +
  `timing attack ${(100 * f.timingAttackSuccess).toFixed(1)} %, latency median ${f.latencyMs.median.toFixed(0)} ms ` +
  `(mean ${f.latencyMs.mean.toFixed(0)}, p90 ${f.latencyMs.p90.toFixed(0)}), ${f.measured} packets`;

function simConfig(net: Testnet, meanDelayMs: number, seed: number): SimConfig {
  const network = net.plan.network;
  return {
    ...DEFAULT_SIM_CONFIG,
    network: { ...network, mixing: { ...network.mixing, meanDelayMs } },
    epochMs: net.plan.epochMs,
    topology: { gateways: 1, mixesPerLayer: 2, providers: 2 },
    users: USERS,
    workload: { mailsPerUserPerDay: 0, contacts: 1, zipfExponent: 0 },
    durationMs: TRAFFIC_MS,
    warmupMs: WARMUP_MS,
    measureCover: true,
    seed,
  };
}

const simulated = (net: Testnet, meanDelayMs: number, seed: number): LinkFigures => linkFigures(simulate(simConfig(net, meanDelayMs, seed)), WARMUP_MS, MEASURE_UNTIL_MS);

const agrees = (real: LinkFigures, sim: LinkFigures): boolean =>
  Math.abs(real.senderEntropy.mean - sim.senderEntropy.mean) <= ENTROPY_TOLERANCE_BITS &&
  Math.abs(real.latencyMs.median - sim.latencyMs.median) <= LATENCY_TOLERANCE * sim.latencyMs.median;

test('the simulator agrees with umbra up on sender entropy and latency', { timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-sim-vs-real-'));
  let net: Testnet | undefined;
  let clients: CoverClients | undefined;
  t.after(async () => {
    clients?.stop();
    await net?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  const started = Date.now();
  net = await up({ dir, epochMs: EPOCH_MS, parameters: 'recommended', mixLoopRate: 0, recordPackets: true });
  t.diagnostic(`network up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  clients = await CoverClients.start(net, USERS, 20261206);
  await sleep(TRAFFIC_MS);
  clients.stop();
  t.diagnostic(`${clients.sent} packets sent by ${USERS} users (${clients.failed} failed, ${clients.stale} slots without the epoch's document)`);
  const drops = await droppedAsBadMac(net);
  const lateDrops = [...drops.values()].reduce((a, b) => a + b, 0);
  t.diagnostic(`dropped as bad-mac: ${lateDrops} ${JSON.stringify(Object.fromEntries(drops))}`);
  assert.ok(lateDrops <= 1, `${lateDrops} packets outlived their epoch's key`);
  const files = new Map(net.plan.nodes.map((node) => [node.name, readFileSync(packetLogOf(dir, node.name), 'utf8')]));
  const baseline = simConfig(net, net.plan.network.mixing.meanDelayMs, 1);
  const run = recordedRun(files, baseline);
  assert.equal(run.config.users, USERS, 'one client per gateway connection');
  const real = linkFigures(run, WARMUP_MS, MEASURE_UNTIL_MS);
  t.diagnostic(`real:      ${describe(real)}`);
  const seeds = [1, 2, 3].map((seed) => simulated(net as Testnet, net!.plan.network.mixing.meanDelayMs, seed));
  for (const [i, sim] of seeds.entries()) t.diagnostic(`simulated (seed ${i + 1}): ${describe(sim)}`);
  const control = simulated(net, net.plan.network.mixing.meanDelayMs / 10, 1);
  t.diagnostic(`control, 10 × shorter delays: ${describe(control)}`);

  assert.ok(real.measured > 15 * USERS, `${real.measured} real packets measured`);
  assert.ok(agrees(real, seeds[0]), `real ${describe(real)} against simulated ${describe(seeds[0])}`);
  assert.ok(!agrees(real, control), 'the control (10 × shorter delays) is told apart');
  assert.ok(Math.abs(real.senderEntropy.mean - control.senderEntropy.mean) > ENTROPY_TOLERANCE_BITS, 'the control differs in entropy too');
  // The records' ground truth is whole: with every node revealing its mapping, each packet's sender is known.
  const revealed = linkFigures({ ...run, config: { ...run.config, adversary: { corrupt: run.topology.nodes.map((n) => n.name) } } }, WARMUP_MS, MEASURE_UNTIL_MS);
  t.diagnostic(`every node corrupt: ${describe(revealed)}`);
  assert.ok(revealed.senderEntropy.mean === 0 && revealed.timingAttackSuccess === 1, 'every mapping revealed names every sender');
});
