/**
 * Every PIR poll from epoch 2 on asks three pir-info (docs/client.md, "Catch-up"): the epochs its
 * pairs name, padded by paddingEpochs. A poll whose history epoch is the previous one names only two
 * (seen by test/long/delivery.test.ts on Bob's links: one poll in about twelve was a request short,
 * before, during and after a catch-up); the padding asks the epoch before, as a cover poll does.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { paddingEpochs, PIR_INFOS_PER_POLL } from '../../src/client/pir-retrieval.js';
import { historyEpoch, type CatchUpState } from '../../src/traffic/catch-up.js';
import { pollEpochs } from '../../src/traffic/poll-schedule.js';

test('paddingEpochs: the epochs below the oldest named, down to epoch 0, up to three in all', () => {
  assert.deepEqual(paddingEpochs([10, 9, 8]), []);
  assert.deepEqual(paddingEpochs([10, 9]), [8], 'history = the previous epoch: the cover epoch is asked too');
  assert.deepEqual(paddingEpochs([2, 1]), [0]);
  assert.deepEqual(paddingEpochs([1, 0]), [], 'nothing below epoch 0');
  assert.deepEqual(paddingEpochs([0]), []);
  assert.deepEqual(paddingEpochs([10, 9, 4]), [], 'a catch-up epoch makes the third');
});

test('every poll from epoch 2 on asks PIR_INFOS_PER_POLL pir-info, whatever its history epoch, none twice', () => {
  const retention = 50;
  for (let epoch = 0; epoch < 40; epoch++) {
    const states: (CatchUpState | undefined)[] = [undefined];
    for (let readThrough = -2; readThrough < epoch; readThrough++) states.push({ readThrough, lastPollEpoch: Math.max(0, epoch - 1) });
    for (const state of states) {
      const history = historyEpoch(epoch, state, retention);
      const named = [...new Set([...pollEpochs(epoch), ...(history === undefined ? [] : [history.epoch])])];
      const asked = [...named, ...paddingEpochs(named)];
      assert.equal(new Set(asked).size, asked.length, `epoch ${epoch}: no epoch asked twice`);
      assert.equal(asked.length, epoch >= 2 ? PIR_INFOS_PER_POLL : epoch + 1, `epoch ${epoch}, ${JSON.stringify(state)}: ${asked.join(' ')}`);
      assert.ok(asked.every((e) => e >= 0 && e <= epoch));
    }
  }
});
