/**
 * The grace against the delays of a packet's way (docs/nodes.md, "Keys"), on the node's real
 * keyring: packets leave at random moments of an epoch of `umbra up` (8 s, the recommended 500 ms
 * mean delays), each draws its three mixes' delays as a client does, and reaches its provider their
 * sum later (plus a few milliseconds a hop). The provider's keyring must still hold the key of the
 * epoch the packet left in. The control is the quarter-epoch grace `umbra up` had before: it loses
 * about one packet in 45 (the sum of three 500 ms delays outlasts the 2 s grace that often, weighted
 * by how late in the epoch the packet left).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { getCrypto } from '../../../src/crypto/index.js';
import { seededRandom } from '../../../src/crypto/seeded-random.js';
import { delayMs } from '../../../src/mixing/exponential.js';
import { replayFilterSizing } from '../../../src/mixing/replay-sizing.js';
import { NetMetrics } from '../../../src/net/metrics.js';
import { NodeMetrics } from '../../../src/node/runtime/metrics.js';
import { consensusGrace, GraceCheck } from '../../../src/node/runtime/grace-check.js';
import { SphinxKeyring } from '../../../src/node/runtime/keyring.js';
import { DEFAULT_NETWORK_PARAMETERS, epochStart, graceFor, type ConsensusDocument } from '../../../src/pki/index.js';

const crypto = getCrypto('sodium');
const timing = { genesisMs: 1_700_000_000_000, epochMs: 8_000 };
const mixing = DEFAULT_NETWORK_PARAMETERS.mixing;
const PACKETS = 40_000;
const LINK_MS = 5;
const EPOCH = 5;

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The share of packets leaving in EPOCH that find no key for it at their provider. */
function lostShare(graceMs: number, seed: number, neededGraceMs?: (epoch: number) => number | undefined): number {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-grace-'));
  dirs.push(dataDir);
  const ring = new SphinxKeyring({
    dataDir, crypto, timing, graceMs, ...(neededGraceMs === undefined ? {} : { neededGraceMs }),
    replaySizing: () => replayFilterSizing(Number.POSITIVE_INFINITY, 10),
    metrics: new NodeMetrics(new NetMetrics()), log: () => undefined,
  });
  const start = epochStart(EPOCH, timing);
  ring.rotate(start);
  const random = seededRandom(crypto, seed);
  let lost = 0;
  for (let i = 0; i < PACKETS; i++) {
    const leaves = start + (i + 0.5) * (timing.epochMs / PACKETS);
    let arrives = leaves + LINK_MS;
    for (let hop = 0; hop < 3; hop++) arrives += delayMs(random, mixing.meanDelayMs, mixing.maxDelayMs) + LINK_MS;
    if (!ring.candidates(arrives).some((key) => key.epoch === EPOCH)) lost++;
  }
  ring.close();
  return lost / PACKETS;
}

test("a packet that leaves at any moment of an epoch finds its epoch's key at its provider", () => {
  const grace = graceFor(timing.epochMs, mixing);
  assert.equal(grace, timing.epochMs);
  assert.equal(lostShare(grace, 1), 0);
  // The control: a quarter epoch, the default when the delays are not considered.
  const quarter = lostShare(timing.epochMs / 4, 1);
  assert.ok(quarter > 0.015 && quarter < 0.03, `the quarter-epoch grace lost ${(100 * quarter).toFixed(2)} %`);
});

test("a node configured with the quarter epoch keeps the previous key as long as the consensus's mixing needs", () => {
  const documents = new Map([[EPOCH, { mixing }]]) as unknown as Map<number, ConsensusDocument>;
  const needed = consensusGrace(timing.epochMs, (epoch) => documents.get(epoch));
  assert.equal(needed(EPOCH), timing.epochMs);
  assert.equal(needed(EPOCH - 1), timing.epochMs, 'the next epoch\'s document stands in for a missing one');
  assert.equal(needed(EPOCH + 3), undefined);
  assert.equal(lostShare(timing.epochMs / 4, 1, needed), 0);
  // Without a document held, the configured grace: the control loses packets again.
  assert.ok(lostShare(timing.epochMs / 4, 1, () => undefined) > 0.015);
});

test('a node whose grace is shorter than the mixing needs counts each document and says the value once', () => {
  const metrics = new NodeMetrics(new NetMetrics());
  const lines: { line: string; level: string | undefined }[] = [];
  const check = new GraceCheck(2_000, timing.epochMs, metrics, (line, level) => lines.push({ line, level }));
  assert.equal(check.check(mixing), false);
  assert.equal(check.check(mixing), false);
  assert.equal(metrics.value('node_consensus_grace_short_total'), 2);
  assert.deepEqual(lines.map((l) => l.level), ['info']);
  assert.match(lines[0].line, /need 8000 ms of grace, more than graceMs 2000: the previous epoch's key is kept 8000 ms/);
  // Other delays need another value: said again. Short delays: nothing to say.
  assert.equal(check.check({ meanDelayMs: 300, maxDelayMs: 10_000 }), false);
  assert.equal(lines.length, 2);
  assert.match(lines[1].line, /need 6025 ms/);
  assert.equal(check.check({ meanDelayMs: 20, maxDelayMs: 1_000 }), true);
  assert.equal(metrics.value('node_consensus_grace_short_total'), 3);
  const enough = new GraceCheck(graceFor(timing.epochMs, mixing), timing.epochMs, metrics, (line) => lines.push({ line, level: undefined }));
  assert.equal(enough.check(mixing), true);
  assert.equal(lines.length, 2);
});
