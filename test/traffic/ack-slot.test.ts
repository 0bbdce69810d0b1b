import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAfterItsEpoch, type ReplyTravel } from '../../src/traffic/reply-window.js';
import { simRandom } from '../../src/sim/random.js';

/**
 * Whether a first copy's ACK can leave in its SURB's epoch (docs/client.md, "Epochs"): a model of
 * `umbra up`'s epoch (8 s, 4 polls, 500 ms mean mix delays, 1 packet a second). A copy leaves at a
 * uniform moment, crosses three exponential delays and 50 ms of links, is read at the recipient's
 * next poll (plus 300 ms for the poll), and its ACK takes the next slot of a Poisson send stream.
 * A copy whose SURB is of its own epoch and whose ACK finds no slot before the epoch ends waits
 * about 40 s for a resend. The control is the rule before the slot was counted (travel only).
 */
const EPOCH_MS = 8000;
const POLLS = 4;
const travel: ReplyTravel = { meanDelayMs: 500, maxDelayMs: 10_000, mixLayers: 3, pollsPerEpoch: POLLS, sendRate: 1 };
const timing = { genesisMs: 0, epochMs: EPOCH_MS };

/** The share of copies whose ACK misses its own epoch's end, and the mean time until an ACK leaves. */
function play(late: (sentMs: number) => boolean): { missed: number; ackMs: number } {
  const random = simRandom(3);
  const exponential = (mean: number): number => -Math.log(1 - random.uniform()) * mean;
  const copies = 100_000;
  let missed = 0;
  let ackMs = 0;
  for (let i = 0; i < copies; i++) {
    const sent = random.uniform() * EPOCH_MS;
    const arrival = sent + exponential(500) + exponential(500) + exponential(500) + 50;
    const read = (Math.ceil(arrival / (EPOCH_MS / POLLS) - 0.5) + 0.5) * (EPOCH_MS / POLLS) + 300;
    const slot = read + exponential(1000 / travel.sendRate);
    if (late(sent)) ackMs += Math.max(slot, EPOCH_MS + exponential(1000 / travel.sendRate)) - sent;
    else if (slot > EPOCH_MS) missed++;
    else ackMs += slot - sent;
  }
  return { missed: missed / copies, ackMs: ackMs / (copies - missed) };
}

test('a first copy\'s SURB is of the next epoch when its ACK would find no slot before its own ends (seeded model of umbra up)', () => {
  const counted = play((sent) => readAfterItsEpoch(sent, timing, travel));
  const travelOnly = play((sent) => sent + 2 * 3 * travel.meanDelayMs >= ((POLLS - 0.5) * EPOCH_MS) / POLLS);
  console.log(`# ACKs missing their epoch: ${counted.missed} (travel only: ${travelOnly.missed}); mean until the ACK leaves ${Math.round(counted.ackMs)} ms (${Math.round(travelOnly.ackMs)})`);
  assert.ok(travelOnly.missed > 0.04, `the control misses too few: ${travelOnly.missed}`);
  assert.ok(counted.missed < 0.015, `${counted.missed} of copies wait for a resend`);
  // The price: more ACKs wait for the next epoch, under a second later on average; a resend costs about 40 s.
  assert.ok(counted.ackMs - travelOnly.ackMs < 1000);
});
