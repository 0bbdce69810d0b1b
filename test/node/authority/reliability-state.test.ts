import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hexOf, toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { fetchConsensus, uploadDescriptor, uploadLoopReport } from '../../../src/net/authority-client.js';
import { startAuthority, validateAuthorityConfig, type AuthorityDeps, type AuthorityHandle } from '../../../src/node/authority/index.js';
import { consensusWeights, encodeDescriptor, epochStart, makeLoopReport, type ConsensusDocument } from '../../../src/pki/index.js';
import { makeFixtureNetwork, testSeed, type FixtureNode } from '../../pki/network-fixture.js';
import { FakeClock } from './fake-clock.js';

/** An authority's reliability state across restarts (docs/network.md, "Reliability"). */
const crypto = getCrypto('sodium');
const GENESIS = 1_700_000_000_000;
const EPOCH_MS = 2000;
const LEAD_MS = EPOCH_MS / 4;
const timing = { genesisMs: GENESIS, epochMs: EPOCH_MS };
const authoritySeed = testSeed(crypto, 'reliability authority');
const authorityKey = crypto.ed25519PublicKey(authoritySeed);

const dirs: string[] = [];
const running = new Set<AuthorityHandle>();
after(async () => {
  await Promise.all([...running].map((handle) => handle.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function startTestAuthority(dataDir: string, clock: FakeClock, extra: Record<string, unknown> = {}, deps: AuthorityDeps = {}): Promise<AuthorityHandle> {
  const config = validateAuthorityConfig({
    identitySeed: toBase64Url(authoritySeed),
    authorities: [toBase64Url(authorityKey)],
    genesisMs: GENESIS,
    epochMs: EPOCH_MS,
    dataDir,
    network: { mixing: { meanDelayMs: 5, maxDelayMs: 50 } },
    openAdmission: true,
    ...extra,
  });
  const handle = await startAuthority(config, { clock, ...deps });
  running.add(handle);
  return handle;
}

async function stop(handle: AuthorityHandle): Promise<void> {
  running.delete(handle);
  await handle.close();
}

function scoreOf(doc: ConsensusDocument, node: FixtureNode): number {
  const i = doc.nodes.findIndex((n) => hexOf(n.nodeId) === hexOf(node.descriptor.nodeId));
  assert.ok(i >= 0);
  return doc.scores[i];
}

test('loop reports taken before a restart score the vote made after it', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-reliability-'));
  dirs.push(dataDir);
  const clock = new FakeClock(GENESIS + 100); // epoch 0, before epoch 1's publish time
  let authority = await startTestAuthority(dataDir, clock, { probeIntervalMs: 0 });
  const network = makeFixtureNetwork(crypto, { epoch: 1 });
  for (const node of network) await uploadDescriptor({ url: authority.url, keys: [authorityKey] }, encodeDescriptor(node.descriptor));
  const mix = (layer: number, i: number): FixtureNode => network.find((n) => n.descriptor.name === `net-mix-${layer}-${i}`)!;
  // Three mixes report (a score needs 3 reporters): 20 of the 50 loops through mix 2-0 lost, none of the others.
  for (const reporter of [mix(1, 0), mix(1, 1), mix(3, 0)]) {
    const report = makeLoopReport(crypto, reporter.identitySeed, {
      epoch: 0, serial: 1, total: { sent: 100, lost: 20 },
      nodes: [{ nodeId: mix(2, 0).descriptor.nodeId, sent: 50, lost: 20 }, { nodeId: mix(2, 1).descriptor.nodeId, sent: 50, lost: 0 }],
    });
    assert.equal(await uploadLoopReport({ url: authority.url, keys: [authorityKey] }, report.bytes), 'new');
  }
  await stop(authority);

  const clockAfter = new FakeClock(clock.now());
  authority = await startTestAuthority(dataDir, clockAfter, { probeIntervalMs: 0 });
  clockAfter.advanceTo(epochStart(1, timing) - LEAD_MS);
  const doc = await fetchConsensus(crypto, authority.url, 1, { authorities: [authorityKey], nowMs: clockAfter.now() });
  assert.ok(doc !== undefined);
  // 20/50 through mix 2-0 against 0/50 elsewhere: excess 0.4 from every reporter.
  assert.equal(scoreOf(doc.doc, mix(2, 0)), 600);
  assert.equal(scoreOf(doc.doc, mix(2, 1)), 1000);
  await stop(authority);
});

test('the authority\'s probes score gateways and providers, hold an unreachable mix down whatever its reporters say, and survive a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-reliability-'));
  dirs.push(dataDir);
  const network = makeFixtureNetwork(crypto, { epoch: 1 });
  const named = (name: string): FixtureNode => network.find((n) => n.descriptor.name === name)!;
  const down = new Set([named('net-mix-2-0'), named('net-provider-1')].map((n) => hexOf(n.descriptor.nodeId)));
  const probed: string[] = [];
  const measuredAsked: string[] = [];
  // Throughput probes: one mix carries only 300 packets/s, below the 1000 it declares; the rest 5000.
  const slow = hexOf(named('net-mix-2-1').descriptor.nodeId);
  const probe = async (node: { nodeId: Uint8Array }, _signal: AbortSignal, measure: boolean) => {
    probed.push(hexOf(node.nodeId));
    if (down.has(hexOf(node.nodeId))) return { outcome: 'unreachable' as const };
    if (!measure) return { outcome: 'answered' as const };
    measuredAsked.push(hexOf(node.nodeId));
    return { outcome: 'answered' as const, packetsPerSec: hexOf(node.nodeId) === slow ? 300.7 : 5000 };
  };
  const clock = new FakeClock(GENESIS + 100);
  let authority = await startTestAuthority(dataDir, clock, { probeIntervalMs: 0 }, { probe });
  for (const node of network) await uploadDescriptor({ url: authority.url, keys: [authorityKey] }, encodeDescriptor(node.descriptor));
  // Epoch 0 has no document: its round probes the descriptors held for it (none), so hold epoch 0's too.
  for (const node of makeFixtureNetwork(crypto, { epoch: 0 })) await uploadDescriptor({ url: authority.url, keys: [authorityKey] }, encodeDescriptor(node.descriptor));
  for (let i = 0; i < 6; i++) await authority.probeRound();
  // A node's throughput is asked for once it answers, until it is measured, once per epoch: never for the unreachable ones.
  assert.equal(measuredAsked.length, network.length - down.size);
  assert.equal(probed.length, 6 * network.length + measuredAsked.length);
  assert.equal(authority.metrics.get('umbra_authority_throughput_probes_total', { outcome: 'measured' }), network.length - down.size);
  // Both layer-1 mixes lie for the unreachable mix: every loop through it came back.
  for (const reporter of [named('net-mix-1-0'), named('net-mix-1-1')]) {
    const report = makeLoopReport(crypto, reporter.identitySeed, {
      epoch: 0, serial: 1, total: { sent: 100, lost: 0 },
      nodes: [{ nodeId: named('net-mix-2-0').descriptor.nodeId, sent: 50, lost: 0 }, { nodeId: named('net-mix-2-1').descriptor.nodeId, sent: 50, lost: 0 }],
    });
    await uploadLoopReport({ url: authority.url, keys: [authorityKey] }, report.bytes);
  }
  const file = join(dataDir, 'probes', '0.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const before = readFileSync(file, 'utf8');
  await stop(authority);

  const clockAfter = new FakeClock(clock.now());
  authority = await startTestAuthority(dataDir, clockAfter, { probeIntervalMs: 0 }, { probe });
  assert.equal(readFileSync(file, 'utf8'), before);
  clockAfter.advanceTo(epochStart(1, timing) - LEAD_MS);
  const doc = await fetchConsensus(crypto, authority.url, 1, { authorities: [authorityKey], nowMs: clockAfter.now() });
  assert.ok(doc !== undefined);
  const score = (name: string): number => scoreOf(doc.doc, named(name));
  assert.equal(score('net-mix-2-0'), 0, 'unreachable in every probe, whatever the reporters say');
  assert.equal(score('net-provider-1'), 0);
  assert.equal(score('net-provider-0'), 1000);
  assert.equal(score('net-gateway-0'), 1000);
  assert.equal(score('net-mix-2-1'), 1000);
  // The measured bandwidths, kept over the restart: below the declared one it caps it, above it does not count.
  const measuredOf = (name: string): number => doc.doc.measured[doc.doc.nodes.findIndex((n) => n.name === named(name).descriptor.name)];
  assert.equal(measuredOf('net-mix-2-1'), 300);
  assert.equal(measuredOf('net-mix-2-0'), 0, 'never answered: not measured');
  assert.equal(measuredOf('net-gateway-0'), 5000);
  const weights = consensusWeights(doc.doc);
  assert.equal(weights.bandwidth(named('net-mix-2-1').descriptor), 300);
  assert.equal(weights.bandwidth(named('net-gateway-0').descriptor), named('net-gateway-0').descriptor.bandwidth);
  await stop(authority);
});
