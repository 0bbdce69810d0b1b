/**
 * The PIR snapshot layout (src/pir/snapshot.ts): placement by bucketOf, the Merkle path in every
 * row, overflow windows that never drop an item, row growth and tamper detection.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasmShardedDatabase, loadWasmScanKernel } from '../../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto } from '../../../src/crypto/index.js';
import {
  buildSnapshot,
  chooseRows,
  MAX_PIR_ROW_BYTES,
  MIN_PIR_ROWS,
  openRow,
  PirRowError,
  rowBytesOf,
  shapeProblem,
  snapshotRoot,
  type Snapshot,
  type SnapshotItem,
} from '../../../src/pir/snapshot.js';
import { jsScanKernel, pirAnswer, pirDecode, pirQuery } from '../../../src/pir/index.js';
import { bucketHash, bucketOf } from '../../../src/store/mailbox.js';

const crypto = getCrypto('sodium');
const ORIGIN = crypto.blake2b(32, new TextEncoder().encode('origin'));
const EPOCH = 42;
const CAPACITY = 100;

function address(label: string): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`address ${label}`));
}

function ciphertext(label: string, length = 40): Uint8Array {
  const out = new Uint8Array(length);
  out.set(crypto.blake2b(Math.min(64, length), new TextEncoder().encode(label)));
  out[0] = 0x01;
  return out;
}

function build(items: SnapshotItem[], options: { sequence?: number; maxSlots?: number; origin?: Uint8Array } = {}): Snapshot {
  return buildSnapshot({
    crypto, origin: options.origin ?? ORIGIN, epoch: EPOCH, items, capacity: CAPACITY,
    sequence: options.sequence ?? 0, maxSlots: options.maxSlots ?? 1000,
  });
}

function row(snapshot: Snapshot, index: number): Uint8Array {
  return snapshot.data.slice(index * snapshot.rowBytes, (index + 1) * snapshot.rowBytes);
}

function key(item: SnapshotItem): string {
  return Buffer.from(item.address).toString('hex') + Buffer.from(item.ciphertext).toString('hex');
}

describe('snapshot layout', () => {
  const items: SnapshotItem[] = [];
  for (let i = 0; i < 40; i++) items.push({ address: address(`user ${i % 25}`), ciphertext: ciphertext(`message ${i}`, 20 + i) });

  test('every item sits in the row of its bucket, and every row verifies against the id', () => {
    const snapshot = build(items);
    assert.ok(snapshot.rows >= MIN_PIR_ROWS && (snapshot.rows & (snapshot.rows - 1)) === 0);
    assert.equal(snapshot.rowBytes, rowBytesOf(snapshot));
    assert.equal(snapshot.slotBytes, 36 + CAPACITY);
    assert.equal(snapshot.data.length, snapshot.rows * snapshot.rowBytes);
    assert.equal(snapshot.placed, items.length);
    assert.equal(snapshot.omitted, 0);
    const seen = new Set<string>();
    for (let r = 0; r < snapshot.rows; r++) {
      const opened = openRow(crypto, ORIGIN, snapshot, r, row(snapshot, r));
      assert.equal(opened.total, opened.items.length);
      for (const item of opened.items) {
        assert.equal(bucketOf(item.address, EPOCH, snapshot.rows), r);
        seen.add(key(item));
      }
    }
    assert.deepEqual([...seen].sort(), items.map(key).sort());
    // A partner recomputes the same id from the data.
    assert.deepEqual(snapshotRoot(crypto, ORIGIN, snapshot, snapshot.data), snapshot.snapshotId);
  });

  test('the id binds the content, the origin and the epoch', () => {
    const a = build(items);
    assert.deepEqual(build(items).snapshotId, a.snapshotId, 'deterministic');
    assert.notDeepEqual(build(items, { origin: address('another provider') }).snapshotId, a.snapshotId);
    assert.notDeepEqual(build(items.slice(1)).snapshotId, a.snapshotId);
    const empty = build([]);
    assert.equal(empty.rows, MIN_PIR_ROWS);
    assert.equal(empty.slots, 1);
    for (let r = 0; r < empty.rows; r++) assert.deepEqual(openRow(crypto, ORIGIN, empty, r, row(empty, r)).items, []);
    // A row opened under another origin, index or snapshot does not verify.
    const r = bucketOf(items[0].address, EPOCH, a.rows);
    assert.throws(() => openRow(crypto, address('another provider'), a, r, row(a, r)), (e: unknown) => e instanceof PirRowError && e.code === 'bad-proof');
    assert.throws(() => openRow(crypto, ORIGIN, a, r ^ 1, row(a, r)), (e: unknown) => e instanceof PirRowError && e.code === 'bad-proof');
    assert.throws(() => openRow(crypto, ORIGIN, a, r, row(a, r).subarray(1)), (e: unknown) => e instanceof PirRowError && e.code === 'bad-length');
  });

  test('a flipped bit anywhere in a row is detected', () => {
    const snapshot = build(items);
    const r = bucketOf(items[3].address, EPOCH, snapshot.rows);
    const good = row(snapshot, r);
    const positions = [0, 4, 9, 13, 16, 16 + 31, 16 + 33, 16 + 36, 16 + 36 + 7, snapshot.rowBytes - 1, snapshot.rowBytes - 40];
    for (let i = 0; i < 40; i++) positions.push((i * 7919) % snapshot.rowBytes);
    for (const position of positions) {
      for (const bit of [0, 7]) {
        const bad = good.slice();
        bad[position] ^= 1 << bit;
        assert.throws(() => openRow(crypto, ORIGIN, snapshot, r, bad), PirRowError, `byte ${position} bit ${bit}`);
      }
    }
    // And a partner refuses replicated data with a flipped bit, in a slot or in a path.
    for (const position of [r * snapshot.rowBytes + 20, (r + 1) * snapshot.rowBytes - 1]) {
      const data = snapshot.data.slice();
      data[position] ^= 0x10;
      const root = snapshotRoot(crypto, ORIGIN, snapshot, data);
      assert.ok(root === undefined || !Buffer.from(root).equals(snapshot.snapshotId));
    }
  });

  test('rows grow to the fullest bucket: nothing is left out while it fits', () => {
    const hot = address('popular');
    const many = Array.from({ length: 23 }, (_, i) => ({ address: hot, ciphertext: ciphertext(`hot ${i}`) }));
    const snapshot = build([...many, ...items]);
    assert.ok(snapshot.slots >= 23);
    assert.equal(snapshot.omitted, 0);
    const r = bucketOf(hot, EPOCH, snapshot.rows);
    const opened = openRow(crypto, ORIGIN, snapshot, r, row(snapshot, r));
    assert.equal(opened.items.filter((item) => Buffer.from(item.address).equals(hot)).length, 23);
  });

  test('overflow: a bucket beyond maxSlots shows a turning window; the row says how many there are; no item is dropped', () => {
    const hot = address('flooded');
    const flood = Array.from({ length: 11 }, (_, i) => ({ address: hot, ciphertext: ciphertext(`flood ${i}`) }));
    const maxSlots = 4;
    const union = new Set<string>();
    const rounds = Math.ceil(flood.length / maxSlots);
    for (let sequence = 0; sequence < rounds; sequence++) {
      const snapshot = build(flood, { sequence, maxSlots });
      assert.equal(snapshot.slots, maxSlots);
      assert.equal(snapshot.omitted, flood.length - maxSlots);
      const r = bucketOf(hot, EPOCH, snapshot.rows);
      const opened = openRow(crypto, ORIGIN, snapshot, r, row(snapshot, r));
      assert.equal(opened.total, flood.length, 'the client learns there is more');
      assert.equal(opened.items.length, maxSlots);
      assert.equal(opened.first, (sequence * maxSlots) % flood.length);
      for (const item of opened.items) union.add(key(item));
    }
    assert.equal(union.size, flood.length, `all ${flood.length} items within ${rounds} consecutive snapshots`);
  });

  // Without the row bound the hot bucket below sets 400 slots in every row (about 1 MiB a row,
  // 16 MiB in all, for 0.8 MiB of mail), and the shape passes shapeProblem.
  test('one hot bucket: every row stays within the bound, the overflow is reported, the rest comes in later snapshots', () => {
    const capacity = 2637;
    const hot = address('hot mailbox');
    const flood = Array.from({ length: 400 }, (_, i) => ({ address: hot, ciphertext: ciphertext(`hot ${i}`, 2000) }));
    const others = items.slice(0, 10);
    const union = new Set<string>();
    let rounds = 0;
    for (let sequence = 0; union.size < flood.length && sequence < 20; sequence++) {
      // maxSlots as a provider with 8 MiB responses would allow.
      const snapshot = buildSnapshot({ crypto, origin: ORIGIN, epoch: EPOCH, items: [...flood, ...others], capacity, sequence, maxSlots: 3000 });
      assert.ok(snapshot.rowBytes <= MAX_PIR_ROW_BYTES, `row of ${snapshot.rowBytes} bytes`);
      assert.ok(snapshot.data.length <= snapshot.rows * MAX_PIR_ROW_BYTES);
      assert.ok(snapshot.slots < flood.length);
      assert.equal(snapshot.omitted, flood.length - snapshot.slots, 'the overflow is reported');
      assert.equal(snapshot.placed, snapshot.slots + others.length, 'the other buckets lose nothing');
      const r = bucketOf(hot, EPOCH, snapshot.rows);
      const opened = openRow(crypto, ORIGIN, snapshot, r, row(snapshot, r));
      assert.equal(opened.total, flood.length, 'the client learns how many there are');
      for (const item of opened.items) if (Buffer.from(item.address).equals(hot)) union.add(key(item));
      rounds++;
    }
    assert.equal(union.size, flood.length, 'every item arrives in a later snapshot');
    assert.ok(rounds <= 5, `${rounds} snapshots`);
    // Parties refuse a shape beyond the bound (a snapshot laid out without it).
    const slotBytes = 36 + capacity;
    assert.match(shapeProblem({ epoch: EPOCH, rows: 16, slots: 400, slotBytes }) ?? '', /at most/);
    assert.equal(shapeProblem({ epoch: EPOCH, rows: 16, slots: 1, slotBytes: 36 + (1 << 20) }), undefined, 'one slot is always allowed');
  });

  test('oversized ciphertexts are counted, not placed', () => {
    const snapshot = build([{ address: address('x'), ciphertext: ciphertext('too big', CAPACITY + 1) }, ...items.slice(0, 3)]);
    assert.equal(snapshot.oversized, 1);
    assert.equal(snapshot.placed, 3);
  });

  test('the row count follows the load: many addresses get more rows, one hot address keeps the minimum', () => {
    const spread = Array.from({ length: 2000 }, (_, i) => bucketHash(address(`spread ${i}`), EPOCH));
    const wide = chooseRows(spread, 1000);
    assert.ok(wide.rows > MIN_PIR_ROWS, `rows ${wide.rows}`);
    assert.ok(wide.slots < 40, `slots ${wide.slots}`);
    const hot = Array.from({ length: 500 }, () => bucketHash(address('hot'), EPOCH));
    assert.deepEqual(chooseRows([...hot, ...spread.slice(0, 20)], 1000).rows, MIN_PIR_ROWS);
  });

  test('two-server PIR over a snapshot (JS and WASM kernels) decodes to a row that verifies', () => {
    const snapshot = build(items);
    const wasm = loadWasmScanKernel();
    const sharded = new WasmShardedDatabase(snapshot.rows, snapshot.rowBytes, { shardBytes: 3 * snapshot.rowBytes });
    sharded.load(snapshot.data);
    const flat = { rows: snapshot.rows, rowBytes: snapshot.rowBytes, data: snapshot.data };
    for (const item of items.slice(0, 5)) {
      const index = bucketOf(item.address, EPOCH, snapshot.rows);
      const { keys } = pirQuery(crypto, (n) => crypto.randomBytes(n), index, snapshot.rows);
      const decoded = pirDecode(pirAnswer(crypto, keys[0], flat, jsScanKernel), pirAnswer(crypto, keys[1], sharded, wasm));
      const opened = openRow(crypto, ORIGIN, snapshot, index, decoded);
      assert.ok(opened.items.some((found) => key(found) === key(item)));
    }
  });
});
