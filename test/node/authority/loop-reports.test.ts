import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hexOf, sameBytes } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { HttpError } from '../../../src/node/authority/http-error.js';
import { LoopReportBook } from '../../../src/node/authority/loop-reports.js';
import { AuthorityStore } from '../../../src/node/authority/store.js';
import { makeLoopReport } from '../../../src/pki/index.js';

/** The loop reports an authority takes (docs/network.md, "Loop reports"): who, which epochs, which serial. */
const crypto = getCrypto();
const seeds = [1, 2, 3, 4, 5].map((i) => new Uint8Array(32).fill(i));
const ids = seeds.map((seed) => crypto.ed25519PublicKey(seed));
/** Reporters 0, 1, 3 and 4 are admitted; 2 is not. 0, 3 and 4 report on node 1 (a score needs 3 reporters), 1 on node 0. */
const admitted = [ids[0], ids[1], ids[3], ids[4]];
const ON_NODE_1 = [0, 3, 4];

function report(reporter: number, epoch: number, serial: number, lostThrough: number): Uint8Array {
  const target = reporter === 1 ? 0 : 1;
  return makeLoopReport(crypto, seeds[reporter], { epoch, serial, total: { sent: 100, lost: lostThrough }, nodes: [{ nodeId: ids[target], sent: 50, lost: lostThrough }] }).bytes;
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof HttpError);
    return `${error.status} ${error.code}`;
  }
  return 'taken';
}

test('an authority takes admitted reporters for the current or previous epoch, the latest serial only, and scores from them', () => {
  const book = new LoopReportBook(crypto, (nodeId) => admitted.some((key) => sameBytes(key, nodeId)));
  assert.equal(book.receive(report(0, 5, 10, 0), 5), 'new');
  assert.equal(book.receive(report(0, 5, 10, 0), 5), 'unchanged');
  assert.equal(book.receive(report(0, 5, 9, 40), 5), 'unchanged', 'an older serial never replaces a newer one');
  assert.equal(book.receive(report(0, 4, 1, 0), 5), 'new');
  assert.equal(refusal(() => book.receive(report(0, 3, 1, 0), 5)), '422 wrong-epoch');
  assert.equal(refusal(() => book.receive(report(0, 6, 1, 0), 5)), '422 wrong-epoch');
  assert.equal(refusal(() => book.receive(report(2, 5, 1, 0), 5)), '403 unknown-node');
  const forged = report(1, 5, 1, 0);
  forged[30] ^= 1;
  assert.equal(refusal(() => book.receive(forged, 5)), '403 bad-signature');
  assert.equal(refusal(() => book.receive(new Uint8Array(70), 5)), '400 malformed');
  // Node 1 measured by nodes 0, 3 and 4: every loop through it came back.
  for (const reporter of [3, 4]) {
    book.receive(report(reporter, 4, 1, 0), 5);
    book.receive(report(reporter, 5, 10, 0), 5);
  }
  assert.equal(book.scoresFor(6).get(hexOf(ids[1])), 1000);
  // A newer report for epoch 5 loses 20 of the 50 loops through node 1 (and nothing else); with
  // epoch 4's report (50 through, none lost) that is 20 of 100, against none of the other 100: 800.
  for (const reporter of ON_NODE_1) assert.equal(book.receive(report(reporter, 5, 11, 20), 5), 'new');
  assert.equal(book.scoresFor(6).get(hexOf(ids[1])), 800);
  // The vote for epoch 5 reads epochs 3 and 4 only.
  assert.equal(book.scoresFor(5).get(hexOf(ids[1])), 1000);
  assert.deepEqual(book.held(), { 4: 3, 5: 3 });
  book.prune(7);
  assert.deepEqual(book.held(), {});
});

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-loop-reports-'));
  dirs.push(dir);
  return dir;
}

test('the reports survive a restart: on disk (mode 0600) before they are taken, read back and verified at start', () => {
  const dataDir = tempDir();
  const isAdmitted = (nodeId: Uint8Array): boolean => admitted.some((key) => sameBytes(key, nodeId));
  const book = new LoopReportBook(crypto, isAdmitted, new AuthorityStore(dataDir));
  assert.deepEqual(book.restore(5), []);
  book.receive(report(0, 4, 1, 0), 5);
  book.receive(report(0, 5, 10, 10), 5);
  book.receive(report(0, 5, 11, 20), 5);
  book.receive(report(1, 5, 3, 5), 5);
  for (const reporter of [3, 4]) {
    book.receive(report(reporter, 4, 1, 0), 5);
    book.receive(report(reporter, 5, 11, 20), 5);
  }
  const file = join(dataDir, 'loop-reports', '5', `${hexOf(ids[0])}.bin`);
  assert.equal(statSync(file).mode & 0o777, 0o600);

  const restarted = new LoopReportBook(crypto, isAdmitted, new AuthorityStore(dataDir));
  assert.deepEqual(restarted.restore(5), []);
  assert.deepEqual(restarted.held(), book.held());
  for (const epoch of [4, 5]) {
    for (const [reporter, held] of book.reportsOf(epoch)) assert.deepEqual(restarted.reportsOf(epoch).get(reporter), held);
  }
  for (const epoch of [5, 6, 7]) assert.deepEqual(restarted.scoresFor(epoch), book.scoresFor(epoch));
  assert.equal(restarted.scoresFor(6).get(hexOf(ids[1])), 800);
  // The serial still orders reports after the restart.
  assert.equal(restarted.receive(report(0, 5, 11, 0), 5), 'unchanged');

  // A changed file, one under another reporter's name, or a reporter no longer admitted is skipped.
  const bytes = readFileSync(file);
  writeFileSync(join(dataDir, 'loop-reports', '5', `${hexOf(ids[2])}.bin`), bytes);
  bytes[40] ^= 1;
  writeFileSync(file, bytes);
  const skipping = new LoopReportBook(crypto, (nodeId) => sameBytes(nodeId, ids[0]), new AuthorityStore(dataDir));
  const problems = skipping.restore(5);
  // Epoch 5: the changed file, the copy under reporter 2's name, reporters 1, 3 and 4; epoch 4: reporters 3 and 4.
  assert.equal(problems.length, 7, problems.join('\n'));
  assert.deepEqual(skipping.held(), { 4: 1 });
  // A restart two epochs on reads nothing older than the previous epoch.
  const later = new LoopReportBook(crypto, isAdmitted, new AuthorityStore(dataDir));
  later.restore(7);
  assert.deepEqual(later.held(), {});
});
