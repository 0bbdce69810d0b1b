/**
 * A mix's unwrap workers (src/node/mix/unwrap-pool.ts): the same results and the same drops as
 * unwrapping on the main thread, replays caught by the one filter the main thread holds, a bounded
 * queue that asks for backpressure, and a clean shutdown.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { hexOf } from '../../../src/codec/bytes.js';
import { getCrypto, seededRandom } from '../../../src/crypto/index.js';
import { UnwrapPool, type UnwrapPoolOptions } from '../../../src/node/mix/unwrap-pool.js';
import { NodeMetrics, settleOutcome, type EpochKey, type UnwrapOutcome } from '../../../src/node/runtime/index.js';
import { NetMetrics } from '../../../src/net/metrics.js';
import {
  DEFAULT_GEOMETRY,
  makeSuite,
  MemoryReplayFilter,
  Sphinx,
  SphinxError,
  type PathHop,
  type UnwrapResult,
} from '../../../src/sphinx/index.js';

const crypto = getCrypto('sodium');
const SUITE = 'umbra-v1';
const sphinx = new Sphinx(makeSuite(SUITE, crypto), DEFAULT_GEOMETRY);
const g = sphinx.geometry;
const random = seededRandom(crypto, 42);
const current = random(32);
const previous = random(32);
const other = random(32);

function hop(secret: Uint8Array, commands: PathHop['commands']): PathHop {
  return { id: random(32), publicKey: crypto.x25519Base(secret), commands };
}

/** Packets of every kind a mix meets, with duplicates: forward, deliver, SURB reply, wrong key, damaged. */
function packets(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const next = hop(other, [{ type: 'recipient', recipient: random(32) }]);
  const surb = () => random(g.surbLength);
  for (let i = 0; i < 24; i++) {
    const key = i % 3 === 0 ? previous : current;
    out.push(sphinx.newPacket([hop(key, [{ type: 'delay', delayMs: i }]), next], random(100), random, surb()));
  }
  const deliverPacket = () => sphinx.newPacket([hop(current, [{ type: 'recipient', recipient: random(32) }])], random(10), random, surb());
  const deliver = deliverPacket();
  const replyPath = [hop(current, [{ type: 'recipient', recipient: random(32) }, { type: 'surb-reply', surbId: random(16) }])];
  const reply = sphinx.newPacketFromSurb(sphinx.newSurb(replyPath, random).surb, random(20)).packet;
  const foreign = sphinx.newPacket([hop(other, [{ type: 'delay', delayMs: 0 }]), next], random(10), random, surb());
  const badMac = out[1].slice();
  badMac[g.additionalDataLength + 40] ^= 1;
  const badPayload = deliverPacket(); // its own header: the same header as `deliver` would be a replay of it
  badPayload[g.headerLength + 5] ^= 1;
  const badVersion = out[2].slice();
  badVersion[0] ^= 0xff;
  const lowOrder = out[4].slice();
  lowOrder.fill(0, g.additionalDataLength, g.additionalDataLength + 32);
  out.push(deliver, reply, foreign, badMac, badPayload, badVersion, lowOrder);
  // Replays: of a forward packet, of one under the previous key, and of the damaged deliver packet
  // (its MAC verifies, so its tag counts although it failed later).
  out.push(out[5], out[0], badPayload, out[5]);
  return out;
}

function keys(): EpochKey[] {
  return [
    { epoch: 2, secret: current, publicKey: crypto.x25519Base(current), filter: new MemoryReplayFilter() },
    { epoch: 1, secret: previous, publicKey: crypto.x25519Base(previous), filter: new MemoryReplayFilter() },
  ];
}

/** What the main thread ends with: each result's bytes, and the drops by reason (sorted: workers answer in any order). */
interface Settled {
  results: string[];
  drops: Record<string, number>;
  previousKey: number;
}

function settler(): { metrics: NodeMetrics; settled: Settled; take: (result: UnwrapResult | undefined) => void } {
  const settled: Settled = { results: [], drops: {}, previousKey: 0 };
  const metrics = new NodeMetrics(new NetMetrics(), (name, labels, by) => {
    if (name === 'node_packets_dropped_total') settled.drops[labels.reason] = (settled.drops[labels.reason] ?? 0) + by;
    if (name === 'node_unwrap_previous_key_total') settled.previousKey += by;
  });
  const take = (result: UnwrapResult | undefined): void => {
    if (result === undefined) return;
    const bytes = result.kind === 'forward' ? result.packet : result.payload;
    settled.results.push(`${result.kind}:${hexOf(result.replayTag)}:${hexOf(bytes)}`);
  };
  return { metrics, settled, take };
}

