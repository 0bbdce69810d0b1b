import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LoopLedger } from '../../src/traffic/loop-ledger.js';

/** A mix's loops and their fates (docs/network.md, "Mix loops"). */

test('each loop counts once, returned or lost, for its epoch and every node it crossed', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ epoch: fc.integer({ min: 0, max: 3 }), nodes: fc.subarray(['a', 'b', 'c', 'd'], { minLength: 1 }), back: fc.boolean(), deadline: fc.integer({ min: 0, max: 100 }) }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 120 }),
      (loops, now) => {
        const told: { epoch: number; nodes: readonly string[]; lost: boolean }[] = [];
        const ledger = new LoopLedger((epoch, nodes, lost) => told.push({ epoch, nodes, lost }));
        loops.forEach((loop, i) => ledger.left(`loop-${i}`, loop.epoch, loop.nodes, loop.deadline));
        loops.forEach((loop, i) => {
          if (loop.back) assert.equal(ledger.returned(`loop-${i}`), true);
        });
        // A second return of the same loop, or an unknown ID, counts for nothing.
        assert.equal(ledger.returned('unknown'), false);
        loops.forEach((loop, i) => {
          if (loop.back) assert.equal(ledger.returned(`loop-${i}`), false);
        });
        ledger.expire(now);
        for (let epoch = 0; epoch <= 3; epoch++) {
          // Counted once the deadline has passed, returned or not.
          const mine = loops.filter((loop) => loop.epoch === epoch && loop.deadline < now);
          const fates = ledger.fatesOf(epoch);
          assert.equal(fates?.total.sent ?? 0, mine.length);
          assert.equal(fates?.total.lost ?? 0, mine.filter((loop) => !loop.back).length);
          for (const node of ['a', 'b', 'c', 'd']) {
            const through = mine.filter((loop) => loop.nodes.includes(node));
            assert.equal(fates?.nodes.get(node)?.sent ?? 0, through.length);
            assert.equal(fates?.nodes.get(node)?.lost ?? 0, through.filter((loop) => !loop.back).length);
          }
        }
        assert.equal(ledger.outstandingCount, loops.filter((loop) => !loop.back && loop.deadline >= now).length);
        // onFate was told exactly the fates counted, each once (the mix's high alert judges those).
        const key = (f: { epoch: number; nodes: readonly string[]; lost: boolean }): string => JSON.stringify([f.epoch, f.nodes, f.lost]);
        const counted = loops.filter((loop) => loop.deadline < now).map((loop) => key({ epoch: loop.epoch, nodes: loop.nodes, lost: !loop.back }));
        assert.deepEqual(told.map(key).sort(), counted.sort());
      },
    ),
    { numRuns: 200 },
  );
});
