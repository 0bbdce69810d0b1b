import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, seededRandom, type Crypto } from '../../src/crypto/index.js';
import { frame, MAX_DATA_SHARDS, unframe } from '../../src/e2e/padding.js';
import { E2eError, type E2eErrorCode } from '../../src/e2e/errors.js';
import {
  chunkLength,
  DEFAULT_FRAGMENT_PARAMS,
  encodeShards,
  locateShard,
  makeFragments,
  openFragment,
  stripeLayout,
  type FragmentParams,
  type OpenedFragment,
} from '../../src/e2e/fragment.js';
import { Reassembler, type ReassemblyResult } from '../../src/e2e/reassembly.js';

const isE2e = (code: E2eErrorCode) => (error: unknown) => error instanceof E2eError && error.code === code;
const params = (fragmentLength: number, redundancy = 0.25, maxStripeData = 32): FragmentParams => ({ fragmentLength, redundancy, maxStripeData });
const SMALL = params(89 + 40); // 40-byte chunks: fast tests
const HOUR = 3_600_000;

/** A 32-bit xorshift for picking losses and orders in the flood tests (fast-check drives the rest). */
function prng(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13; state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5; state >>>= 0;
    return state;
  };
}

function idOf(n: number, fill = 0): Uint8Array {
  const id = new Uint8Array(16).fill(fill);
  new DataView(id.buffer).setUint32(0, n);
  return id;
}

