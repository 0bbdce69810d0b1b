import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nobleCrypto, seededRandom } from '../../src/crypto/index.js';
import { StoreError, type StoreErrorKind } from '../../src/store/errors.js';
import { bucketOf, type MailboxStore, type StoredMessage } from '../../src/store/mailbox.js';

/**
 * The contract of every MailboxStore adapter (docs/mailbox.md), written once: each adapter's test
 * file calls `runMailboxStoreSuite` with a factory for its own store over a fresh database (the
 * SQLite one in sqlite.test.ts; the PostgreSQL one will do the same over a scratch schema).
 */
export interface StoreUnderTest {
  /** An open store over a new, empty database. */
  readonly store: MailboxStore;
  /** Opens the same database again, as it is now. The suite closes the previous store first. */
  reopen(): Promise<MailboxStore>;
  /** Opens the same database again so that every write fails (read-only file, role without INSERT). */
  reopenReadOnly?(): Promise<MailboxStore>;
  /** Opens the same database again with room for only a little more data, so deliveries soon fail with 'full'. */
  reopenNearlyFull?(): Promise<MailboxStore>;
  /** Closes every store it opened and deletes the database. */
  dispose(): Promise<void>;
}

export interface StoreOptions {
  readonly maxCiphertextBytes: number;
}

export type MakeStore = (options: StoreOptions) => Promise<StoreUnderTest>;

const DEFAULT_OPTIONS: StoreOptions = { maxCiphertextBytes: 4096 };

async function withStore(makeStore: MakeStore, options: StoreOptions, body: (fixture: StoreUnderTest) => Promise<void>): Promise<void> {
  const fixture = await makeStore(options);
  try {
    await body(fixture);
  } finally {
    await fixture.dispose();
  }
}

/** Deterministic test bytes: each test draws from its own seed. */
function randomFrom(seed: number): (length: number) => Uint8Array {
  return seededRandom(nobleCrypto, seed);
}

async function rejectsWith(promise: Promise<unknown>, kind: StoreErrorKind): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.kind, kind, `expected kind '${kind}', got '${error.kind}': ${error.message}`);
    return true;
  });
}

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** (address, ciphertext) pairs of a result, in order, as hex: compares content, not ids. */
const contents = (messages: StoredMessage[]): string[] => messages.map((m) => `${hexOf(m.address)}:${hexOf(m.ciphertext)}`);

