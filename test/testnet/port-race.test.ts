import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { fetchConsensus } from '../../src/net/authority-client.js';
import { PortInUseError } from '../../src/testnet/errors.js';
import type { NetworkPlan } from '../../src/testnet/plan.js';
import { freePort, type PortAllocator } from '../../src/testnet/ports.js';
import { up, type Testnet } from '../../src/testnet/up.js';

/**
 * The race of `umbra up` (docs/network.md, "`umbra up` and supervision"): a port drawn for a node is
 * taken by someone else before the node binds it. Here the test's port allocator hands out ports
 * the test itself keeps listening on, so the node meets a taken port every time, without timing luck.
 */
const EPOCH_MS = 2_000;

/** A port this test keeps busy (listening on 127.0.0.1, hanging up on whoever connects) until `servers` are closed. */
async function busyPort(servers: Server[]): Promise<number> {
  const server = createServer((socket) => socket.destroy());
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as { port: number }).port;
}

function closeAll(servers: Server[]): Promise<void> {
  return Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined);
}

const planOf = (dir: string): NetworkPlan => JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as NetworkPlan;

test('a node and an authority whose first ports are taken are moved to fresh ones: every node comes up, the consensus lists the new address', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-port-race-'));
  const servers: Server[] = [];
  let net: Testnet | undefined;
  // Every process stops before the directory goes (else the removal races their writes).
  t.after(async () => {
    await net?.stop();
    await closeAll(servers);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  const busyMixLink = await busyPort(servers);
  const busyAuthority = await busyPort(servers);
  const first = new Set<string>();
  // The first port drawn for mix-2-1 (its link port) and for authority-2 is one the test holds.
  const allocate: PortAllocator = async (owner) => {
    if (first.has(owner)) return freePort();
    first.add(owner);
    return owner === 'mix-2-1' ? busyMixLink : owner === 'authority-2' ? busyAuthority : freePort();
  };
  const lines: string[] = [];
  net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', authorities: 2, minimalNodes: true, readyTimeoutMs: 30_000, allocatePort: allocate, log: (line) => lines.push(line) });
  for (const name of [...net.plan.authorities.map((a) => a.name), ...net.plan.nodes.map((n) => n.name)]) assert.ok(net.pidOf(name) !== undefined, `${name} is running`);
  assert.ok(lines.includes('mix-2-1: a port of its own was taken before it could listen; starting it again on fresh ports'), lines.join('\n'));
  assert.ok(lines.includes('authority-2: a port of its own was taken before it could listen; starting it again on fresh ports'), lines.join('\n'));

  const saved = planOf(dir);
  assert.deepEqual(saved, net.plan, 'plan.json holds the moved ports');
  const mix = saved.nodes.find((node) => node.name === 'mix-2-1');
  const authority2 = saved.authorities.find((a) => a.name === 'authority-2');
  assert.ok(mix !== undefined && mix.linkPort !== busyMixLink && authority2 !== undefined && authority2.port !== busyAuthority);
  assert.deepEqual(net.authorities.map((a) => a.url), saved.authorities.map((a) => `https://127.0.0.1:${a.port}`), 'users are told the moved authority URL');
  const config = JSON.parse(readFileSync(join(dir, 'mix-2-1', 'config.json'), 'utf8')) as { linkPort: number; metricsPort: number };
  assert.deepEqual([config.linkPort, config.metricsPort], [mix.linkPort, mix.metricsPort]);
  const peers = (JSON.parse(readFileSync(join(dir, 'authority-1', 'config.json'), 'utf8')) as { peers: { url: string }[] }).peers;
  assert.deepEqual(peers.map((peer) => peer.url), [`https://127.0.0.1:${authority2.port}`], "authority-1's peer is the moved authority");
  assert.equal(net.file.nodes.find((node) => node.name === 'mix-2-1')?.metricsUrl, `http://127.0.0.1:${mix.metricsPort}/metrics`);
  // Both authorities signed (a consensus needs 2 of 2), and it routes to the moved mix's new port.
  const keys = net.authorities.map((a) => fromBase64Url(a.publicKey, 'authority key', 32));
  // Right after an epoch boundary of a loaded machine the two may not have signed the new epoch's yet: ask again until they have.
  const deadline = Date.now() + 20 * EPOCH_MS;
  let current = await fetchConsensus(getCrypto(), net.authorities[1].url, 'current', { authorities: keys, nowMs: Date.now() });
  while (current === undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    current = await fetchConsensus(getCrypto(), net.authorities[1].url, 'current', { authorities: keys, nowMs: Date.now() });
  }
  assert.equal(current?.doc.nodes.find((node) => node.name === 'mix-2-1')?.addresses.link, `127.0.0.1:${mix.linkPort}`);
});

test('a node that finds its ports taken at every start fails with a clear message; a kept plan never moves a port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-port-race-'));
  const servers: Server[] = [];
  t.after(async () => {
    await closeAll(servers);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  // Every port mix-1-1 is ever given is one the test holds.
  const allocate: PortAllocator = async (owner) => (owner === 'mix-1-1' ? busyPort(servers) : freePort());
  const lines: string[] = [];
  await assert.rejects(up({ dir, epochMs: EPOCH_MS, parameters: 'fast', minimalNodes: true, readyTimeoutMs: 30_000, allocatePort: allocate, log: (line) => lines.push(line) }), (error: unknown) =>
    error instanceof PortInUseError && error.node === 'mix-1-1' && /^mix-1-1 found a port of its own in use at each of 4 starts, on fresh ports after the first; giving up \(mix-1-1 could not listen: a port of its own is in use \(see .*mix-1-1\.log\)\)$/.test(error.message));
  assert.equal(lines.filter((line) => line.startsWith('mix-1-1: a port of its own was taken')).length, 3);
  const log = readFileSync(join(dir, 'logs', 'mix-1-1.log'), 'utf8');
  assert.match(log, /umbra: mix: cannot listen on 127\.0\.0\.1:\d+: the address is in use/);

  // The plan is kept now: its (still busy) ports are fixed, and the message says how to get out.
  await assert.rejects(up({ dir, readyTimeoutMs: 30_000, allocatePort: allocate }), (error: unknown) =>
    error instanceof PortInUseError && /^mix-1-1 could not listen: a port of its own is in use \(see .*\); its ports are fixed by .*plan\.json .*umbra up --fresh\)$/.test(error.message));
});
