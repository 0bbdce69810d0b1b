import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  backoffMs,
  copyDeadline,
  maxCopyIntervalMs,
  onDeadline,
  onRecipientServer,
  shardSent,
  windowEndMs,
  type ResendPolicy,
  type ResendState,
} from '../../src/traffic/resend.js';

/**
 * The delivery decisions of an outgoing message over the network's retention window
 * (docs/client.md, "Timeouts and the delivery window"; src/traffic/resend.ts): copies on a doubling,
 * capped backoff; a recipient's server missing from the consensus is waited for, and its return
 * resumes the message at once; the message fails only once the window is over (or, with maxResends
 * set, after that many resends).
 */
const SEED = 10;
const DAY = 86_400_000;

function fresh(total: number, windowStartMs: number): ResendState {
  return { pending: new Set(Array.from({ length: total }, (_, i) => i)), resends: 0, nackResends: 0, deadlineMs: undefined, started: false, windowStartMs, waitingSinceMs: undefined };
}

function policyOf(epochMs: number, windowMs: number, ackTimeoutMs: number, maxResends?: number): ResendPolicy {
  return { ackTimeoutMs, windowMs, maxIntervalMs: maxCopyIntervalMs(epochMs, windowMs, ackTimeoutMs), ...(maxResends === undefined ? {} : { maxResends }) };
}

/** Sends every pending shard at `now`. */
function sendAll(state: ResendState, now: number, policy: ResendPolicy): void {
  for (const shard of [...state.pending]) shardSent(state, shard, now, policy);
}

/**
 * Plays a message whose copies are never acknowledged: each copy leaves `sendDelayMs` after it is
 * due. Returns the times copies left and when (and why) the message failed.
 */
function playUnanswered(policy: ResendPolicy, start: number, sendDelayMs: number): { copies: number[]; failedAt: number; cause: string } {
  const state = fresh(3, start);
  const copies: number[] = [];
  let now = start;
  for (let guard = 0; guard < 1_000_000; guard++) {
    sendAll(state, now, policy);
    copies.push(now);
    now = state.deadlineMs!;
    const decision = onDeadline(state, now, 3, policy);
    assert.notEqual(decision.kind, 'wait', 'at its deadline a message is resent or fails');
    if (decision.kind === 'fail') return { copies, failedAt: now, cause: decision.cause };
    now += sendDelayMs;
  }
  throw new Error('never failed');
}

test('an unanswered message is resent on a doubling backoff capped by maxIntervalMs, and fails only once the window is over', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1000, max: 3_600_000 }), // epoch
      fc.integer({ min: 1, max: 30 }), // window in days
      fc.double({ min: 0.05, max: 6, noNaN: true }), // ACK timeout in epochs
      fc.integer({ min: 0, max: 2 ** 40 }), // start
      fc.integer({ min: 0, max: 60_000 }), // how late a copy leaves
      (epochMs, days, ackEpochs, start, sendDelayMs) => {
        const policy = policyOf(epochMs, days * DAY, Math.ceil(ackEpochs * epochMs));
        const { copies, failedAt, cause } = playUnanswered(policy, start, sendDelayMs);
        const end = windowEndMs({ windowStartMs: start }, policy);
        assert.equal(cause, 'window');
        assert.ok(failedAt >= end, 'never reported failed while a copy could still arrive');
        assert.ok(failedAt <= end + policy.ackTimeoutMs + sendDelayMs + policy.maxIntervalMs, 'failed soon after the window');
        for (let i = 1; i < copies.length; i++) {
          const gap = copies[i] - copies[i - 1];
          assert.ok(gap <= policy.maxIntervalMs + sendDelayMs, `copy ${i} came ${gap} ms after the one before: over the cap`);
          if (i >= 2 && copies[i] + sendDelayMs < end) assert.ok(gap >= copies[i - 1] - copies[i - 2] - sendDelayMs, 'the gaps never shrink before the end');
        }
        // The last copy left within one interval of the window's end: a recipient back at the end finds a recent copy.
        assert.ok(copies[copies.length - 1] >= end - policy.maxIntervalMs - policy.ackTimeoutMs - sendDelayMs);
      },
    ),
    { seed: SEED, numRuns: 100 },
  );
});