/** The opened fragments of a message of `dataShards` shards of random data (no crypto involved). */
function openedMessage(p: FragmentParams, dataShards: number, messageId: Uint8Array, senderTag: Uint8Array = new Uint8Array(16), seed = 1): { data: Uint8Array; fragments: OpenedFragment[] } {
  const next = prng(seed);
  const data = Uint8Array.from({ length: dataShards * chunkLength(p) }, () => next() & 0xff);
  const fragments = encodeShards(p, data, dataShards).map((chunk, shardIndex) => ({
    messageId, senderTag, totalDataShards: dataShards, shardIndex, chunk: chunk.slice(),
  }));
  return { data, fragments };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('reassembly', () => {
  test('any order, duplicates and losses up to each stripe\'s parity: the frame comes back once', () => {
    const scenario = fc.record({
      fragmentLength: fc.integer({ min: 90, max: 200 }),
      redundancy: fc.constantFrom(0, 0.1, 0.25, 0.5, 1),
      maxStripeData: fc.integer({ min: 1, max: 64 }),
      dataShards: fc.integer({ min: 1, max: 400 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(scenario, (s) => {
        const p = params(s.fragmentLength, s.redundancy, s.maxStripeData);
        const next = prng(s.seed);
        const id = idOf(s.seed);
        const { data, fragments } = openedMessage(p, s.dataShards, id, new Uint8Array(16).fill(7), s.seed);
        const layout = stripeLayout(p, s.dataShards);
        // in each stripe lose a random number of shards, up to its parity count
        const kept = layout.stripes.flatMap((stripe, index) => {
          const members = fragments.filter((f) => locateShard(layout, f.shardIndex).stripe === index);
          const lose = next() % (stripe.parityShards + 1);
          return shuffle(members, next).slice(lose);
        });
        const duplicates = kept.filter(() => next() % 4 === 0);
        const arrivals = shuffle([...kept, ...duplicates], next);
        const reassembler = new Reassembler(p);
        const results: ReassemblyResult[] = arrivals.map((fragment, i) => reassembler.add(fragment, 1000 + i));
        const complete = results.filter((r) => r.status === 'complete');
        assert.equal(complete.length, 1);
        assert.deepEqual(complete[0].data, data);
        assert.deepEqual(complete[0].senderTag, new Uint8Array(16).fill(7));
        const at = results.indexOf(complete[0]);
        assert.ok(results.slice(at + 1).every((r) => r.status === 'already-complete'));
        assert.ok(results.slice(0, at).every((r) => r.status === 'pending' || r.status === 'duplicate'));
        assert.equal(reassembler.pendingMessages, 0);
        assert.equal(reassembler.pendingBytes, 0);
        assert.equal(reassembler.state(id), 'complete');
        assert.deepEqual(reassembler.missing(id), []);
      }),
      { seed: 21, numRuns: 150 },
    );
  });

  test('beyond a stripe\'s parity, missing() names the data shards needed and supplying them completes it', () => {
    const scenario = fc.record({
      redundancy: fc.constantFrom(0, 0.25, 0.5),
      maxStripeData: fc.integer({ min: 1, max: 40 }),
      dataShards: fc.integer({ min: 1, max: 300 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(scenario, (s) => {
        const p = params(SMALL.fragmentLength, s.redundancy, s.maxStripeData);
        const next = prng(s.seed);
        const id = idOf(s.seed, 1);
        const { data, fragments } = openedMessage(p, s.dataShards, id, new Uint8Array(16), s.seed);
        const layout = stripeLayout(p, s.dataShards);
        const reassembler = new Reassembler(p);
        const received = new Set<number>();
        // every stripe loses more than its parity, or (at random) nothing; stripe 0 always loses
        const rebuiltStripes = new Set<number>();
        layout.stripes.forEach((stripe, index) => {
          const members = fragments.filter((f) => locateShard(layout, f.shardIndex).stripe === index);
          const lose = index > 0 && next() % 3 === 0 ? 0 : stripe.parityShards + 1 + (next() % stripe.dataShards);
          if (lose === 0) rebuiltStripes.add(index);
          for (const fragment of shuffle(members, next).slice(lose)) {
            assert.notEqual(reassembler.add(fragment, 0).status, 'complete');
            received.add(fragment.shardIndex);
          }
        });
        if (received.size === 0) {
          // every fragment lost: the recipient never heard of the message
          assert.equal(reassembler.state(id), 'unknown');
          assert.deepEqual(reassembler.missing(id), []);
          return;
        }
        assert.equal(reassembler.state(id), 'pending');
        const missing = reassembler.missing(id);
        const expected: number[] = [];
        layout.stripes.forEach((stripe, index) => {
          if (rebuiltStripes.has(index)) return;
          for (let i = stripe.firstData; i < stripe.firstData + stripe.dataShards; i++) if (!received.has(i)) expected.push(i);
        });
        assert.deepEqual(missing, expected);
        // (a stripe that also holds parity may be rebuilt before the last of its named shards arrives)
        const results = missing.map((index) => reassembler.add(fragments[index], 1));
        const complete = results.filter((r) => r.status === 'complete');
        assert.equal(complete.length, 1);
        assert.deepEqual(complete[0].data, data);
        const at = results.indexOf(complete[0]);
        assert.ok(results.slice(at + 1).every((r) => r.status === 'already-complete'));
      }),
      { seed: 22, numRuns: 150 },
    );
  });

  test('parity alone rebuilds a stripe whose data shards are all lost', () => {
    const p = params(SMALL.fragmentLength, 1, 8); // 8 data + 8 parity per stripe
    const { data, fragments } = openedMessage(p, 16, idOf(1));
    const reassembler = new Reassembler(p);
    const parity = fragments.filter((f) => f.shardIndex >= 16);
    const results = parity.map((f) => reassembler.add(f, 0));
    assert.deepEqual(results.map((r) => r.status), [...Array(15).fill('pending'), 'complete']);
    assert.deepEqual(results[15].data, data);
  });

  test('duplicates, and shards of a stripe already rebuilt, are reported as such', () => {
    const p = params(SMALL.fragmentLength, 0.5, 4); // 4 data + 2 parity
    const { fragments } = openedMessage(p, 8, idOf(2));
    const reassembler = new Reassembler(p);
    assert.equal(reassembler.add(fragments[0], 0).status, 'pending');
    assert.equal(reassembler.add(fragments[0], 0).status, 'duplicate');
    for (const i of [1, 2, 8]) assert.equal(reassembler.add(fragments[i], 0).status, 'pending'); // stripe 0 rebuilt at 8
    assert.deepEqual(reassembler.missing(idOf(2)), [4, 5, 6, 7]);
    assert.equal(reassembler.add(fragments[3], 0).status, 'duplicate');
    assert.equal(reassembler.add(fragments[9], 0).status, 'duplicate');
    for (const i of [4, 5, 6]) assert.equal(reassembler.add(fragments[i], 0).status, 'pending');
    assert.equal(reassembler.add(fragments[11], 0).status, 'complete');
    assert.equal(reassembler.add(fragments[7], 0).status, 'already-complete');
  });

  test('inconsistent, malformed and oversized fragments are typed errors and store nothing', () => {
    const p = SMALL;
    const { fragments } = openedMessage(p, 4, idOf(3));
    const reassembler = new Reassembler(p, { maxMessageBytes: 64 * chunkLength(p), maxPendingBytes: 64 * chunkLength(p) });
    reassembler.add(fragments[0], 0);
    const held = reassembler.pendingBytes;
    const bad: [OpenedFragment, E2eErrorCode][] = [
      [{ ...fragments[1], totalDataShards: 8 }, 'bad-fragment'],
      [{ ...fragments[1], senderTag: new Uint8Array(16).fill(1) }, 'bad-fragment'],
      [{ ...fragments[1], chunk: new Uint8Array(39) }, 'bad-fragment'],
      [{ ...fragments[1], shardIndex: 5 }, 'bad-fragment'], // 4 data + 1 parity
      [{ ...fragments[1], shardIndex: -1 }, 'bad-fragment'],
      [{ ...fragments[1], messageId: new Uint8Array(15) }, 'bad-fragment'],
      [{ ...fragments[1], totalDataShards: MAX_DATA_SHARDS + 1 }, 'bad-fragment'],
      [{ ...fragments[1], messageId: idOf(4), totalDataShards: 65, shardIndex: 0 }, 'limit-exceeded'],
    ];
    for (const [fragment, code] of bad) assert.throws(() => reassembler.add(fragment, 0), isE2e(code));
    assert.equal(reassembler.pendingBytes, held);
    assert.equal(reassembler.pendingMessages, 1);
    assert.equal(reassembler.state(idOf(4)), 'unknown');
    assert.throws(() => new Reassembler(p, { maxPendingBytes: 10, maxMessageBytes: 100 }), RangeError);
    assert.throws(() => new Reassembler(p, { maxPendingMessages: 0 }), RangeError);
    assert.throws(() => new Reassembler(p, { maxAgeMs: Number.NaN }), RangeError);
  });

  test('a flood of fragments of unknown messages keeps within every bound', () => {
    const p = SMALL;
    const chunk = chunkLength(p);
    const limits = { maxPendingMessages: 20, maxPendingPerSender: 6, maxMessageBytes: 300 * chunk, maxPendingBytes: 1000 * chunk };
    const reassembler = new Reassembler(p, limits);
    const next = prng(9);
    const senders = [new Uint8Array(16), ...[1, 2, 3, 4, 5].map((n) => new Uint8Array(16).fill(n))];
    for (let i = 0; i < 20_000; i++) {
      const total = 1 + (next() % 300);
      const fragment: OpenedFragment = {
        messageId: idOf(next() % 200), // some messages get many shards, and some are re-seen after eviction
        senderTag: senders[next() % senders.length],
        totalDataShards: total,
        shardIndex: 0,
        chunk: new Uint8Array(chunk),
      };
      try {
        const state = reassembler.state(fragment.messageId);
        // keep totals consistent per message ID while it is pending, as a real sender's would be
        if (state === 'pending') continue;
        const result = reassembler.add(fragment, i);
        assert.ok(['pending', 'complete', 'already-complete'].includes(result.status));
      } catch (error) {
        assert.ok(error instanceof E2eError, String(error));
      }
      assert.ok(reassembler.pendingMessages <= limits.maxPendingMessages);
      assert.ok(reassembler.pendingBytes <= limits.maxPendingBytes);
    }
    // now flood many shards into the pending messages: memory stays bounded
    const flood = new Reassembler(p, limits);
    for (let i = 0; i < 30_000; i++) {
      const id = next() % 12; // few enough that only the byte bound evicts
      const fragment: OpenedFragment = {
        messageId: idOf(id, 9),
        senderTag: senders[id % senders.length],
        totalDataShards: 256,
        shardIndex: next() % 256, // data shards only: no stripe gets more than k
        chunk: new Uint8Array(chunk),
      };
      flood.add(fragment, 0);
      assert.ok(flood.pendingBytes <= limits.maxPendingBytes);
      assert.ok(flood.pendingMessages <= limits.maxPendingMessages);
    }
    assert.ok(flood.pendingBytes > limits.maxPendingBytes / 2, 'the bound was reached');
  });

  test('the oldest pending message is evicted first; unknown senders share one quota', () => {
    const p = SMALL;
    const reassembler = new Reassembler(p, { maxPendingMessages: 8, maxPendingPerSender: 3 });
    const zero = new Uint8Array(16);
    const alice = new Uint8Array(16).fill(0xa1);
    const first = (n: number, tag: Uint8Array) => openedMessage(p, 2, idOf(n), tag).fragments[0];
    for (let n = 0; n < 5; n++) reassembler.add(first(n, zero), n); // first contacts 0..4: only 2, 3, 4 stay
    assert.deepEqual([0, 1, 2, 3, 4].map((n) => reassembler.state(idOf(n))), ['unknown', 'unknown', 'pending', 'pending', 'pending']);
    for (let n = 10; n < 13; n++) reassembler.add(first(n, alice), n);
    assert.equal(reassembler.pendingMessages, 6);
    assert.deepEqual([2, 3, 4, 10, 11, 12].map((n) => reassembler.state(idOf(n))), Array(6).fill('pending'));
    // the global bound: four more senders' messages push out the oldest (2, then 3)
    for (let n = 20; n < 24; n++) reassembler.add(first(n, new Uint8Array(16).fill(n)), n);
    assert.equal(reassembler.pendingMessages, 8);
    assert.deepEqual([2, 3, 4, 10].map((n) => reassembler.state(idOf(n))), ['unknown', 'unknown', 'pending', 'pending']);
  });

  test('the byte bound evicts other messages, never the one being filled', () => {
    const p = SMALL;
    const chunk = chunkLength(p);
    const reassembler = new Reassembler(p, { maxMessageBytes: 16 * chunk, maxPendingBytes: 20 * chunk });
    const big = openedMessage(p, 16, idOf(1), new Uint8Array(16), 3);
    const others = [2, 3, 4].map((n) => openedMessage(p, 16, idOf(n)).fragments);
    for (const fragments of others) for (const f of fragments.slice(0, 5)) reassembler.add(f, 0);
    assert.equal(reassembler.pendingBytes, 15 * chunk);
    let result: ReassemblyResult | undefined;
    for (const f of big.fragments.slice(0, 16)) {
      result = reassembler.add(f, 0);
      assert.ok(reassembler.pendingBytes <= 20 * chunk);
    }
    assert.equal(result?.status, 'complete');
    assert.deepEqual(result?.data, big.data);
    assert.deepEqual([2, 3, 4].map((n) => reassembler.state(idOf(n))), ['unknown', 'unknown', 'unknown']);
  });

  test('pending messages expire after maxAgeMs; completed IDs are remembered up to a bound', () => {
    const p = SMALL;
    const reassembler = new Reassembler(p, { maxAgeMs: 24 * HOUR, rememberCompleted: 3 });
    const { fragments } = openedMessage(p, 2, idOf(1));
    reassembler.add(fragments[0], 0);
    reassembler.expire(24 * HOUR - 1);
    assert.equal(reassembler.state(idOf(1)), 'pending');
    reassembler.expire(24 * HOUR);
    assert.equal(reassembler.state(idOf(1)), 'unknown');
    assert.equal(reassembler.pendingBytes, 0);
    // add() expires too: the old half-message is gone and this fragment starts afresh
    reassembler.add(fragments[0], 30 * HOUR);
    assert.equal(reassembler.add(fragments[1], 60 * HOUR).status, 'pending');
    assert.equal(reassembler.add(fragments[0], 60 * HOUR).status, 'complete');

    for (let n = 2; n <= 4; n++) {
      const single = openedMessage(p, 1, idOf(n)).fragments[0];
      assert.equal(reassembler.add(single, 61 * HOUR).status, 'complete');
    }
    assert.equal(reassembler.rememberedMessages, 3);
    assert.equal(reassembler.state(idOf(1)), 'unknown'); // forgotten: the oldest of four
    assert.equal(reassembler.add(openedMessage(p, 1, idOf(4)).fragments[0], 62 * HOUR).status, 'already-complete');
  });
});

const E2E = [
  { crypto: backends.sodium, runs: 10, maxEnvelope: 60_000 },
  { crypto: backends.noble, runs: 2, maxEnvelope: 6_000 },
];

function keyPair(crypto: Crypto, seed: number): { secret: Uint8Array; public: Uint8Array } {
  const secret = seededRandom(crypto, seed)(32);
  return { secret, public: crypto.x25519Base(secret) };
}

for (const { crypto, runs, maxEnvelope } of E2E) {
  describe(`envelope to fragments and back on ${crypto.name}`, () => {
    const me = keyPair(crypto, 31);
    const other = keyPair(crypto, 32);

    test('frame, fragment, seal, lose, reorder, open, reassemble, unframe', () => {
      const scenario = fc.record({ envelopeLength: fc.integer({ min: 0, max: maxEnvelope }), fragmentLength: fc.integer({ min: 300, max: 2048 }), seed: fc.integer() });
      fc.assert(
        fc.property(scenario, (s) => {
          const p = params(s.fragmentLength);
          const random = seededRandom(crypto, s.seed);
          const envelope = random(s.envelopeLength);
          const { data, dataShards } = frame(5, envelope, chunkLength(p));
          const messageId = random(16);
          const fragments = makeFragments(crypto, random, p, me.public, messageId, new Uint8Array(16), data, dataShards);
          const next = prng(s.seed);
          const layout = stripeLayout(p, dataShards);
          const lost = new Set<number>();
          for (const stripe of layout.stripes) {
            for (let t = 0; t < stripe.parityShards; t++) lost.add(stripe.firstData + (next() % stripe.dataShards));
          }
          const reassembler = new Reassembler(p);
          let done: ReassemblyResult | undefined;
          for (const fragment of shuffle(fragments.filter((_, i) => !lost.has(i)), next)) {
            const result = reassembler.add(openFragment(crypto, p, me.secret, me.public, fragment), 0);
            if (result.status === 'complete') done = result;
          }
          assert.ok(done?.data !== undefined);
          assert.deepEqual(unframe(done.data), { kind: 5, envelope });
        }),
        { seed: 33, numRuns: runs },
      );
    });

    test('garbage and other recipients\' fragments are refused before reassembly', () => {
      const p = params(400);
      const random = seededRandom(crypto, 34);
      const { data, dataShards } = frame(1, random(1000), chunkLength(p));
      const theirs = makeFragments(crypto, random, p, other.public, random(16), new Uint8Array(16), data, dataShards);
      const garbage = Array.from({ length: crypto.name === 'sodium' ? 300 : 20 }, (_, i) => random(i % 3 === 0 ? 400 : i));
      for (const fragment of [...theirs, ...garbage]) {
        assert.throws(() => openFragment(crypto, p, me.secret, me.public, fragment), isE2e('not-for-me'));
      }
    });
  });
}

test('default limits', () => {
  const reassembler = new Reassembler(DEFAULT_FRAGMENT_PARAMS);
  assert.deepEqual({ ...reassembler.limits }, {
    maxMessageBytes: 8192 * 1959,
    maxPendingMessages: 64,
    maxPendingBytes: 64 * 1024 * 1024,
    maxPendingPerSender: 16,
    maxAgeMs: 86_400_000,
    rememberCompleted: 4096,
  });
});
