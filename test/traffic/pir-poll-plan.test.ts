/** planPirPoll (src/traffic/poll-schedule.ts): the fixed per-poll PIR query budget. */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { planPirPoll } from '../../src/traffic/poll-schedule.js';

test('every poll sends the budget: first pages, then each group\'s fixed share of backlog pages and dummies', () => {
  const idle = planPirPoll(8, [{ firstPages: 2, backlog: [] }, { firstPages: 2, backlog: [] }]);
  assert.deepEqual(idle.groups.map((g) => [g.firstPages, g.pages.length, g.dummies]), [[2, 0, 2], [2, 0, 2]]);
  assert.equal(idle.queries, 8);
  const busy = planPirPoll(8, [{ firstPages: 2, backlog: ['a', 'b', 'c'] }, { firstPages: 2, backlog: [] }]);
  assert.deepEqual(busy.groups.map((g) => [g.firstPages, [...g.pages], g.dummies]), [[2, ['a', 'b'], 0], [2, [], 2]]);
  assert.equal(busy.deferred, 1, 'the rest waits for the next poll');
  // The same counts per group, backlog or not: a backlog only replaces dummies.
  for (const plan of [idle, busy]) assert.deepEqual(plan.groups.map((g) => g.firstPages + g.pages.length + g.dummies), [4, 4]);
});

test('a backlog drains over later polls within the budget', () => {
  let backlog = Array.from({ length: 11 }, (_, i) => i);
  let polls = 0;
  while (backlog.length > 0) {
    const plan = planPirPoll(8, [{ firstPages: 1, backlog }]);
    assert.equal(plan.groups[0].firstPages + plan.groups[0].pages.length + plan.groups[0].dummies, 8);
    backlog = backlog.slice(plan.groups[0].pages.length);
    polls++;
  }
  assert.equal(polls, 2);
});

test('first pages beyond the budget wait; odd remainders go to the first groups; bad budgets are refused', () => {
  const tight = planPirPoll(3, [{ firstPages: 2, backlog: [] }, { firstPages: 2, backlog: [] }]);
  assert.deepEqual(tight.groups.map((g) => [g.firstPages, g.dummies]), [[2, 0], [1, 0]]);
  const odd = planPirPoll(7, [{ firstPages: 1, backlog: [] }, { firstPages: 1, backlog: [] }]);
  assert.deepEqual(odd.groups.map((g) => g.dummies), [3, 2]);
  assert.throws(() => planPirPoll(0, []), RangeError);
  assert.equal(planPirPoll(4, []).queries, 0);
});
