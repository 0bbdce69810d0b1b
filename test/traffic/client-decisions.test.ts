import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PartialMessages, MAX_NACKS_PER_MESSAGE, NACK_AFTER_POLLS } from '../../src/traffic/nack-policy.js';
import { nextPollAt, pollEpochs, pollFetches } from '../../src/traffic/poll-schedule.js';
import { ackDeadline, onDeadline, onNack, requeueShards, shardSent, type ResendState } from '../../src/traffic/resend.js';
import { readAfterItsEpoch, replyEpoch, replyExpired, replyWindowEndMs, resendMomentMs, surbKept, surbUsable } from '../../src/traffic/reply-window.js';

const SEED = 8;
const policy = { maxResends: 2, ackTimeoutMs: 1000, windowMs: 1e12, maxIntervalMs: 8000 };

function fresh(total: number): ResendState {
  return { pending: new Set(Array.from({ length: total }, (_, i) => i)), resends: 0, nackResends: 0, deadlineMs: undefined, started: false, windowStartMs: 0, waitingSinceMs: undefined };
}

test('resend: the deadline is set when the last shard of an attempt leaves, and only then', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 1e9 }), (total, now) => {
      const state = fresh(total);
      for (let shard = 0; shard < total; shard++) {
        assert.equal(shardSent(state, shard, now + shard, policy), shard === 0);
        assert.equal(state.deadlineMs, shard === total - 1 ? now + shard + policy.ackTimeoutMs : undefined);
      }
    }),
    { seed: SEED },
  );
});

test('resend: a timeout sends the whole message again until maxResends, then the message fails', () => {
  const state = fresh(3);
  for (const shard of [0, 1, 2]) shardSent(state, shard, 0, policy);
  assert.deepEqual(onDeadline(state, 999, 3, policy), { kind: 'wait' });
  for (let copy = 1; copy <= policy.maxResends; copy++) {
    const decision = onDeadline(state, state.deadlineMs!, 3, policy);
    assert.deepEqual(decision, { kind: 'resend', shards: [0, 1, 2] });
    assert.equal(state.deadlineMs, undefined);
    for (const shard of [0, 1, 2]) shardSent(state, shard, copy * 10_000, policy);
  }
  assert.deepEqual(onDeadline(state, state.deadlineMs!, 3, policy), { kind: 'fail', attempts: policy.maxResends + 1, cause: 'copies' });
});

test('resend: a NACK queues only missing data shards not already pending, within its budget', () => {
  const state = fresh(6);
  for (let shard = 0; shard < 6; shard++) shardSent(state, shard, 0, policy);
  assert.deepEqual(onNack(state, [1, 4, 5], 4, policy), [1]);
  assert.deepEqual(requeueShards(state, [1, 2]), [2]);
  const budget = 2 * (policy.maxResends + 1);
  for (let i = state.nackResends; i < budget; i++) assert.notEqual(onNack(state, [0], 4, policy), undefined);
  assert.equal(onNack(state, [0], 4, policy), undefined);
  assert.equal(onNack(fresh(2), [7], 4, policy), undefined);
});

test('poll schedule: polls sit at (i + 1/2) of each step and are always in the future', () => {
  const timing = { genesisMs: 1_000, epochMs: 8_000 };
  fc.assert(
    fc.property(fc.integer({ min: 1_000, max: 1e9 }), fc.integer({ min: 1, max: 16 }), (now, k) => {
      const epoch = Math.floor((now - timing.genesisMs) / timing.epochMs);
      const at = nextPollAt(now, epoch, timing, k);
      const step = timing.epochMs / k;
      assert.ok(at > now && at <= now + step + 1, `${at} after ${now}`);
      const offset = (at - timing.genesisMs) % step;
      assert.ok(Math.abs(offset - step / 2) <= 1, `offset ${offset} of ${step}`);
    }),
    { seed: SEED },
  );
  assert.equal(nextPollAt(0, 0, timing, 4), 2_000); // before genesis: the first poll of epoch 0
});

test('poll schedule: every poll makes the same fetches', () => {
  assert.deepEqual(pollEpochs(0), [0]);
  assert.deepEqual(pollEpochs(5), [5, 4]);
  assert.deepEqual(pollFetches([5, 4], (e) => `a${e}`), [[5, 'a5'], [5, 'a4'], [4, 'a5'], [4, 'a4']]);
});

