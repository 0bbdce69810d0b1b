import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fc from 'fast-check';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { PoissonStreams, type TrafficEvent } from '../../src/traffic/poisson.js';

/**
 * Missed Poisson slots are dropped, never caught up (src/traffic/poisson.ts, takeDue): whatever the
 * times at which a shell gets to check (a stalled event loop checks late), one check yields at most
 * one event per stream that is later than the grace (at grace 0, at most one event per stream),
 * every event it yields was due, each stream's events stay in time order, and a shell that checks
 * before every slot, or late by less than the grace, gets exactly the events take() would give.
 *
 * Planted-leak control: the catch-up rule of the old shell (take() while the next event is due) is
 * run on the same stalls and must yield more than one event of a stream in one check.
 */
const crypto = getCrypto('sodium');

/** Check times: a start, then increasing gaps, some of them long stalls. */
const checkGaps = fc.array(fc.oneof(fc.double({ min: 0, max: 50, noNaN: true }), fc.double({ min: 50, max: 5000, noNaN: true })), { minLength: 1, maxLength: 200 });
const rates = fc.record({ sendPerSecond: fc.double({ min: 0.5, max: 200, noNaN: true }), loopPerSecond: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 50, noNaN: true })) });

function catchUp(streams: PoissonStreams, now: number): TrafficEvent[] {
  const events: TrafficEvent[] = [];
  while (streams.peek().at <= now) events.push(streams.take());
  return events;
}

test('one due check yields at most one event per stream, each due, in time order per stream', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 << 30 }), rates, checkGaps, (seed, r, gaps) => {
      const streams = new PoissonStreams(seededRandom(crypto, seed), r, 0);
      const last = { send: -Infinity, loop: -Infinity };
      let now = 0;
      for (const gap of gaps) {
        now += gap;
        const { events, skipped } = streams.takeDue(now);
        assert.ok(skipped >= 0 && Number.isInteger(skipped));
        const kinds = events.map((event) => event.kind);
        assert.equal(new Set(kinds).size, kinds.length, 'two events of one stream in one check');
        for (const event of events) {
          assert.ok(event.at <= now, 'an event that was not due');
          assert.ok(event.at > last[event.kind], 'a stream went back in time');
          last[event.kind] = event.at;
        }
        // Nothing due is left behind: the next check starts from slots after now.
        assert.ok(streams.peek().at > now, 'an overdue slot was kept for later (a catch-up)');
      }
    }),
    { numRuns: 300, seed: 9 },
  );
});

test('a shell that checks at every slot gets exactly the events of take(): nothing is dropped without a stall', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 << 30 }), rates, fc.integer({ min: 1, max: 300 }), (seed, r, count) => {
      const reference = new PoissonStreams(seededRandom(crypto, seed), r, 0);
      const checked = new PoissonStreams(seededRandom(crypto, seed), r, 0);
      for (let i = 0; i < count; i++) {
        const expected = reference.take();
        const { events, skipped } = checked.takeDue(checked.peek().at);
        assert.equal(skipped, 0);
        assert.deepEqual(events, [expected]);
      }
    }),
    { numRuns: 200, seed: 10 },
  );
});

test('a stalled shell sends at most one late slot per stall and drops the rest: free time runs at the full rate', () => {
  const streams = new PoissonStreams(seededRandom(crypto, 11), { sendPerSecond: 50, loopPerSecond: 0 }, 0);
  // A 400 ms stall every second (a shell busy building a big mail), checks at every slot otherwise.
  let now = 0;
  let sent = 0;
  let skipped = 0;
  const hour = 3_600_000;
  while (now < hour) {
    const next = streams.peek().at;
    now = next % 1000 < 400 ? next - (next % 1000) + 400 : next;
    const due = streams.takeDue(now);
    assert.ok(due.events.length <= 1);
    sent += due.events.length;
    skipped += due.skipped;
  }
  // 60 % of the time is free: 50/s there (30/s overall), plus at most one late slot per stall.
  const perSecond = sent / 3600;
  assert.ok(perSecond > 29 && perSecond < 32, `rate ${perSecond}`);
  assert.ok(skipped > 3600 * 10, `skipped ${skipped}`);
});

