import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { seededRandom } from '../../src/crypto/index.js';
import { type Arrival, closedAfterTests, FAST_KDF, type GatewayConnectionRecord, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';
import { ksTest } from '../support/two-sample.js';

/**
 * Replies do not reveal the recipient (issue 9, item 2): an observer of every link sees the same
 * thing from a recipient whether mail reached it (and it sent ACKs back through the senders' SURBs)
 * or not. The network is the client tests' in-process one (test/client/support.ts): a real
 * authority, real TLS WebSocket listeners for three gateways that record every connection and every
 * frame with its time, and the real Sphinx code unwrapping each packet from the layer-1 mix its
 * frame names. Bob runs twice on seeded randomness: idle, and receiving three mails from Alice. The
 * test compares, on Bob's side only:
 *  - the set of his gateway connections: how many, to how many gateways, all opened at start;
 *  - the frames on each of his links: their length, their count, and their inter-arrival times
 *    (two-sample Kolmogorov–Smirnov test, no difference at p < 0.01).
 * The active run must have sent its replies, and Alice's mails must be delivered (ACKs arrived).
 *
 * The planted leak (StartOptions.plantedReplyLeak) sends each reply at once over a new connection
 * to a gateway: the test must detect it. That is what the agent did before replies rode in the send
 * stream (a WebSocket to the gateway the SURB started at, one packet, then closed). Checked on the
 * tree before this change (this file, with the same connection and timing records added to that
 * tree's test/client/support.ts): its active run sent the 3 ACKs and Alice's mails were delivered,
 * but Bob had 3 gateway connections instead of 1, and the test failed there.
 */
/** The shared two-sample Kolmogorov–Smirnov test (test/support/two-sample.ts): D and its p-value. */
function ks(a: readonly number[], b: readonly number[]): { d: number; p: number } {
  const { d, pValue } = ksTest(a, b);
  return { d, p: pValue };
}

const { nets, agents } = closedAfterTests();

const EPOCH_MS = 120_000;
const MEASURE_MS = 60_000;
const TRAFFIC = { clientSendRate: 3, loopRate: 1, dropRate: 1 };
const MAILS = 3;

interface Observed {
  /** Bob's gateway connections, as the network saw them open. */
  readonly connections: readonly GatewayConnectionRecord[];
  /** Frames on Bob's links during the measurement, by connection. */
  readonly frames: ReadonlyMap<number, readonly Arrival[]>;
  readonly replies: number;
  readonly delivered: number;
}

async function startUser(net: SimNet, name: string, seed: number, leak = false): Promise<{ agent: ClientAgent; cardUri: string }> {
  const dir = join(tempDir(), name);
  const passphrase = `${name} passphrase`;
  const init = await initClient(dir, { name, passphrase, authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 24, ...TEST_NETWORK_POLICY });
  const agent = await startClient(dir, passphrase, { clock: net.clock, random: seededRandom(net.crypto, seed), plantedReplyLeak: leak });
  agents.push(agent);
  return { agent, cardUri: init.cardUri };
}

/** One run: Bob on the network for MEASURE_MS of fake time, receiving `mails` mails from Alice. */
async function observe(label: string, seed: number, mails: number, leak = false): Promise<Observed> {
  const net = await SimNet.start({ label, gateways: 3, epochMs: EPOCH_MS, traffic: TRAFFIC });
  nets.push(net);
  const { agent: alice } = await startUser(net, 'alice', seed);
  await waitFor(() => net.connections.length === 1, "Alice's connection");
  const { agent: bob, cardUri } = await startUser(net, 'bob', seed + 1, leak);
  await waitFor(() => net.connections.length === 2, "Bob's connection");
  alice.addContact(cardUri);
  const start = net.clock.now();
  const sentIds: number[] = [];
  for (let i = 0; i < 4; i++) {
    if (i < mails) sentIds.push((await alice.send({ to: 'bob', subject: `mail ${i}`, body: `body ${i}` })).id);
    await net.advance(MEASURE_MS / 4, 10);
  }
  const end = net.clock.now();
  await alice.poll();
  // Alice opened the first connection and never another (she sends no replies): the rest are Bob's.
  const bobConnections = net.connections.slice(1);
  const ids = new Set(bobConnections.map((c) => c.id));
  const frames = new Map<number, Arrival[]>();
  for (const arrival of net.arrivals) {
    if (!ids.has(arrival.connection) || arrival.atMs < start || arrival.atMs > end) continue;
    frames.set(arrival.connection, [...(frames.get(arrival.connection) ?? []), arrival]);
  }
  const delivered = alice.sent().filter((mail) => sentIds.includes(mail.id) && mail.status === 'delivered').length;
  const replies = bob.status().packets.replies;
  await alice.close();
  await bob.close();
  return { connections: bobConnections, frames, replies, delivered };
}

function gaps(arrivals: readonly Arrival[]): number[] {
  const times = arrivals.map((a) => a.atMs).sort((u, v) => u - v);
  return times.slice(1).map((t, k) => t - times[k]);
}

/** What an observer of Bob's links can tell apart between two runs; empty when nothing. */
function differences(idle: Observed, active: Observed): string[] {
  const found: string[] = [];
  const shape = (o: Observed) => ({ connections: o.connections.length, gateways: new Set(o.connections.map((c) => c.gateway)).size, links: o.frames.size });
  if (JSON.stringify(shape(idle)) !== JSON.stringify(shape(active))) found.push(`connections: ${JSON.stringify(shape(idle))} vs ${JSON.stringify(shape(active))}`);
  const lengths = (o: Observed) => new Set([...o.frames.values()].flat().map((a) => a.packet.length));
  if ([...lengths(active)].some((length) => !lengths(idle).has(length))) found.push('frame lengths');
  // Per link, in the order the links opened: the main link of one run against the main link of the other.
  const links = (o: Observed) => [...o.frames.keys()].sort((u, v) => u - v).map((id) => o.frames.get(id)!);
  const [idleLinks, activeLinks] = [links(idle), links(active)];
  for (let k = 0; k < Math.max(idleLinks.length, activeLinks.length); k++) {
    const a = idleLinks[k] ?? [];
    const b = activeLinks[k] ?? [];
    if (a.length < 20 || b.length < 20) {
      found.push(`link ${k}: ${a.length} vs ${b.length} frames`);
      continue;
    }
    const { d, p } = ks(gaps(a), gaps(b));
    if (p < 0.01) found.push(`link ${k}: inter-arrival times differ (KS D = ${d.toFixed(3)}, p = ${p.toExponential(2)})`);
    // Frames per second: a Poisson count, compared within 4 standard deviations.
    const tolerance = 4 * Math.sqrt(a.length + b.length);
    if (Math.abs(a.length - b.length) > tolerance) found.push(`link ${k}: ${a.length} vs ${b.length} frames`);
  }
  return found;
}

test('a recipient\'s connections and per-link timing are the same whether it received mail (and replied) or not; a planted leak is found', async (t) => {
  const idle = await observe('reply-idle', 1100, 0);
  const active = await observe('reply-active', 2200, MAILS);
  assert.equal(idle.replies, 0);
  assert.ok(active.replies >= MAILS, `Bob sent ${active.replies} replies`);
  assert.equal(active.delivered, MAILS, "every mail's ACK reached Alice");
  assert.equal(active.connections.length, 1, 'Bob keeps one connection, to his guard');
  for (const o of [idle, active]) for (const c of o.connections) assert.ok(c.closedMs === undefined || c.closedMs > 0);
  const frames = (o: Observed) => [...o.frames.values()].reduce((n, list) => n + list.length, 0);
  t.diagnostic(`frames on Bob's link: idle ${frames(idle)}, active ${frames(active)}; replies ${active.replies}`);
  const found = differences(idle, active);
  assert.deepEqual(found, [], `an observer tells the runs apart: ${found.join('; ')}`);

  const leaky = await observe('reply-leak', 2200, MAILS, true);
  assert.ok(leaky.replies >= 1, 'the leaky run sent replies');
  const leak = differences(idle, leaky);
  t.diagnostic(`the planted leak is seen as: ${leak.join('; ')}`);
  assert.ok(leak.length > 0, 'the planted leak is detected');
});
