import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { afterPoll, historyEpoch, retentionEpochsOf, type CatchUpState } from '../../src/traffic/catch-up.js';

const SEED = 11;

test('catch-up: the history epoch is the oldest unread one within retention, else the cover epoch before the two polled', () => {
  assert.equal(historyEpoch(1, undefined, 100), undefined, 'nothing older than the two polled yet');
  assert.deepEqual(historyEpoch(10, undefined, 100), { epoch: 8, catchUp: false });
  assert.deepEqual(historyEpoch(10, { readThrough: 9, lastPollEpoch: 10 }, 100), { epoch: 8, catchUp: false }, 'caught up: cover');
  assert.deepEqual(historyEpoch(10, { readThrough: 8, lastPollEpoch: 10 }, 100), { epoch: 9, catchUp: true }, 'the previous epoch under the addresses of the one before');
  assert.deepEqual(historyEpoch(50, { readThrough: 8, lastPollEpoch: 10 }, 100), { epoch: 9, catchUp: true });
  assert.deepEqual(historyEpoch(500, { readThrough: 8, lastPollEpoch: 10 }, 100), { epoch: 400, catchUp: true }, 'not before retention');
  assert.deepEqual(historyEpoch(50, { readThrough: 48, lastPollEpoch: 10 }, 100), { epoch: 49, catchUp: true }, 'up to the previous epoch');
  assert.equal(retentionEpochsOf(7 * 24 * 3600_000, 20 * 60_000), 504);
});

/**
 * A client online or offline per epoch, polling 1–4 times in each online epoch, from genesis on
 * (its first poll may be in epoch 0 or 1), with one absence of up to 150 epochs (longer than
 * retention, often). A poll in epoch e reads e − 1 whole (sealed) and its history epoch whole. The
 * record never claims an epoch it did not read (from the first poll on, within retention), and
 * after enough online polls it is caught up.
 */
test('catch-up: the record is sound, and an agent back from any absence catches up', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 150 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 60 }),
      fc.integer({ min: 5, max: 60 }),
      fc.integer({ min: 0, max: 3 }),
      (before, away, after, retention, start) => {
        let state: CatchUpState | undefined;
        const read = new Set<number>();
        let first: number | undefined;
        let epoch = start;
        const pollIn = (e: number): void => {
          const history = historyEpoch(e, state, retention);
          read.add(e - 1);
          if (history !== undefined) read.add(history.epoch);
          first ??= e;
          state = afterPoll(state, e, history, true);
        };
        for (const polls of [...before, ...new Array<number>(away).fill(0), ...after]) {
          for (let i = 0; i < polls; i++) pollIn(epoch);
          epoch++;
        }
        // Online again, polling 3 times per epoch (each poll reads one history epoch: 2 more than time adds).
        for (let i = 0; i < retention + 2; i++) {
          for (let p = 0; p < 3; p++) pollIn(epoch);
          epoch++;
        }
        if (state === undefined || first === undefined) return false;
        const last = epoch - 1;
        for (let e = Math.max(first - 1, last - retention, 0); e <= state.readThrough; e++) if (!read.has(e)) return false;
        return state.readThrough >= last - 2;
      },
    ),
    { seed: SEED, numRuns: 300 },
  );
});

test('catch-up: a first poll in epoch 0, and an absence longer than retention, do not keep an agent behind for ever', () => {
  // First poll in epoch 0: nothing before genesis is owed.
  let state = afterPoll(undefined, 0, undefined, true);
  assert.deepEqual(historyEpoch(6, state, 100), { epoch: 0, catchUp: true });
  state = afterPoll(state, 6, historyEpoch(6, state, 100), true);
  assert.deepEqual(historyEpoch(6, state, 100), { epoch: 1, catchUp: true }, 'epoch 0 read: on to epoch 1');
  // Away 300 epochs with a retention of 100: the oldest readable epoch, then on.
  state = { readThrough: 10, lastPollEpoch: 12 };
  const history = historyEpoch(312, state, 100)!;
  assert.deepEqual(history, { epoch: 212, catchUp: true });
  assert.deepEqual(historyEpoch(312, afterPoll(state, 312, history, true), 100), { epoch: 213, catchUp: true });
});

test('catch-up: an incomplete history read is read again, and a gap is never skipped', () => {
  const state = { readThrough: 5, lastPollEpoch: 6 };
  const history = historyEpoch(30, state, 100)!;
  assert.deepEqual(history, { epoch: 6, catchUp: true });
  assert.deepEqual(afterPoll(state, 30, history, false), { readThrough: 5, lastPollEpoch: 30 }, 'overflow left for later: epoch 6 again');
  const next = afterPoll(state, 30, history, true);
  assert.deepEqual(next, { readThrough: 6, lastPollEpoch: 30 });
  assert.deepEqual(historyEpoch(30, next, 100), { epoch: 7, catchUp: true });
});
