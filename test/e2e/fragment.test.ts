import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { ByteWriter, hexOf } from '../../src/codec/bytes.js';
import { backends, seededRandom, type Crypto } from '../../src/crypto/index.js';
import { frame, FRAME_HEADER_LENGTH, MAX_DATA_SHARDS, paddedShardCount, unframe } from '../../src/e2e/padding.js';
import { E2eError, type E2eErrorCode } from '../../src/e2e/errors.js';
import {
  chunkLength,
  DEFAULT_FRAGMENT_PARAMS,
  encodeShards,
  FRAGMENT_OVERHEAD,
  locateShard,
  makeFragments,
  openFragment,
  parityShardsFor,
  sealFragment,
  stripeLayout,
  totalShards,
  type FragmentParams,
} from '../../src/e2e/fragment.js';
import { flipBit, SMALL_ORDER_POINTS } from '../support/bytes.js';

const sodium = backends.sodium;
const isE2e = (code: E2eErrorCode) => (error: unknown) => error instanceof E2eError && error.code === code;
const params = (fragmentLength: number, redundancy = 0.25, maxStripeData = 32): FragmentParams => ({ fragmentLength, redundancy, maxStripeData });

function keyPair(crypto: Crypto, seed: number): { secret: Uint8Array; public: Uint8Array } {
  const secret = seededRandom(crypto, seed)(32);
  return { secret, public: crypto.x25519Base(secret) };
}

describe('padded frames', () => {
  test('a frame fills the smallest power-of-two number of chunks and round-trips', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 3000, size: 'max' }), fc.integer({ min: 1, max: 700 }), (kind, envelope, chunk) => {
        const { data, dataShards } = frame(kind, envelope, chunk);
        assert.equal(data.length, dataShards * chunk);
        assert.equal(dataShards & (dataShards - 1), 0, 'a power of two');
        assert.ok(dataShards * chunk >= FRAME_HEADER_LENGTH + envelope.length);
        if (dataShards > 1) assert.ok((dataShards / 2) * chunk < FRAME_HEADER_LENGTH + envelope.length, 'the smallest');
        assert.deepEqual(unframe(data), { kind, envelope });
      }),
      { seed: 1, numRuns: 300 },
    );
  });

  test('size class boundaries and the largest size class', () => {
    assert.equal(paddedShardCount(95, 100), 1);
    assert.equal(paddedShardCount(96, 100), 2);
    assert.equal(paddedShardCount(195, 100), 2);
    assert.equal(paddedShardCount(196, 100), 4);
    assert.equal(paddedShardCount(MAX_DATA_SHARDS * 10 - FRAME_HEADER_LENGTH, 10), MAX_DATA_SHARDS);
    assert.throws(() => frame(1, new Uint8Array(MAX_DATA_SHARDS * 10 - FRAME_HEADER_LENGTH + 1), 10), isE2e('too-large'));
    assert.throws(() => frame(256, new Uint8Array(1), 10), RangeError);
  });

  test('nonsense frames are bad-message', () => {
    const good = frame(7, Uint8Array.of(1, 2, 3), 20).data;
    const cases = [
      new Uint8Array(0),
      good.subarray(0, 4),
      Uint8Array.of(1, 0, 0, 0, 1), // length 1, nothing follows
      Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0, 0),
      Uint8Array.from(good, (byte, i) => (i === good.length - 1 ? 1 : byte)), // non-zero padding
    ];
    for (const data of cases) assert.throws(() => unframe(data), isE2e('bad-message'));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        try {
          const { envelope } = unframe(data);
          assert.ok(envelope.length <= data.length - FRAME_HEADER_LENGTH);
        } catch (error) {
          assert.ok(isE2e('bad-message')(error));
        }
      }),
      { seed: 2, numRuns: 500 },
    );
  });
});