test('with the defaults (20-minute epochs, 7 days, 3-epoch timeout) copies go every 2 h 40 min at most: about 63 in the week', () => {
  const policy = policyOf(20 * 60_000, 7 * DAY, 3 * 20 * 60_000);
  assert.equal(policy.maxIntervalMs, 8 * 20 * 60_000);
  assert.deepEqual([0, 1, 2, 3].map((k) => backoffMs(k, policy) / 60_000), [0, 120, 160, 160]);
  const { copies, failedAt } = playUnanswered(policy, 0, 0);
  assert.ok(copies.length >= 60 && copies.length <= 66, `${copies.length} copies`);
  assert.equal(failedAt, 7 * DAY);
});

test('maxResends, when set, fails the message after that many resends, within the window', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 40 }), (maxResends, start) => {
      const policy = policyOf(60_000, 7 * DAY, 60_000, maxResends);
      const state = fresh(2, start);
      let now = start;
      for (let copy = 0; ; copy++) {
        sendAll(state, now, policy);
        now = state.deadlineMs!;
        const decision = onDeadline(state, now, 2, policy);
        if (decision.kind === 'fail') {
          assert.deepEqual(decision, { kind: 'fail', attempts: maxResends + 1, cause: now >= start + 7 * DAY ? 'window' : 'copies' });
          return;
        }
        assert.equal(decision.kind, 'resend');
        assert.ok(copy < maxResends);
      }
    }),
    { seed: SEED },
  );
});

test('a missing server is waited for: no shard is due while it is missing, its return resumes every pending shard at once', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }), // shards
      fc.integer({ min: 0, max: 12 }), // shards sent before the server went missing
      fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }), // the server present at each check
      fc.integer({ min: 1000, max: 3 * DAY }), // time between checks
      (total, sentBefore, presence, stepMs) => {
        const policy = policyOf(60_000, 7 * DAY, 180_000);
        const state = fresh(total, 0);
        for (let shard = 0; shard < Math.min(sentBefore, total); shard++) shardSent(state, shard, 0, policy);
        const pendingBefore = [...state.pending].sort((a, b) => a - b);
        let now = 0;
        let waiting = false;
        for (const present of presence) {
          now += stepMs;
          const decision = onRecipientServer(state, present, now, policy);
          if (decision.kind === 'fail') {
            assert.ok(!present && now >= 7 * DAY, 'fails only while missing, once the window is over');
            assert.equal(decision.cause, 'window');
            return;
          }
          if (present) {
            assert.deepEqual(decision, waiting ? { kind: 'resume', shards: pendingBefore } : { kind: 'none' });
            waiting = false;
          } else {
            assert.deepEqual(decision, waiting ? { kind: 'none' } : { kind: 'wait' });
            if (!waiting) assert.equal(state.waitingSinceMs, now);
            waiting = true;
          }
          assert.equal(state.waitingSinceMs !== undefined, waiting);
          assert.deepEqual([...state.pending].sort((a, b) => a - b), pendingBefore, 'waiting never drops a shard');
        }
      },
    ),
    { seed: SEED },
  );
});

test('the deadline of a copy is never before its ACK could come, nor after the window ends unless an ACK could still come', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 50 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 30 * DAY }),
      (resends, start, offset) => {
        const policy = policyOf(20 * 60_000, 7 * DAY, 3_600_000);
        const sent = start + offset;
        const deadline = copyDeadline({ resends, windowStartMs: start }, sent, policy);
        assert.ok(deadline >= sent + Math.min(policy.ackTimeoutMs, backoffMs(resends, policy)) || deadline >= sent + policy.ackTimeoutMs);
        assert.ok(deadline >= sent + policy.ackTimeoutMs);
        assert.ok(deadline <= Math.max(sent + policy.ackTimeoutMs, start + policy.windowMs));
      },
    ),
    { seed: SEED },
  );
});
