import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReplyQueue } from '../../src/client/agent/replies.js';
import type { GatewayConnections } from '../../src/client/agent/gateways.js';
import type { NetworkView } from '../../src/client/agent/network-view.js';

/**
 * A reply through a SURB whose epoch is already over is never queued and counts as read late, not
 * as expired (docs/client.md, "Epochs"): `repliesExpired` counts only replies that were queued in
 * their epoch and found no slot, the figure that says whether ACKs miss their slots.
 */
test('a copy read after its SURB\'s epoch counts as read late, and nothing is queued', () => {
  let now = 10_500;
  const view = { now: () => now, epochAt: (ms: number) => Math.floor(ms / 1000) } as unknown as NetworkView;
  const queue = new ReplyQueue(view, {} as GatewayConnections, (n) => new Uint8Array(n));
  queue.add(new Uint8Array(8), { messageId: new Uint8Array(16), kind: 'ack', missing: [] }, 9);
  queue.add(new Uint8Array(8), { messageId: new Uint8Array(16), kind: 'ack', missing: [] }, 3);
  assert.deepEqual({ readLate: queue.readLate, expired: queue.expired, queued: queue.length }, { readLate: 2, expired: 0, queued: 0 });
  now = 12_000;
  assert.equal(queue.next(now), undefined);
  assert.equal(queue.expired, 0);
});
