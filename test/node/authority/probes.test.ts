import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hexOf } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { seededRandom } from '../../../src/crypto/seeded-random.js';
import { AuthorityMetrics } from '../../../src/node/authority/metrics.js';
import { AuthorityProber } from '../../../src/node/authority/prober.js';
import { ProbeBook } from '../../../src/node/authority/probes.js';
import { AuthorityStore } from '../../../src/node/authority/store.js';
import { makeFixtureNetwork } from '../../pki/network-fixture.js';
import { FakeClock } from './fake-clock.js';

/** The authority's probe counts and rounds (docs/network.md, "Authority probes"). */
const crypto = getCrypto();
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const a = 'a'.repeat(64);
const b = 'b'.repeat(64);

test('probe counts add up per epoch, the vote reads the two before it, and a restart reads back what was stored', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-probes-'));
  dirs.push(dataDir);
  const book = new ProbeBook(new AuthorityStore(dataDir));
  book.record(4, new Map([[a, true], [b, false]]));
  book.record(5, new Map([[a, true], [b, false]]));
  book.record(5, new Map([[a, false]]));
  assert.deepEqual(book.countsFor(6), new Map([[a, { sent: 3, lost: 1 }], [b, { sent: 2, lost: 2 }]]));
  assert.deepEqual(book.countsFor(5), new Map([[a, { sent: 1, lost: 0 }], [b, { sent: 1, lost: 1 }]]));

  const restarted = new ProbeBook(new AuthorityStore(dataDir));
  assert.deepEqual(restarted.restore(5), []);
  assert.deepEqual(restarted.held(), book.held());
  for (const epoch of [5, 6, 7]) assert.deepEqual(restarted.countsFor(epoch), book.countsFor(epoch));

  // A file that is not counts is skipped (and said why); epochs before the previous are not read.
  writeFileSync(join(dataDir, 'probes', '5.json'), JSON.stringify({ epoch: 5, nodes: { [a]: [1, 2] } }));
  const skipping = new ProbeBook(new AuthorityStore(dataDir));
  const problems = skipping.restore(5);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^5\.json: .*lost ≤ sent/);
  assert.deepEqual(skipping.held(), { 4: 2 });
  const later = new ProbeBook(new AuthorityStore(dataDir));
  later.restore(7);
  assert.deepEqual(later.held(), {});
  book.prune(6);
  assert.deepEqual(book.held(), { 5: 2 });
});

test('measured throughputs: the first of an epoch is kept, the vote reads the larger of the two epochs before, and a restart reads them back', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-probes-'));
  dirs.push(dataDir);
  const book = new ProbeBook(new AuthorityStore(dataDir));
  book.record(4, new Map([[a, true], [b, true]]), new Map([[a, 900.9], [b, 0.2]]));
  book.record(4, new Map([[a, true]]), new Map([[a, 5000]]));
  book.record(5, new Map([[a, true]]), new Map([[a, 700]]));
  assert.equal(book.measuredIn(4, a), true);
  assert.equal(book.measuredIn(5, b), false);
  assert.deepEqual(book.throughputFor(6), new Map([[a, 900], [b, 1]]));
  assert.deepEqual(book.throughputFor(7), new Map([[a, 700]]));
  const restarted = new ProbeBook(new AuthorityStore(dataDir));
  assert.deepEqual(restarted.restore(5), []);
  assert.deepEqual(restarted.throughputFor(6), book.throughputFor(6));
  // A file with a throughput that is not a packet rate is skipped, and says why.
  writeFileSync(join(dataDir, 'probes', '5.json'), JSON.stringify({ epoch: 5, nodes: { [a]: [1, 0] }, throughput: { [a]: -3 } }));
  const problems = new ProbeBook(new AuthorityStore(dataDir)).restore(5);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^5\.json: the throughput of a{16}… is not an integer/);
});

test('a round probes every node of the epoch and counts for the epoch it started in; one cut short by stop is not counted', async () => {
  const nodes = makeFixtureNetwork(crypto, { epoch: 3 }).map((node) => node.descriptor);
  const flaky = hexOf(nodes.find((node) => node.layer === 1)!.nodeId);
  const clock = new FakeClock(1000);
  const book = new ProbeBook();
  const metrics = new AuthorityMetrics();
  let hang = false;
  let started = 0;
  let measuring = 0;
  let mostAtOnce = 0;
  const asked: string[] = [];
  let flakyAsked = 0;
  const prober = new AuthorityProber(100, {
    clock, book, metrics, log: () => undefined, random: seededRandom(crypto, 4),
    epochAt: () => 3,
    nodesOf: (epoch) => (epoch === 3 ? nodes : []),
    probe: async (node, signal, measure) => {
      started++;
      if (hang) return new Promise((resolve) => signal.addEventListener('abort', () => resolve({ outcome: 'unreachable' })));
      if (!measure) return node.layer === 4 ? { outcome: 'timeout' } : { outcome: 'answered' };
      asked.push(hexOf(node.nodeId));
      mostAtOnce = Math.max(mostAtOnce, ++measuring);
      await new Promise((resolve) => setImmediate(resolve));
      measuring--;
      // The flaky node's first throughput probe is cut short.
      if (hexOf(node.nodeId) === flaky && flakyAsked++ === 0) return { outcome: 'answered' };
      return { outcome: 'answered', packetsPerSec: 1234.5 };
    },
  });
  await prober.round();
  // Every node that answered is asked for its throughput, one at a time; those measured are not asked again this epoch.
  const answeredKeys = nodes.filter((node) => node.layer !== 4).map((node) => hexOf(node.nodeId));
  assert.deepEqual([...asked].sort(), [...answeredKeys].sort());
  assert.equal(mostAtOnce, 1, 'throughput probes never overlap');
  assert.deepEqual(book.throughputFor(5), new Map(answeredKeys.filter((key) => key !== flaky).map((key) => [key, 1234])));
  assert.equal(metrics.get('umbra_authority_throughput_probes_total', { outcome: 'measured' }), answeredKeys.length - 1);
  assert.equal(metrics.get('umbra_authority_throughput_probes_total', { outcome: 'failed' }), 1);
  asked.length = 0;
  await prober.round();
  assert.deepEqual(asked, [flaky], 'only the one not yet measured');
  assert.equal(book.throughputFor(5).get(flaky), 1234);
  const counts = book.countsFor(5);
  assert.equal(counts.size, nodes.length);
  for (const node of nodes) assert.deepEqual(counts.get(hexOf(node.nodeId)), { sent: 2, lost: node.layer === 4 ? 2 : 0 }, 'throughput probes are not liveness counts');
  assert.equal(metrics.get('umbra_authority_probes_total', { outcome: 'timeout' }), 4);
  assert.equal(metrics.get('umbra_authority_probes_total', { outcome: 'answered' }), 2 * (nodes.length - 2));

  hang = true;
  const round = prober.round();
  assert.equal(prober.round(), round, 'one round at a time');
  await prober.stop();
  await round;
  assert.equal(started, 3 * nodes.length + answeredKeys.length + 1);
  assert.deepEqual(book.countsFor(5).get(hexOf(nodes[0].nodeId)), { sent: 2, lost: 0 }, 'the cut round is not counted');
});
