import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { hexOf, sameBytes } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { HttpError } from '../../../src/node/authority/http-error.js';
import { LoopReportBook } from '../../../src/node/authority/loop-reports.js';
import { makeLoopReport } from '../../../src/pki/index.js';

/** The loop reports an authority takes (docs/network.md, "Loop reports"): who, which epochs, which serial. */
const crypto = getCrypto();
const seeds = [1, 2, 3].map((i) => new Uint8Array(32).fill(i));
const ids = seeds.map((seed) => crypto.ed25519PublicKey(seed));
const admitted = ids.slice(0, 2);

function report(reporter: number, epoch: number, serial: number, lostThrough: number): Uint8Array {
  const target = reporter === 0 ? 1 : 0;
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
  // Node 1 measured by node 0: every loop through it came back.
  assert.equal(book.scoresFor(6).get(hexOf(ids[1])), 1000);
  // A newer report for epoch 5 loses 20 of the 50 loops through node 1 (and nothing else); with
  // epoch 4's report (50 through, none lost) that is 20 of 100, against none of the other 100: 800.
  assert.equal(book.receive(report(0, 5, 11, 20), 5), 'new');
  assert.equal(book.scoresFor(6).get(hexOf(ids[1])), 800);
  // The vote for epoch 5 reads epochs 3 and 4 only.
  assert.equal(book.scoresFor(5).get(hexOf(ids[1])), 1000);
  assert.deepEqual(book.held(), { 4: 1, 5: 1 });
  book.prune(7);
  assert.deepEqual(book.held(), {});
});