test('NACK policy: a stalled partial message is NACKed after NACK_AFTER_POLLS polls, at most MAX_NACKS times', () => {
  const partial = new PartialMessages<string>();
  const id = new Uint8Array([1]);
  partial.saw('m', id, 'surb-a', 10, 1, true);
  partial.saw('m', id, 'surb-b', 10, 1, true);
  const nack = () => 'nack';
  assert.deepEqual(partial.due(1 + NACK_AFTER_POLLS - 1, 10, nack), []);
  assert.deepEqual(partial.due(1 + NACK_AFTER_POLLS, 10, nack), [{ surb: 'surb-b', epoch: 10, nack: 'nack' }]);
  let poll = 1 + NACK_AFTER_POLLS;
  for (let i = 1; i < MAX_NACKS_PER_MESSAGE; i++) {
    partial.saw('m', id, `surb-${i}`, 10, poll, false);
    poll += NACK_AFTER_POLLS;
    assert.equal(partial.due(poll, 10, nack).length, 1);
  }
  partial.saw('m', id, 'surb-last', 10, poll, false);
  assert.deepEqual(partial.due(poll + 10 * NACK_AFTER_POLLS, 10, nack), []);
});

test('NACK policy: SURBs of an earlier epoch are dropped (a reply leaves in its SURB\'s epoch only); nothing missing means no NACK', () => {
  const partial = new PartialMessages<string>();
  partial.saw('old', new Uint8Array([1]), 's', 3, 0, true);
  partial.saw('previous', new Uint8Array([3]), 's', 4, 0, true);
  assert.deepEqual(partial.due(10, 5, () => 'nack'), []);
  partial.saw('done', new Uint8Array([2]), 's', 5, 0, true);
  assert.deepEqual(partial.due(10, 5, () => undefined), []);
});

test('reply window: a reply leaves only in its SURB\'s epoch; the sender stops waiting once none can still arrive', () => {
  assert.equal(surbUsable(7, 7), true);
  assert.equal(surbUsable(6, 7), false);
  assert.equal(replyExpired(6, 7), true);
  assert.equal(replyExpired(7, 7), false);
  const timing = { genesisMs: 0, epochMs: 60_000 };
  const travel = { maxDelayMs: 1000, meanDelayMs: 200, mixLayers: 3, pollsPerEpoch: 4, sendRate: 2 };
  // Sent 10 s into epoch 2: the reply may leave until 180 s, cross 3 mixes (3 s at most) and be read
  // within two poll intervals (30 s).
  assert.equal(replyWindowEndMs(130_000, timing, travel), 180_000 + 3000 + 30_000);
  const policy = { maxResends: 2, ackTimeoutMs: 120_000, replyWindowEndMs: (sentMs: number) => replyWindowEndMs(sentMs, timing, travel) };
  assert.equal(ackDeadline(130_000, policy), 213_000, 'the window ends before the timeout: resent then');
  assert.equal(ackDeadline(130_000, { ...policy, ackTimeoutMs: 10_000 }), 140_000, 'a shorter timeout still counts');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e9 }), (sentMs) => {
      const end = replyWindowEndMs(sentMs, timing, travel);
      // A reply through a SURB of sentMs's epoch may leave until that epoch ends: the window covers it.
      return end >= Math.floor(sentMs / timing.epochMs + 1) * timing.epochMs + 3000 && ackDeadline(sentMs, policy) <= sentMs + policy.ackTimeoutMs;
    }),
    { seed: SEED },
  );
});

