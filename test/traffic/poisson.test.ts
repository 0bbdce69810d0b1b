import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { fillSlot, PoissonStreams } from '../../src/traffic/poisson.js';

const crypto = getCrypto('sodium');

test('the send and loop streams run at their rates, interleaved in time order', () => {
  const streams = new PoissonStreams(seededRandom(crypto, 5), { sendPerSecond: 20, loopPerSecond: 5 }, 0);
  const hours = 1;
  let send = 0;
  let loop = 0;
  let last = 0;
  for (;;) {
    const event = streams.take();
    if (event.at > hours * 3_600_000) break;
    assert.ok(event.at >= last);
    last = event.at;
    if (event.kind === 'send') send++;
    else loop++;
  }
  assert.ok(Math.abs(send / 3600 - 20) < 0.5, `send rate ${send / 3600}`);
  assert.ok(Math.abs(loop / 3600 - 5) < 0.2, `loop rate ${loop / 3600}`);
});

test('a zero rate turns a stream off', () => {
  const streams = new PoissonStreams(seededRandom(crypto, 6), { sendPerSecond: 0, loopPerSecond: 0 }, 0);
  assert.equal(streams.peek().at, Infinity);
});

test('a send slot carries queued real packets first, else cover: the slot rate never changes', () => {
  const queue = ['m1', 'm2'];
  const slots = Array.from({ length: 4 }, () => fillSlot(queue, () => 'cover'));
  assert.deepEqual(slots.map((s) => s.packet), ['m1', 'm2', 'cover', 'cover']);
  assert.deepEqual(slots.map((s) => s.real), [true, true, false, false]);
});
