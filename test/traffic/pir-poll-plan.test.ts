/** planPirPoll (src/traffic/poll-schedule.ts): the fixed per-poll PIR query budget. */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseFirstPages, firstRoundQueries, planPirPoll } from '../../src/traffic/poll-schedule.js';

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

test('the first round has a fixed size, whatever the number of pairs; a group\'s first pages beyond its share are read in turn', () => {
  assert.equal(firstRoundQueries(32), 16);
  assert.equal(firstRoundQueries(7), 4);
  assert.equal(firstRoundQueries(1), 1);
  assert.throws(() => firstRoundQueries(0), RangeError);
  // Any number of first pages: the same share per group, the rest of it dummies.
  for (const count of [0, 1, 4, 12, 13, 40]) {
    const choices = chooseFirstPages(32, [{ count, urgent: [], cursor: 0 }, { count, urgent: [], cursor: 0 }]);
    assert.deepEqual(choices.map((c) => c.pick.length + c.dummies), [8, 8], `count ${count}`);
    assert.deepEqual(choices.map((c) => c.share), [8, 8]);
  }
  // 30 first pages, a share of 12: every one is read within 3 polls, each once before any twice.
  let cursor = 0;
  const reads = new Array<number>(30).fill(0);
  for (let poll = 0; poll < 5; poll++) {
    const [choice] = chooseFirstPages(24, [{ count: 30, urgent: [], cursor }]);
    assert.equal(choice.pick.length, 12);
    for (const i of choice.pick) reads[i]++;
    cursor = choice.cursor;
    if (poll === 2) assert.ok(reads.every((n) => n >= 1), 'all read within 3 polls');
  }
  assert.ok(Math.max(...reads) - Math.min(...reads) <= 1, `fair turns: ${reads.join(',')}`);
});

test('urgent first pages (buckets with unread pages) come first, at most half the share; the others keep turning', () => {
  const [choice] = chooseFirstPages(24, [{ count: 30, urgent: [7, 7, 29, 99], cursor: 0 }]);
  assert.deepEqual(choice.pick.slice(0, 2), [7, 29]);
  assert.equal(choice.pick.length, 12);
  assert.equal(new Set(choice.pick).size, 12);
  const many = chooseFirstPages(24, [{ count: 30, urgent: Array.from({ length: 20 }, (_, i) => i), cursor: 0 }])[0];
  assert.equal(many.pick.length, 12);
  assert.deepEqual(many.pick.slice(0, 6), [0, 1, 2, 3, 4, 5], 'urgent ones: half the share');
  assert.deepEqual(many.pick.slice(6), [6, 7, 8, 9, 10, 11], 'the other half goes on with the turn');
  assert.equal(many.cursor, 6);
  // When everything fits, all are read and the cursor stays.
  const fits = chooseFirstPages(24, [{ count: 5, urgent: [3], cursor: 4 }])[0];
  assert.deepEqual([...fits.pick], [0, 1, 2, 3, 4]);
  assert.equal(fits.cursor, 4);
});