test('reply epoch: a resend\'s SURBs are of the next epoch, so its recipient has the rest of this epoch and all of the next to read it', () => {
  assert.equal(replyEpoch(5, 0), 5, 'the first copy: this epoch (its ACK comes back soonest)');
  assert.equal(replyEpoch(5, 1), 6);
  assert.equal(replyEpoch(5, 7), 6);
  assert.equal(surbKept(6, 5), true, 'a reply through a next-epoch SURB waits for it');
  assert.equal(surbUsable(6, 5), false, '... and does not leave before');
  assert.equal(surbKept(5, 5), true);
  assert.equal(surbKept(4, 5), false);
  assert.equal(surbKept(7, 5), false, 'no sender makes SURBs two epochs ahead');
  const timing = { genesisMs: 0, epochMs: 8000 };
  const travel = { maxDelayMs: 1000, meanDelayMs: 200, mixLayers: 3, pollsPerEpoch: 4, sendRate: 2 };
  // Sent 1 s into epoch 3: a first copy's reply must leave by 32 s, a resend's by 40 s.
  assert.equal(replyWindowEndMs(25_000, timing, travel, 0), 32_000 + 3000 + 4000);
  assert.equal(replyWindowEndMs(25_000, timing, travel, 2), 40_000 + 3000 + 4000);
  // Sent 6 s into epoch 3: with twice the mixes' mean delays (1.2 s) it reaches the mailbox after
  // the last poll of the epoch (7 s), so even the first copy's SURBs are of the next epoch, and its
  // reply may leave until 40 s.
  assert.equal(readAfterItsEpoch(30_000, timing, travel), true);
  // Sent 4 s in: read at the last poll (7 s), but its ACK would have 1 s to find a slot of a send
  // stream of 2 a second, which the rule asks 1.5 s for (3 mean gaps): next epoch's SURBs too.
  assert.equal(readAfterItsEpoch(28_000, timing, travel), true);
  assert.equal(readAfterItsEpoch(28_000, timing, { ...travel, sendRate: 4 }), false, 'with 0.75 s asked for, the 1 s left is enough');
  // Sent 2 s in: read at the 5 s poll, 3 s before the epoch ends.
  assert.equal(readAfterItsEpoch(26_000, timing, travel), false);
  assert.equal(replyEpoch(3, 0, true), 4);
  // Before genesis (a test network's clock before its first epoch) nothing is late, and nothing throws.
  const later = { genesisMs: 100_000, epochMs: 8000 };
  assert.equal(readAfterItsEpoch(99_000, later, travel), false);
  assert.equal(replyWindowEndMs(99_000, later, travel, 0), 100_000 + 3000 + 4000);
  assert.equal(replyWindowEndMs(30_000, timing, travel, 0), 40_000 + 3000 + 4000);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 2000 }), (sentMs, polls, mean) => {
      const t = { ...travel, pollsPerEpoch: polls, meanDelayMs: mean };
      const epoch = Math.floor(sentMs / timing.epochMs);
      const end = (epoch + 1) * timing.epochMs;
      const polled = Array.from({ length: polls }, (_, i) => epoch * timing.epochMs + ((i + 0.5) * timing.epochMs) / polls);
      // In time exactly when some poll of the epoch comes after the copy reaches the mailbox (twice
      // the mean delays) and leaves its ACK three mean gaps of the send stream before the epoch ends.
      const inTime = polled.some((at) => at >= sentMs + 2 * 3 * mean && at + 3000 / t.sendRate <= end);
      return readAfterItsEpoch(sentMs, timing, t) === !inTime;
    }),
    { seed: SEED },
  );
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 50 }), (sentMs, resends) => {
      // A resend's recipient always has at least one whole epoch after the copy left.
      return replyWindowEndMs(sentMs, timing, travel, resends) >= sentMs + timing.epochMs + 3000;
    }),
    { seed: SEED },
  );
});

test('resend moment: a resend due in an epoch\'s second half waits for the next epoch\'s start, one in the first half leaves at once', () => {
  const timing = { genesisMs: 1000, epochMs: 8000 };
  assert.equal(resendMomentMs(1000 + 8000 * 3 + 1000, timing), 1000 + 8000 * 3 + 1000, 'early in epoch 3: at once');
  assert.equal(resendMomentMs(1000 + 8000 * 3 + 7000, timing), 1000 + 8000 * 4, 'late in epoch 3: at the start of epoch 4');
  const travel = { maxDelayMs: 1000, meanDelayMs: 200, mixLayers: 3, pollsPerEpoch: 4, sendRate: 2 };
  const policy = { maxResends: 2, ackTimeoutMs: 60_000, replyWindowEndMs: (sentMs: number) => replyWindowEndMs(sentMs, timing, travel), resendMomentMs: (due: number) => resendMomentMs(due, timing) };
  fc.assert(
    fc.property(fc.integer({ min: 1000, max: 1e9 }), (sentMs) => {
      const deadline = ackDeadline(sentMs, policy);
      const offset = (deadline - timing.genesisMs) % timing.epochMs;
      const plain = Math.min(sentMs + policy.ackTimeoutMs, replyWindowEndMs(sentMs, timing, travel));
      // Never earlier than the reply window allows, at most until the next epoch starts, always in a first half.
      return deadline >= plain && deadline - plain <= timing.epochMs / 2 && offset < timing.epochMs / 2;
    }),
    { seed: SEED },
  );
});
