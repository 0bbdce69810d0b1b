import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { historyReadWhole } from '../../src/client/agent/poller.js';

const fetched = (extra: object) => ({ results: [], mismatches: [], more: 0, queries: 48, ...extra });

// A current epoch with pages left for later polls (a busy bucket: loops, ACKs, others' mail) held
// every history epoch back: catch-up stalled while the current epochs stayed busy (a network test
// on a loaded machine was still 30 epochs behind after 123 polls).
test('a history epoch read whole counts as read, whatever the poll\'s other epochs left for later', () => {
  assert.equal(historyReadWhole(fetched({ more: 12, deferred: 3, unfinished: [41] }), 30), true);
  assert.equal(historyReadWhole(fetched({ more: 12, unfinished: [30, 41] }), 30), false, 'pages of the history epoch left');
  assert.equal(historyReadWhole(fetched({ unfinished: [], skipped: [30] }), 30), false, 'its snapshot refused for now');
  assert.equal(historyReadWhole(fetched({ unfinished: [] }), 30), true);
});

test('without per-epoch figures (bucket and download retrieval) nothing may be left anywhere', () => {
  assert.equal(historyReadWhole(fetched({}), 30), true);
  assert.equal(historyReadWhole(fetched({ more: 1 }), 30), false);
  assert.equal(historyReadWhole(fetched({ deferred: 1 }), 30), false);
});
