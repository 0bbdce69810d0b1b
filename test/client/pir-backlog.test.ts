/**
 * What counts as read of an epoch (PirBacklog.readWhole), the figure that lets catch-up move past a
 * history epoch. Two ways it lost or stalled mail before: a bucket whose last page was not full was
 * counted unread for ever (a sealed history epoch never finished, so catch-up stalled on it), and a
 * bucket of the epoch's pairs not picked in this poll (more buckets than the epoch's share of first
 * pages) was not counted at all (the epoch finished with that bucket never read).
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { bucketKey, PirBacklog } from '../../src/client/pir-backlog.js';
import type { OpenedRow } from '../../src/pir/snapshot.js';

const SLOTS = 4;
const EPOCH = 30;
const SNAPSHOT = 'aa';

function row(bucket: number, page: number, total: number): OpenedRow {
  const pages = Math.max(1, Math.ceil(total / SLOTS));
  const onPage = Math.max(0, Math.min(SLOTS, total - page * SLOTS));
  const items = Array.from({ length: onPage }, () => ({}) as OpenedRow['items'][number]);
  return { bucket, page, total, pages, extra: { start: 0, count: 0 } as unknown as OpenedRow['extra'], items };
}

function readBucket(backlog: PirBacklog, bucket: number, total: number, skip: ReadonlySet<number> = new Set()): string {
  const key = bucketKey(EPOCH, 64, bucket);
  backlog.sawFirstPage(key, EPOCH, row(bucket, 0, total), SNAPSHOT);
  for (const { page } of backlog.wanted(key)) if (!skip.has(page)) backlog.sawPage(key, row(bucket, page, total), SLOTS);
  return key;
}

test('a bucket whose last page is not full is read whole once that page was read', () => {
  const backlog = new PirBacklog();
  const key = readBucket(backlog, 3, SLOTS + 1);
  assert.equal(backlog.unread(SLOTS, EPOCH), 0);
  assert.equal(backlog.readWhole([key], SLOTS, SNAPSHOT), true);
});

test('a partial page read before the bucket grew counts only what it held then', () => {
  const backlog = new PirBacklog();
  const key = readBucket(backlog, 3, SLOTS + 1);
  backlog.sawFirstPage(key, EPOCH, row(3, 0, SLOTS + 3), SNAPSHOT);
  assert.equal(backlog.unread(SLOTS, EPOCH), 2);
  assert.equal(backlog.readWhole([key], SLOTS, SNAPSHOT), false);
  backlog.sawPage(key, row(3, 1, SLOTS + 3), SLOTS);
  assert.equal(backlog.readWhole([key], SLOTS, SNAPSHOT), true);
});

test('a bucket of the epoch not read yet keeps the epoch unfinished', () => {
  const backlog = new PirBacklog();
  const seen = readBucket(backlog, 1, 2);
  const notYet = bucketKey(EPOCH, 64, 2);
  assert.equal(backlog.readWhole([seen, notYet], SLOTS, SNAPSHOT), false);
  readBucket(backlog, 2, 0);
  assert.equal(backlog.readWhole([seen, notYet], SLOTS, SNAPSHOT), true);
});

test('a bucket read from an earlier snapshot of the epoch is read again before the epoch counts as read', () => {
  const backlog = new PirBacklog();
  const key = readBucket(backlog, 1, 1);
  assert.equal(backlog.readWhole([key], SLOTS, 'bb'), false);
  backlog.sawFirstPage(key, EPOCH, row(1, 0, 2), 'bb');
  assert.equal(backlog.readWhole([key], SLOTS, 'bb'), true);
});

test('a bucket of another snapshot shape (another bucket count) left unread does not hold the epoch back', () => {
  const backlog = new PirBacklog();
  const stale = bucketKey(EPOCH, 32, 5);
  backlog.sawFirstPage(stale, EPOCH, row(5, 0, 3 * SLOTS), 'old');
  const key = readBucket(backlog, 1, 2);
  assert.ok(backlog.unread(SLOTS, EPOCH) > 0, 'the stale bucket still counts in the figure of what is left');
  assert.equal(backlog.readWhole([key], SLOTS, SNAPSHOT), true, 'the buckets of the pairs in this snapshot decide');
});

test('property: an epoch is read whole exactly when every bucket and every page holding items was read', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ total: fc.nat(5 * SLOTS), skipPage: fc.option(fc.integer({ min: 1, max: 5 })) }), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat(5)),
      (buckets, unseenIndex) => {
        const backlog = new PirBacklog();
        const keys: string[] = [];
        let missing = false;
        buckets.forEach(({ total, skipPage }, b) => {
          if (unseenIndex === b) {
            keys.push(bucketKey(EPOCH, 64, b));
            missing = true;
            return;
          }
          const skip = new Set(skipPage === null ? [] : [skipPage]);
          keys.push(readBucket(backlog, b, total, skip));
          if (skipPage !== null && skipPage * SLOTS < total) missing = true;
        });
        assert.equal(backlog.readWhole(keys, SLOTS, SNAPSHOT), !missing);
      },
    ),
    { seed: 20261206, numRuns: 300 },
  );
});
