import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { LoopTracker, type LoopRoute } from '../../src/client/agent/loops.js';
import type { ClientEvent } from '../../src/client/agent/types.js';
import type { Sphinx } from '../../src/sphinx/index.js';

/**
 * The client's loop deadlines and their attribution (docs/network.md, "Alerts"). The SURB payload
 * check is the Sphinx's; here every payload opens (the tracker's own rules are under test).
 */
const opens = { decryptSurbPayload: () => new Uint8Array(0) } as unknown as Sphinx;
const MIN_SLACK = 1000;

function route(epoch: number, mix: string, dueMs: number): LoopRoute {
  return { epoch, dueMs, hops: [{ node: 'gw', layer: 0 }, { node: mix, layer: 1 }, { node: 'm2', layer: 2 }, { node: 'm3', layer: 3 }, { node: 'pv', layer: 4 }] };
}

const id = (i: number): Uint8Array => Uint8Array.of(i >> 8, i & 255);

test('no loop is given up by deadline before 8 came back; then after max(min slack, 2 × the worst lag)', () => {
  const events: ClientEvent[] = [];
  const loops = new LoopTracker((e) => events.push(e));
  loops.left(id(0), 0, new Uint8Array(0), route(1, 'a', 100));
  loops.overdue(10_000, MIN_SLACK);
  assert.equal(loops.lost, 0, 'not calibrated: only expiry gives loops up');
  // Loop 1 is missed by a poll 3 s after it was due, then comes back: a lag of 3 s.
  loops.left(id(1), 0, new Uint8Array(0), route(1, 'a', 100));
  loops.overdue(3100, MIN_SLACK);
  loops.returnOf(id(1), new Uint8Array(0), 4000, opens);
  for (let i = 2; i < 9; i++) {
    loops.left(id(i), 0, new Uint8Array(0), route(1, 'b', 100));
    loops.returnOf(id(i), new Uint8Array(0), 200, opens);
  }
  assert.equal(loops.slackMs(MIN_SLACK), 6000);
  loops.overdue(6000, MIN_SLACK);
  assert.equal(loops.lost, 0, 'loop 0 is 5.9 s late: within 6 s');
  loops.overdue(6200, MIN_SLACK);
  assert.equal(loops.lost, 1);
  assert.equal(loops.returned, 8);
});

test('loops lost through one mix raise an alert naming it by its public name; its epoch and the next are on high alert', () => {
  const events: ClientEvent[] = [];
  const highs: boolean[] = [];
  const loops = new LoopTracker((e) => events.push(e), (high) => highs.push(high));
  // The agent's first loop is in epoch 6, which it saw only in part: judged from epoch 7 on.
  loops.left(id(99), 0, new Uint8Array(0), route(6, 'good', 100));
  let n = 0;
  for (let i = 0; i < 16; i++) {
    const mix = i % 2 === 0 ? 'good' : 'bad';
    loops.left(id(n), 0, new Uint8Array(0), route(7, mix, 100));
    if (mix === 'good') loops.returnOf(id(n), new Uint8Array(0), 200, opens);
    n++;
  }
  loops.overdue(10_000, MIN_SLACK);
  assert.equal(loops.lost, 9);
  const alerts = loops.judge(7, (key) => `name-of-${key}`);
  assert.equal(alerts.length, 1);
  const event = events.find((e): e is Extract<ClientEvent, { type: 'alert' }> => e.type === 'alert');
  assert.deepEqual(event?.suspects.filter((s) => s.scope === 'node').map((s) => s.node), ['name-of-bad']);
  assert.deepEqual(highs, [true]);
  assert.ok(loops.alerts.high(8) && !loops.alerts.high(9));
  assert.equal(loops.alarms, 1);
});

test("the loops of the agent's first epoch, which it saw only in part, are counted and not judged", () => {
  const events: ClientEvent[] = [];
  const loops = new LoopTracker((e) => events.push(e));
  // 8 loops back calibrate the deadline.
  for (let n = 100; n < 108; n++) {
    loops.left(id(n), 0, new Uint8Array(0), route(3, 'b', 100));
    loops.returnOf(id(n), new Uint8Array(0), 200, opens);
  }
  // As an n−1 attacker in a run's first epoch: 5 of 7 more loops lost, all through mix a (and the attacker).
  for (let n = 0; n < 7; n++) {
    loops.left(id(n), 0, new Uint8Array(0), route(3, n < 5 ? 'a' : 'b', 100));
    if (n >= 5) loops.returnOf(id(n), new Uint8Array(0), 200, opens);
  }
  loops.overdue(10_000, MIN_SLACK);
  assert.equal(loops.lost, 5);
  assert.deepEqual(loops.judge(3, (key) => key), []);
  assert.deepEqual(events.filter((e) => e.type === 'alert'), []);
  // The same in the next epoch is judged.
  for (let n = 10; n < 17; n++) {
    loops.left(id(n), 0, new Uint8Array(0), route(4, n < 15 ? 'a' : 'b', 100));
    if (n >= 15) loops.returnOf(id(n), new Uint8Array(0), 200, opens);
  }
  loops.overdue(20_000, MIN_SLACK);
  assert.equal(loops.judge(4, (key) => key).length, 1);
});