/** Unwrapping as the mix always did: Sphinx.unwrap with each key's own filter, in order. */
function inline(all: readonly Uint8Array[]): Settled {
  const { metrics, settled, take } = settler();
  const ks = keys();
  for (const packet of all) {
    let reason = 'internal';
    let result: UnwrapResult | undefined;
    for (let i = 0; i < ks.length && result === undefined; i++) {
      try {
        result = sphinx.unwrap(ks[i].secret, packet, ks[i].filter);
        if (i > 0) metrics.count('node_unwrap_previous_key_total');
      } catch (error) {
        assert.ok(error instanceof SphinxError);
        reason = error.code;
        if (error.code !== 'bad-mac') break;
      }
    }
    if (result === undefined) metrics.drop(reason);
    take(result);
  }
  settled.results.sort();
  return settled;
}

const pools: UnwrapPool[] = [];
after(async () => {
  for (const pool of pools) await pool.close();
});

function pool(options: Partial<UnwrapPoolOptions> & Pick<UnwrapPoolOptions, 'onOutcome'>): UnwrapPool {
  const made = new UnwrapPool({
    workers: 2,
    workerData: { suite: SUITE, geometry: DEFAULT_GEOMETRY, backend: crypto.name },
    packetLength: g.packetLength,
    capacity: 1024,
    onLost: () => undefined,
    onPressure: () => undefined,
    log: () => undefined,
    ...options,
  });
  pools.push(made);
  return made;
}

describe('unwrap workers', () => {
  const all = packets();

  test('give the same results and drops as unwrapping on the main thread, replays included', async () => {
    const expected = inline(all);
    assert.equal(expected.results.length, 24 + 2); // every forward packet once, the deliver packet and the reply
    const { metrics, settled, take } = settler();
    const ks = keys();
    let count = 0;
    let resolve: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolve = r));
    const workers = pool({
      onOutcome: (k, outcome: UnwrapOutcome) => {
        take(settleOutcome(k, outcome, metrics));
        if (++count === all.length) resolve();
      },
    });
    for (const packet of all) assert.equal(workers.submit(packet, ks), true);
    await done;
    settled.results.sort();
    assert.deepEqual(settled, expected);
    assert.deepEqual(expected.drops, { 'bad-mac': 2, 'bad-payload': 1, 'bad-version': 1, 'bad-group-element': 1, replay: 4 });
    assert.equal(expected.previousKey, 8);
    assert.equal(workers.depth, 0);
  });

  test('hold at most `capacity` packets, ask for backpressure and release it', async () => {
    const pressure: boolean[] = [];
    let count = 0;
    let resolve: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolve = r));
    const capacity = 64;
    const workers = pool({
      capacity,
      onPressure: (full) => pressure.push(full),
      onOutcome: () => {
        if (++count === capacity) resolve();
      },
    });
    const ks = keys();
    let accepted = 0;
    for (let i = 0; i < 3 * capacity; i++) if (workers.submit(all[i % 24], ks)) accepted++;
    assert.equal(accepted, capacity);
    assert.equal(workers.depth, capacity);
    assert.deepEqual(pressure, [true]);
    await done;
    assert.deepEqual(pressure, [true, false]);
    assert.equal(workers.depth, 0);
  });

  test('close stops the workers; what they held is counted lost and never answered', async () => {
    const lost: [string, number][] = [];
    let answered = 0;
    const workers = pool({ onLost: (reason, count) => lost.push([reason, count]), onOutcome: () => answered++ });
    assert.equal(workers.running, 2);
    const ks = keys();
    for (let i = 0; i < 100; i++) workers.submit(all[i % 24], ks);
    await workers.close();
    assert.deepEqual(lost, [['shutdown', 100]]);
    assert.equal(workers.running, 0);
    assert.equal(workers.submit(all[0], ks), false);
    assert.equal(answered, 0);
  });
});