export function runMailboxStoreSuite(name: string, makeStore: MakeStore): void {
  describe(`MailboxStore contract: ${name}`, () => {
    test('an empty store has nothing and zero statistics', () => withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
      assert.equal(store.maxCiphertextBytes, DEFAULT_OPTIONS.maxCiphertextBytes);
      assert.deepEqual(await store.fetchEpoch(0), []);
      assert.deepEqual(await store.fetchBucket(0, 0, 1), []);
      assert.deepEqual(await store.stats(), { messages: 0, bytes: 0, epochs: 0 });
      assert.equal(await store.deleteBefore(Number.MAX_SAFE_INTEGER), 0);
    }));

    test('round trip: what is delivered is fetched back byte for byte, in delivery order', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(1);
        const [a, b] = [random(32), random(32)];
        const sent = [
          { address: a, ciphertext: random(100) },
          { address: b, ciphertext: random(4096) },
          { address: a, ciphertext: random(1) },
        ];
        for (const { address, ciphertext } of sent) await store.deliver(address, 5, ciphertext, 1_000);
        const got = await store.fetchEpoch(5);
        assert.equal(got.length, 3);
        for (let i = 0; i < sent.length; i++) {
          // Plain Uint8Arrays (not a driver's Buffer subclass), equal to what was sent.
          assert.equal(Object.getPrototypeOf(got[i].address), Uint8Array.prototype);
          assert.equal(Object.getPrototypeOf(got[i].ciphertext), Uint8Array.prototype);
          assert.deepEqual(got[i].address, sent[i].address);
          assert.deepEqual(got[i].ciphertext, sent[i].ciphertext);
          assert.ok(Number.isSafeInteger(got[i].id));
          if (i > 0) assert.ok(got[i].id > got[i - 1].id, 'ids increase in delivery order');
        }
        assert.deepEqual(await store.stats(), { messages: 3, bytes: 100 + 4096 + 1, epochs: 1 });
      }));

    test('the store keeps its own copy: changing the caller\'s buffers afterwards changes nothing', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(2);
        const address = random(32);
        const ciphertext = random(64);
        const [addressCopy, ciphertextCopy] = [address.slice(), ciphertext.slice()];
        await store.deliver(address, 1, ciphertext, 1);
        address.fill(0);
        ciphertext.fill(0);
        const [got] = await store.fetchEpoch(1);
        assert.deepEqual(got.address, addressCopy);
        assert.deepEqual(got.ciphertext, ciphertextCopy);
        got.ciphertext.fill(7);
        assert.deepEqual((await store.fetchEpoch(1))[0].ciphertext, ciphertextCopy);
      }));

    test('a subarray of a larger buffer is stored as exactly its own bytes', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const big = randomFrom(3)(200);
        await store.deliver(big.subarray(10, 42), 1, big.subarray(50, 150), 1);
        const [got] = await store.fetchEpoch(1);
        assert.deepEqual(got.address, big.slice(10, 42));
        assert.deepEqual(got.ciphertext, big.slice(50, 150));
      }));

    test('an exact duplicate of (address, ciphertext) is stored once, whatever its epoch or time', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(4);
        const [address, other] = [random(32), random(32)];
        const ciphertext = random(300);
        await store.deliver(address, 7, ciphertext, 1_000);
        await store.deliver(address, 7, ciphertext, 1_000);
        await store.deliver(address.slice(), 7, ciphertext.slice(), 2_000);
        await store.deliver(address, 8, ciphertext, 3_000);
        assert.equal((await store.fetchEpoch(7)).length, 1);
        assert.deepEqual(await store.fetchEpoch(8), [], 'the first delivery wins');
        // Not duplicates: the same ciphertext to another address, another ciphertext to the same address.
        await store.deliver(other, 7, ciphertext, 1_000);
        const longer = new Uint8Array(301);
        longer.set(ciphertext);
        await store.deliver(address, 7, longer, 1_000);
        assert.deepEqual(contents(await store.fetchEpoch(7)), contents([
          { id: 0, address, ciphertext }, { id: 0, address: other, ciphertext }, { id: 0, address, ciphertext: longer },
        ]));
        assert.deepEqual(await store.stats(), { messages: 3, bytes: 300 + 300 + 301, epochs: 1 });
      }));

    test('fetchBucket returns every message of the bucket and no other, for several bucket counts', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(5);
        const epoch = 9;
        const addresses = Array.from({ length: 120 }, () => random(32));
        const sent: { address: Uint8Array; ciphertext: Uint8Array }[] = [];
        for (const [i, address] of addresses.entries()) {
          const copies = i % 3 === 0 ? 2 : 1;
          for (let c = 0; c < copies; c++) sent.push({ address, ciphertext: random(16 + (i % 50)) });
        }
        for (const { address, ciphertext } of sent) await store.deliver(address, epoch, ciphertext, 5_000);
        // Same addresses in the neighbouring epochs: never part of epoch 9's buckets.
        for (const address of addresses.slice(0, 30)) {
          await store.deliver(address, epoch - 1, random(20), 5_000);
          await store.deliver(address, epoch + 1, random(20), 5_000);
        }
        const all = await store.fetchEpoch(epoch);
        assert.deepEqual(contents(all), contents(sent.map((m) => ({ id: 0, ...m }))));
        for (const buckets of [1, 2, 7, 16, 64, 1000]) {
          const seen = new Set<number>();
          const bucketOfSent = sent.map(({ address }) => bucketOf(address, epoch, buckets));
          for (let bucket = 0; bucket < buckets; bucket++) {
            const got = await store.fetchBucket(epoch, bucket, buckets);
            const expected = sent.filter((_, i) => bucketOfSent[i] === bucket);
            assert.deepEqual(contents(got), contents(expected.map((m) => ({ id: 0, ...m }))),
              `bucket ${bucket} of ${buckets}: exactly its messages, in delivery order`);
            for (const message of got) {
              assert.ok(!seen.has(message.id), `message ${message.id} appears in two buckets`);
              seen.add(message.id);
            }
          }
          assert.deepEqual([...seen].sort((x, y) => x - y), all.map((m) => m.id), `the ${buckets} buckets partition the epoch`);
        }
      }));

    test('epochs are isolated: each fetch sees its own epoch only', () => withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
      const random = randomFrom(6);
      const address = random(32);
      const byEpoch = new Map<number, Uint8Array>();
      for (const epoch of [1, 2, 3, 1_000_000]) {
        byEpoch.set(epoch, random(40));
        await store.deliver(address, epoch, byEpoch.get(epoch)!, 1_000);
      }
      for (const [epoch, ciphertext] of byEpoch) {
        const whole = await store.fetchEpoch(epoch);
        assert.deepEqual(contents(whole), contents([{ id: 0, address, ciphertext }]));
        const bucket = await store.fetchBucket(epoch, bucketOf(address, epoch, 8), 8);
        assert.deepEqual(contents(bucket), contents([{ id: 0, address, ciphertext }]));
      }
      assert.deepEqual(await store.fetchEpoch(4), []);
      assert.deepEqual((await store.stats()).epochs, 4);
    }));

    test('retention deletes exactly the messages received before the cutoff', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(7);
        const address = random(32);
        const at = [1_000, 1_000, 1_999, 2_000, 2_001, 3_000];
        const ciphertexts = at.map(() => random(10));
        for (const [i, time] of at.entries()) await store.deliver(address, 1 + (i % 2), ciphertexts[i], time);
        assert.equal(await store.deleteBefore(0), 0);
        assert.equal(await store.deleteBefore(1_000), 0, 'the cutoff itself is kept');
        assert.equal(await store.deleteBefore(2_000), 3);
        const left = [...(await store.fetchEpoch(1)), ...(await store.fetchEpoch(2))].sort((x, y) => x.id - y.id);
        assert.deepEqual(left.map((m) => hexOf(m.ciphertext)), ciphertexts.slice(3).map(hexOf));
        assert.deepEqual(await store.stats(), { messages: 3, bytes: 30, epochs: 2 });
        assert.equal(await store.deleteBefore(2_000), 0, 'deleting again deletes nothing');
        // Once deleted, the same message is no longer a duplicate: it is stored again.
        await store.deliver(address, 1, ciphertexts[0], 4_000);
        assert.equal((await store.stats()).messages, 4);
        assert.equal(await store.deleteBefore(Number.MAX_SAFE_INTEGER), 4);
        assert.deepEqual(await store.stats(), { messages: 0, bytes: 0, epochs: 0 });
      }));

    test('ciphertexts are bounded: past the configured maximum, too-large and nothing stored', () =>
      withStore(makeStore, { maxCiphertextBytes: 1024 }, async ({ store }) => {
        const random = randomFrom(8);
        const address = random(32);
        assert.equal(store.maxCiphertextBytes, 1024);
        await store.deliver(address, 1, random(1024), 1);
        await rejectsWith(store.deliver(address, 1, random(1025), 1), 'too-large');
        await rejectsWith(store.deliver(address, 1, random(1 << 20), 1), 'too-large');
        assert.deepEqual(await store.stats(), { messages: 1, bytes: 1024, epochs: 1 });
      }));

    test('malformed arguments break the contract: RangeError, nothing stored', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(9);
        const address = random(32);
        const ciphertext = random(10);
        await assert.rejects(store.deliver(random(31), 1, ciphertext, 1), RangeError);
        await assert.rejects(store.deliver(random(33), 1, ciphertext, 1), RangeError);
        await assert.rejects(store.deliver(address, -1, ciphertext, 1), RangeError);
        await assert.rejects(store.deliver(address, 1.5, ciphertext, 1), RangeError);
        await assert.rejects(store.deliver(address, 1, new Uint8Array(0), 1), RangeError);
        await assert.rejects(store.deliver(address, 1, ciphertext, -1), RangeError);
        await assert.rejects(store.deliver(address, 1, ciphertext, Number.NaN), RangeError);
        await assert.rejects(store.fetchBucket(1, 8, 8), RangeError);
        await assert.rejects(store.fetchBucket(1, -1, 8), RangeError);
        await assert.rejects(store.fetchBucket(1, 0, 0), RangeError);
        await assert.rejects(store.fetchEpoch(Number.MAX_SAFE_INTEGER + 1), RangeError);
        await assert.rejects(store.deleteBefore(Number.POSITIVE_INFINITY), RangeError);
        assert.deepEqual(await store.stats(), { messages: 0, bytes: 0, epochs: 0 });
      }));

    test('many deliveries at once are all stored, concurrent duplicates once', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const random = randomFrom(10);
        const addresses = Array.from({ length: 16 }, () => random(32));
        const messages = Array.from({ length: 400 }, (_, i) => ({ address: addresses[i % 16], ciphertext: random(64 + (i % 100)) }));
        const duplicates = messages.slice(0, 100);
        await Promise.all([...messages, ...duplicates].map(({ address, ciphertext }, i) =>
          store.deliver(address, 2 + (i % 2), ciphertext, 10_000 + i)));
        const stats = await store.stats();
        assert.equal(stats.messages, 400);
        assert.equal(stats.bytes, messages.reduce((sum, m) => sum + m.ciphertext.length, 0));
        const stored = new Set(contents([...(await store.fetchEpoch(2)), ...(await store.fetchEpoch(3))]));
        for (const line of contents(messages.map((m) => ({ id: 0, ...m })))) assert.ok(stored.has(line));
        // Reads interleaved with writes also all resolve.
        const mixed = await Promise.all([
          store.deliver(addresses[0], 4, random(10), 1), store.fetchEpoch(2), store.stats(),
          store.deliver(addresses[1], 4, random(10), 1), store.fetchBucket(4, 0, 1),
        ]);
        assert.equal((mixed[4] as StoredMessage[]).length, 2);
      }));

    test('reopening the same database finds everything, with the same ids', async () => {
      const fixture = await makeStore(DEFAULT_OPTIONS);
      try {
        const random = randomFrom(11);
        const address = random(32);
        const ciphertexts = [random(50), random(60)];
        for (const ciphertext of ciphertexts) await fixture.store.deliver(address, 3, ciphertext, 1);
        const before = await fixture.store.fetchEpoch(3);
        await fixture.store.close();
        const store = await fixture.reopen();
        assert.deepEqual(await store.fetchEpoch(3), before);
        assert.deepEqual(await store.stats(), { messages: 2, bytes: 110, epochs: 1 });
        await store.deliver(address, 3, ciphertexts[0], 2);
        assert.equal((await store.stats()).messages, 2, 'still a duplicate after reopening');
        await store.deliver(address, 3, random(5), 2);
        const after = await store.fetchEpoch(3);
        assert.ok(after[2].id > before[1].id, 'new ids follow the old ones');
      } finally {
        await fixture.dispose();
      }
    });

    test('a closed store rejects every call with closed; close is idempotent', () =>
      withStore(makeStore, DEFAULT_OPTIONS, async ({ store }) => {
        const address = randomFrom(12)(32);
        await store.deliver(address, 1, new Uint8Array([1, 2, 3]), 1);
        await store.close();
        await store.close();
        await rejectsWith(store.deliver(address, 1, new Uint8Array([4]), 1), 'closed');
        await rejectsWith(store.deliver(new Uint8Array(1), -1, new Uint8Array(0), -1), 'closed');
        await rejectsWith(store.fetchBucket(1, 0, 1), 'closed');
        await rejectsWith(store.fetchEpoch(1), 'closed');
        await rejectsWith(store.deleteBefore(10), 'closed');
        await rejectsWith(store.stats(), 'closed');
      }));

    test('a database that cannot be written: io on every write, earlier data intact and readable', async (t) => {
      const fixture = await makeStore(DEFAULT_OPTIONS);
      try {
        if (fixture.reopenReadOnly === undefined) {
          t.skip('this adapter has no read-only mode to test');
          return;
        }
        const random = randomFrom(13);
        const address = random(32);
        const ciphertexts = [random(100), random(200)];
        for (const ciphertext of ciphertexts) await fixture.store.deliver(address, 1, ciphertext, 1_000);
        const before = await fixture.store.fetchEpoch(1);
        await fixture.store.close();

        const readOnly = await fixture.reopenReadOnly();
        assert.deepEqual(await readOnly.fetchEpoch(1), before);
        assert.deepEqual(await readOnly.fetchBucket(1, bucketOf(address, 1, 4), 4), before);
        await rejectsWith(readOnly.deliver(address, 1, random(10), 2_000), 'io');
        await rejectsWith(readOnly.deleteBefore(Number.MAX_SAFE_INTEGER), 'io');
        assert.deepEqual(await readOnly.fetchEpoch(1), before, 'readable after the failed writes');
        await readOnly.close();

        const store = await fixture.reopen();
        assert.deepEqual(await store.fetchEpoch(1), before);
        assert.deepEqual(await store.stats(), { messages: 2, bytes: 300, epochs: 1 });
      } finally {
        await fixture.dispose();
      }
    });

    test('a full database: full, nothing partial, earlier data intact, room again after retention', async (t) => {
      const fixture = await makeStore(DEFAULT_OPTIONS);
      try {
        if (fixture.reopenNearlyFull === undefined) {
          t.skip('this adapter has no way to make its database full');
          return;
        }
        const random = randomFrom(14);
        const address = random(32);
        const early = Array.from({ length: 20 }, () => random(2048));
        for (const ciphertext of early) await fixture.store.deliver(address, 1, ciphertext, 1_000);
        const before = await fixture.store.fetchEpoch(1);
        await fixture.store.close();

        const store = await fixture.reopenNearlyFull();
        const accepted: Uint8Array[] = [];
        let refused: Uint8Array | undefined;
        for (let i = 0; i < 10_000 && refused === undefined; i++) {
          const ciphertext = random(2048);
          try {
            await store.deliver(address, 2, ciphertext, 2_000);
            accepted.push(ciphertext);
          } catch (error) {
            assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
            assert.equal(error.kind, 'full', error.message);
            refused = ciphertext;
          }
        }
        assert.ok(refused !== undefined, 'the nearly full database never filled up');
        await rejectsWith(store.deliver(address, 3, refused, 2_000), 'full');
        assert.deepEqual(await store.fetchEpoch(1), before, 'earlier data intact');
        assert.deepEqual((await store.fetchEpoch(2)).map((m) => hexOf(m.ciphertext)), accepted.map(hexOf));
        assert.deepEqual(await store.fetchEpoch(3), []);
        assert.equal((await store.stats()).messages, early.length + accepted.length);

        // Retention frees room for new deliveries.
        assert.equal(await store.deleteBefore(1_500), early.length);
        await store.deliver(address, 3, refused, 3_000);
        assert.deepEqual((await store.fetchEpoch(3)).map((m) => hexOf(m.ciphertext)), [hexOf(refused)]);
        await store.close();

        const reopened = await fixture.reopen();
        assert.equal((await reopened.stats()).messages, accepted.length + 1);
      } finally {
        await fixture.dispose();
      }
    });
  });
}