describe('stripe layout', () => {
  test('stripes cover the data in order, balanced, each with its parity', () => {
    const scenario = fc.record({
      total: fc.integer({ min: 1, max: MAX_DATA_SHARDS }),
      redundancy: fc.double({ min: 0, max: 1.5, noNaN: true }),
      maxStripeData: fc.integer({ min: 1, max: 100 }),
    });
    fc.assert(
      fc.property(scenario, ({ total, redundancy, maxStripeData }) => {
        const p = params(500, redundancy, maxStripeData);
        if (maxStripeData + parityShardsFor(p, maxStripeData) > 256) {
          assert.throws(() => stripeLayout(p, total), RangeError);
          return;
        }
        const layout = stripeLayout(p, total);
        assert.equal(layout.totalShards, totalShards(p, total));
        let data = 0;
        let parity = total;
        const sizes = layout.stripes.map((s) => s.dataShards);
        assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
        assert.equal(layout.stripes.length, Math.ceil(total / maxStripeData));
        for (const stripe of layout.stripes) {
          assert.equal(stripe.firstData, data);
          assert.equal(stripe.firstParity, parity);
          assert.ok(stripe.dataShards >= 1 && stripe.dataShards <= maxStripeData);
          assert.equal(stripe.parityShards, Math.max(1, Math.ceil(stripe.dataShards * redundancy - 1e-9)));
          data += stripe.dataShards;
          parity += stripe.parityShards;
        }
        assert.equal(data, total);
        assert.equal(parity, layout.totalShards);
        // locateShard inverts the numbering (checked on a sample of indices)
        for (let i = 0; i < layout.totalShards; i += Math.max(1, Math.floor(layout.totalShards / 50))) {
          const { stripe, position } = locateShard(layout, i);
          const s = layout.stripes[stripe];
          assert.equal(position < s.dataShards ? s.firstData + position : s.firstParity + position - s.dataShards, i);
        }
      }),
      { seed: 3, numRuns: 300 },
    );
  });

  test('the default layout: stripes of 32 data and 8 parity shards', () => {
    const layout = stripeLayout(DEFAULT_FRAGMENT_PARAMS, 128);
    assert.equal(layout.stripes.length, 4);
    assert.deepEqual(layout.stripes[1], { firstData: 32, dataShards: 32, firstParity: 136, parityShards: 8 });
    assert.equal(layout.totalShards, 160);
    assert.deepEqual(stripeLayout(DEFAULT_FRAGMENT_PARAMS, 1).stripes, [{ firstData: 0, dataShards: 1, firstParity: 1, parityShards: 1 }]);
    assert.equal(parityShardsFor(params(500, 0.3), 10), 3);
    assert.equal(chunkLength(DEFAULT_FRAGMENT_PARAMS), 2048 - 89);
  });

  test('invalid parameters are refused', () => {
    assert.throws(() => chunkLength(params(FRAGMENT_OVERHEAD)), RangeError);
    assert.throws(() => chunkLength(params(2048, -0.1)), RangeError);
    assert.throws(() => chunkLength(params(2048, Number.NaN)), RangeError);
    assert.throws(() => chunkLength(params(2048, 0.25, 0)), RangeError);
    assert.throws(() => chunkLength(params(2048, 1, 129)), RangeError);
    assert.equal(chunkLength(params(2048, 1, 128)), 2048 - 89);
  });
});

/** Backends and how hard to test them: noble's X25519 is about 20 times slower. */
const BACKENDS = [
  { crypto: backends.sodium, runs: 14, maxEnvelope: 1_100_000, maxShards: 1024 },
  { crypto: backends.noble, runs: 3, maxEnvelope: 8_000, maxShards: 64 },
];

