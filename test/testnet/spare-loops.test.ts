import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { up, type Testnet } from '../../src/testnet/up.js';
import { mixAlerts, mixScores, nextDocuments } from './reliability-support.js';

/**
 * A mix that drops mail and spares loops (docs/network.md, "Mix loops"), over a whole network in
 * separate processes (`umbra up`). The attacker (mix-3-1, `attacks: 'spare-loops'`,
 * src/node/mix/attacks.ts) sees only each packet's hops: it forwards a packet that came from a node
 * not of the previous layer or goes to one not of the next layer (client traffic never takes such
 * a hop, so it must be a loop) and drops every other.
 *
 * Mix loops enter through the gateway and come back through a provider, so every hop a loop takes
 * at the attacker is a client's hop: it drops them all, the other mixes' loops through it vanish,
 * and it falls below the reliability floor within 3 epochs while no other mix does. Control: on
 * loops that went around the ring of mix layers (3 → 1 → 2), the layer before, the same attacker
 * forwarded every loop and kept 1000 in every document (run once against that code).
 */
const EPOCH_MS = 8_000;
const MIX_LOOP_RATE = 20;
const ATTACKER = 'mix-3-1';
const LIMIT_MS = 300_000;

async function startNetwork(t: { after: (fn: () => Promise<void>) => void }): Promise<Testnet> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-spare-loops-'));
  let net: Testnet | undefined;
  t.after(async () => {
    await net?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', mixLoopRate: MIX_LOOP_RATE, readyTimeoutMs: LIMIT_MS, attacks: { [ATTACKER]: 'spare-loops' } });
  return net;
}

/** A counter's value on a node's /metrics page (0 when absent). */
async function counter(net: Testnet, node: string, name: string): Promise<number> {
  const url = net.file.nodes.find((each) => each.name === node)?.metricsUrl;
  assert.ok(url !== undefined, `${node} has no metrics`);
  const text = await (await fetch(url)).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((sum, match) => sum + Number(match[1]), 0);
}

test('a mix that drops mail and spares what looks like loops finds no loop to spare, and falls below the floor within 3 epochs', async (t) => {
  const net = await startNetwork(t);
  const docs = await nextDocuments(net, (doc) => mixScores(doc).get(ATTACKER)! < doc.reliability.floor);
  const trace = docs.map((doc) => `epoch ${doc.epoch}: ${[...mixScores(doc)].map(([name, score]) => `${name} ${score}`).join(', ')}`).join('; ');
  t.diagnostic(trace);
  const last = docs[docs.length - 1];
  assert.ok(mixScores(last).get(ATTACKER)! < last.reliability.floor, `the attacker kept its score: ${trace}`);
  for (const doc of docs) {
    for (const [name, score] of mixScores(doc)) if (name !== ATTACKER) assert.ok(score >= doc.reliability.floor, `${name} fell below the floor: ${trace}`);
  }
  // The loops entered as clients' packets do: every mix holds a connection to the gateway.
  assert.ok(await counter(net, 'gateway-1', 'umbra_node_gateway_mix_connections_total') >= 6);
  // The other mixes' own test names it, and no healthy mix.
  const named = mixAlerts(net);
  t.diagnostic(`mix alerts: ${JSON.stringify(Object.fromEntries(named))}`);
  assert.ok([...named.values()].some((nodes) => nodes.includes(ATTACKER)), `no mix went on high alert about ${ATTACKER}`);
  for (const [mix, nodes] of named) if (mix !== ATTACKER) assert.deepEqual(nodes.filter((node) => node !== ATTACKER), [], `${mix} named a healthy mix`);
});