test('with a grace: at most one event per stream older than the grace, every event due, in order, nothing overdue left', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 << 30 }), rates, checkGaps, fc.double({ min: 0, max: 100, noNaN: true }), (seed, r, gaps, graceMs) => {
      const streams = new PoissonStreams(seededRandom(crypto, seed), r, 0);
      const last = { send: -Infinity, loop: -Infinity };
      let now = 0;
      for (const gap of gaps) {
        now += gap;
        const { events, skipped } = streams.takeDue(now, graceMs);
        assert.ok(skipped >= 0 && Number.isInteger(skipped));
        for (const kind of ['send', 'loop'] as const) {
          const old = events.filter((event) => event.kind === kind && event.at < now - graceMs);
          assert.ok(old.length <= 1, `${old.length} ${kind} events older than the grace in one check`);
        }
        for (const event of events) {
          assert.ok(event.at <= now, 'an event that was not due');
          assert.ok(event.at > last[event.kind], 'a stream went back in time');
          last[event.kind] = event.at;
        }
        assert.ok(streams.peek().at > now, 'an overdue slot was kept for later (a catch-up)');
      }
    }),
    { numRuns: 300, seed: 13 },
  );
});

test('a shell whose checks are late by less than the grace loses nothing: exactly the events of take()', () => {
  const graceMs = 25;
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 1 << 30 }), rates, fc.array(fc.double({ min: 0, max: graceMs - 0.001, noNaN: true }), { minLength: 1, maxLength: 300 }), (seed, r, lateness) => {
      // Both streams: nothing is dropped. One stream: exactly take()'s events (with two, one check
      // draws the streams' next slots in another order than take() does, so the values differ).
      const both = new PoissonStreams(seededRandom(crypto, seed), r, 0);
      for (const late of lateness) assert.equal(both.takeDue(both.peek().at + late, graceMs).skipped, 0);
      const one = { sendPerSecond: r.sendPerSecond, loopPerSecond: 0 };
      const reference = new PoissonStreams(seededRandom(crypto, seed), one, 0);
      const checked = new PoissonStreams(seededRandom(crypto, seed), one, 0);
      const expected: TrafficEvent[] = [];
      const got: TrafficEvent[] = [];
      for (const late of lateness) {
        const { events, skipped } = checked.takeDue(checked.peek().at + late, graceMs);
        assert.equal(skipped, 0);
        got.push(...events);
      }
      while (expected.length < got.length) expected.push(reference.take());
      assert.deepEqual(got, expected);
    }),
    { numRuns: 200, seed: 14 },
  );
});

test('control: at grace 0 the same late checks drop slots (the rate dips with the machine\'s load)', () => {
  const streams = new PoissonStreams(seededRandom(crypto, 15), { sendPerSecond: 50, loopPerSecond: 5 }, 0);
  const random = seededRandom(crypto, 16);
  let skipped = 0;
  let sent = 0;
  for (let i = 0; i < 10_000; i++) {
    const late = (random(1)[0] / 256) * 15; // 0–15 ms late, as a busy machine's timers
    const due = streams.takeDue(streams.peek().at + late);
    skipped += due.skipped;
    sent += due.events.length;
  }
  assert.ok(skipped > sent * 0.1, `only ${skipped} slots dropped of ${sent + skipped}`);
});

test('planted leak: the old catch-up rule sends the missed slots of one stream back to back', () => {
  const caught = new PoissonStreams(seededRandom(crypto, 12), { sendPerSecond: 50, loopPerSecond: 5 }, 0);
  const dropped = new PoissonStreams(seededRandom(crypto, 12), { sendPerSecond: 50, loopPerSecond: 5 }, 0);
  const burst = catchUp(caught, 400).filter((event) => event.kind === 'send').length;
  assert.ok(burst >= 5, `a 400 ms stall at 50/s leaves about 20 slots to catch up, got ${burst}`);
  assert.ok(dropped.takeDue(400).events.filter((event) => event.kind === 'send').length <= 1);
});