for (const { crypto, runs, maxEnvelope, maxShards } of BACKENDS) {
  describe(`fragments on ${crypto.name}`, () => {
    const me = keyPair(crypto, 11);
    const other = keyPair(crypto, 12);

    test('round trip for random frames and fragment lengths; every fragment has the exact length', () => {
      const scenario = fc.record({
        fragmentLength: fc.integer({ min: FRAGMENT_OVERHEAD + 1, max: 3000 }),
        envelopeLength: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: maxEnvelope })),
        redundancy: fc.constantFrom(0, 0.1, 0.25, 0.5),
        maxStripeData: fc.integer({ min: 1, max: 40 }),
        seed: fc.integer(),
      });
      fc.assert(
        fc.property(scenario, (s) => {
          const p = params(s.fragmentLength, s.redundancy, s.maxStripeData);
          const chunk = chunkLength(p);
          // a bounded number of data shards, to keep the run short
          const envelopeLength = Math.min(s.envelopeLength, chunk * maxShards - FRAME_HEADER_LENGTH);
          const random = seededRandom(crypto, s.seed);
          const envelope = random(envelopeLength);
          const { data, dataShards } = frame(3, envelope, chunk);
          const messageId = random(16);
          const senderTag = random(16);
          const fragments = makeFragments(crypto, random, p, me.public, messageId, senderTag, data, dataShards);
          const expected = encodeShards(p, data, dataShards);
          assert.equal(fragments.length, totalShards(p, dataShards));
          fragments.forEach((fragment, i) => {
            assert.equal(fragment.length, s.fragmentLength);
            const opened = openFragment(crypto, p, me.secret, me.public, fragment);
            assert.deepEqual(opened.messageId, messageId);
            assert.deepEqual(opened.senderTag, senderTag);
            assert.equal(opened.totalDataShards, dataShards);
            assert.equal(opened.shardIndex, i);
            assert.deepEqual(opened.chunk, expected[i]);
          });
        }),
        { seed: 4, numRuns: runs },
      );
    });

    test('another key cannot open a fragment; nor can a damaged one; every bit flip is not-for-me', () => {
      const p = params(FRAGMENT_OVERHEAD + 23);
      const random = seededRandom(crypto, 5);
      const { data, dataShards } = frame(1, Uint8Array.of(1, 2, 3), chunkLength(p));
      const [fragment] = makeFragments(crypto, random, p, me.public, random(16), new Uint8Array(16), data, dataShards);
      assert.throws(() => openFragment(crypto, p, other.secret, other.public, fragment), isE2e('not-for-me'));
      const bits = crypto.name === 'sodium' ? [...Array(fragment.length * 8).keys()] : [0, 7, 255, 256, 300, 700, fragment.length * 8 - 1];
      for (const bit of bits) {
        assert.throws(() => openFragment(crypto, p, me.secret, me.public, flipBit(fragment, bit)), isE2e('not-for-me'), `bit ${bit}`);
      }
      assert.throws(() => openFragment(crypto, p, me.secret, me.public, fragment.subarray(1)), isE2e('not-for-me'));
      assert.throws(() => openFragment(crypto, p, me.secret, me.public, new Uint8Array(fragment.length)), isE2e('not-for-me'));
      for (const point of SMALL_ORDER_POINTS) {
        const forged = fragment.slice();
        forged.set(point, 0);
        assert.throws(() => openFragment(crypto, p, me.secret, me.public, forged), isE2e('not-for-me'));
      }
    });

    test('fragments of one message share no visible pattern, even for identical chunks', () => {
      const p = params(400);
      const random = seededRandom(crypto, 6);
      // an empty envelope in a 16-shard size class: 15 all-zero data chunks, identical plaintexts but for the index
      const chunk = chunkLength(p);
      const { data } = frame(0, new Uint8Array(0), chunk);
      const padded = new Uint8Array(16 * chunk);
      padded.set(data);
      const fragments = makeFragments(crypto, random, p, me.public, random(16), new Uint8Array(16), padded, 16);
      const ephemerals = new Set(fragments.map((fragment) => Buffer.from(fragment.subarray(0, 32)).toString('hex')));
      assert.equal(ephemerals.size, fragments.length);
      for (let a = 0; a < fragments.length; a++) {
        for (let b = a + 1; b < fragments.length; b++) {
          let equal = 0;
          for (let i = 0; i < 400; i++) if (fragments[a][i] === fragments[b][i]) equal++;
          assert.ok(equal < 15, `fragments ${a} and ${b} agree in ${equal} of 400 bytes`); // about 1.6 expected
        }
      }
    });

    test('inner plaintexts that do not parse are bad-fragment', () => {
      const p = params(FRAGMENT_OVERHEAD + 10);
      const random = seededRandom(crypto, 8);
      const inner = (version: number, total: number, index: number) =>
        new ByteWriter().u8(version).bytes(new Uint8Array(16)).bytes(new Uint8Array(16)).u32(total).u32(index).bytes(new Uint8Array(10)).finish();
      const open = (plain: Uint8Array) => openFragment(crypto, p, me.secret, me.public, sealFragment(crypto, random, me.public, plain));
      assert.equal(open(inner(2, 4, 4)).shardIndex, 4); // 4 data + 1 parity
      assert.throws(() => open(inner(1, 4, 0)), isE2e('bad-fragment'), 'version 1 (the SURB outside the seal) is not read');
      assert.throws(() => open(inner(3, 4, 0)), isE2e('bad-fragment'));
      assert.throws(() => open(inner(2, 4, 5)), isE2e('bad-fragment'));
      assert.throws(() => open(inner(2, 0, 0)), isE2e('bad-fragment'));
      assert.throws(() => open(inner(2, MAX_DATA_SHARDS + 1, 0)), isE2e('bad-fragment'));
      assert.throws(() => open(inner(2, 0xffffffff, 0xffffffff)), isE2e('bad-fragment'));
    });

    test('version 2 carries the SURB and its epoch inside the seal, for the recipient only', () => {
      const p: FragmentParams = { ...params(FRAGMENT_OVERHEAD + 4 + 50 + 40), surbLength: 50 };
      assert.equal(chunkLength(p), 40);
      const random = seededRandom(crypto, 21);
      const { data, dataShards } = frame(1, Uint8Array.of(1, 2, 3), chunkLength(p));
      const surbOf = (shard: number) => ({ epoch: 1000 + shard, bytes: new Uint8Array(50).fill(shard + 1) });
      const fragments = makeFragments(crypto, random, p, me.public, random(16), new Uint8Array(16), data, dataShards, undefined, surbOf);
      fragments.forEach((fragment, i) => {
        assert.equal(fragment.length, p.fragmentLength);
        const opened = openFragment(crypto, p, me.secret, me.public, fragment);
        assert.deepEqual(opened.surb, surbOf(i));
        // Nothing of the SURB shows outside the seal.
        assert.equal(hexOf(fragment).includes(hexOf(surbOf(i).bytes.subarray(0, 8))), false);
        assert.throws(() => openFragment(crypto, p, other.secret, other.public, fragment), isE2e('not-for-me'));
      });
      assert.throws(() => makeFragments(crypto, random, p, me.public, random(16), new Uint8Array(16), data, dataShards), RangeError, 'a SURB is required');
      assert.throws(() => makeFragments(crypto, random, p, me.public, random(16), new Uint8Array(16), data, dataShards, undefined, () => ({ epoch: 1, bytes: new Uint8Array(49) })), RangeError);
      assert.throws(() => makeFragments(crypto, random, p, me.public, random(16), new Uint8Array(16), data, dataShards, undefined, () => ({ epoch: 2 ** 32, bytes: new Uint8Array(50) })), RangeError);
      const q = params(FRAGMENT_OVERHEAD + 40);
      assert.throws(() => makeFragments(crypto, random, q, me.public, random(16), new Uint8Array(16), new Uint8Array(40), 1, undefined, surbOf), RangeError, 'no SURB expected');
    });
  });
}

test('both backends make the same fragments from the same randomness', () => {
  const p = params(300);
  const { data, dataShards } = frame(2, new Uint8Array(700).fill(9), chunkLength(p));
  const recipient = keyPair(sodium, 13).public;
  const make = (crypto: Crypto) => makeFragments(crypto, seededRandom(crypto, 14), p, recipient, new Uint8Array(16).fill(1), new Uint8Array(16).fill(2), data, dataShards);
  assert.deepEqual(make(backends.noble), make(sodium));
});

test('a frame of about 1 MiB on sodium: 1024 data shards in 32 stripes', () => {
  const p = DEFAULT_FRAGMENT_PARAMS;
  const me = keyPair(sodium, 15);
  const random = seededRandom(sodium, 16);
  const envelope = random(1024 * 1024);
  const { data, dataShards } = frame(1, envelope, chunkLength(p));
  assert.equal(dataShards, 1024);
  const fragments = makeFragments(sodium, random, p, me.public, random(16), random(16), data, dataShards);
  assert.equal(fragments.length, 1280);
  for (const i of [0, 511, 1023, 1024, 1279]) {
    const opened = openFragment(sodium, p, me.secret, me.public, fragments[i]);
    assert.equal(opened.shardIndex, i);
    if (i < 1024) assert.deepEqual(opened.chunk, data.subarray(i * 1959, (i + 1) * 1959));
  }
});

test('makeFragments refuses arguments of the wrong size', () => {
  const p = params(200);
  const random = seededRandom(sodium, 17);
  const key = keyPair(sodium, 18).public;
  const data = new Uint8Array(chunkLength(p));
  const id = new Uint8Array(16);
  assert.throws(() => makeFragments(sodium, random, p, key.subarray(1), id, id, data, 1), RangeError);
  assert.throws(() => makeFragments(sodium, random, p, key, id.subarray(1), id, data, 1), RangeError);
  assert.throws(() => makeFragments(sodium, random, p, key, id, id, data.subarray(1), 1), RangeError);
  assert.throws(() => makeFragments(sodium, random, p, key, id, id, data, 2), RangeError);
  assert.throws(() => makeFragments(sodium, random, p, key, id, id, new Uint8Array(0), 0), RangeError);
});
