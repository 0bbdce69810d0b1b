/**
 * The PIR snapshot layout (src/pir/snapshot.ts, src/pir/snapshot-pages.ts): rows of the fixed
 * size the consensus gives, a mailbox's items split over pages, the Merkle path in every row, a
 * row limit that turns windows but never drops an item, tamper detection.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasmShardedDatabase, loadWasmScanKernel } from '../../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { layoutPages, pagesOf, rowOfPage, runPage } from '../../../src/pir/snapshot-pages.js';
import {
  buildSnapshot,
  MIN_PIR_BUCKETS,
  openRow,
  PirRowError,
  shapeProblem,
  slotsPerPage,
  snapshotRoot,
  type OpenedRow,
  type Snapshot,
  type SnapshotItem,
} from '../../../src/pir/snapshot.js';
import { jsScanKernel, pirAnswer, pirDecode, pirQuery } from '../../../src/pir/index.js';
import { bucketOf } from '../../../src/store/mailbox.js';

const crypto = getCrypto('sodium');
const ORIGIN = crypto.blake2b(32, new TextEncoder().encode('origin'));
const EPOCH = 42;
const CAPACITY = 100;
const ROW_BYTES = 4096;

function address(label: string): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`address ${label}`));
}

function ciphertext(label: string, length = 40): Uint8Array {
  const out = new Uint8Array(length);
  out.set(crypto.blake2b(Math.min(64, length), new TextEncoder().encode(label)));
  out[0] = 0x01;
  return out;
}

function build(items: SnapshotItem[], options: { sequence?: number; maxRows?: number; origin?: Uint8Array; capacity?: number; rowBytes?: number } = {}): Snapshot {
  return buildSnapshot({
    crypto, origin: options.origin ?? ORIGIN, epoch: EPOCH, items, capacity: options.capacity ?? CAPACITY,
    rowBytes: options.rowBytes ?? ROW_BYTES, sequence: options.sequence ?? 0, ...(options.maxRows === undefined ? {} : { maxRows: options.maxRows }),
  });
}

function row(snapshot: Snapshot, index: number): Uint8Array {
  return snapshot.data.slice(index * snapshot.rowBytes, (index + 1) * snapshot.rowBytes);
}

function key(item: SnapshotItem): string {
  return Buffer.from(item.address).toString('hex') + Buffer.from(item.ciphertext).toString('hex');
}

/** Every page of `target`'s bucket this snapshot carries, opened. */
function pagesFor(snapshot: Snapshot, target: Uint8Array): OpenedRow[] {
  const bucket = bucketOf(target, EPOCH, snapshot.buckets);
  const first = openRow(crypto, ORIGIN, snapshot, bucket, row(snapshot, bucket));
  const pages = [first];
  for (let page = 1; page < first.pages; page++) {
    const r = rowOfPage(first.extra, first.pages, page);
    if (r !== undefined) pages.push(openRow(crypto, ORIGIN, snapshot, r, row(snapshot, r)));
  }
  return pages;
}

describe('snapshot layout', () => {
  const items: SnapshotItem[] = [];
  for (let i = 0; i < 40; i++) items.push({ address: address(`user ${i % 25}`), ciphertext: ciphertext(`message ${i}`, 20 + i) });

  test('every item sits on a page of its bucket, every row has the fixed size and verifies against the id', () => {
    const snapshot = build(items);
    assert.equal(snapshot.rowBytes, ROW_BYTES);
    assert.equal(snapshot.slots, slotsPerPage(ROW_BYTES, 36 + CAPACITY));
    assert.ok(snapshot.buckets >= MIN_PIR_BUCKETS && snapshot.rows >= snapshot.buckets);
    assert.equal(snapshot.data.length, snapshot.rows * ROW_BYTES);
    assert.equal(snapshot.placed, items.length);
    assert.equal(snapshot.omitted, 0);
    const seen = new Set<string>();
    for (let r = 0; r < snapshot.rows; r++) {
      const opened = openRow(crypto, ORIGIN, snapshot, r, row(snapshot, r));
      if (r < snapshot.buckets) assert.equal(opened.bucket, r);
      for (const item of opened.items) {
        assert.equal(bucketOf(item.address, EPOCH, snapshot.buckets), opened.bucket);
        seen.add(key(item));
      }
    }
    assert.deepEqual([...seen].sort(), items.map(key).sort());
    assert.deepEqual(snapshotRoot(crypto, ORIGIN, snapshot, snapshot.data), snapshot.snapshotId);
    assert.equal(shapeProblem(snapshot), undefined);
  });

  test('the id binds the content, the origin and the epoch', () => {
    const a = build(items);
    assert.deepEqual(build(items).snapshotId, a.snapshotId, 'deterministic');
    assert.notDeepEqual(build(items, { origin: address('another provider') }).snapshotId, a.snapshotId);
    assert.notDeepEqual(build(items.slice(1)).snapshotId, a.snapshotId);
    const empty = build([]);
    assert.equal(empty.rows, MIN_PIR_BUCKETS);
    for (let r = 0; r < empty.rows; r++) assert.deepEqual(openRow(crypto, ORIGIN, empty, r, row(empty, r)).items, []);
    const r = bucketOf(items[0].address, EPOCH, a.buckets);
    assert.throws(() => openRow(crypto, address('another provider'), a, r, row(a, r)), (e: unknown) => e instanceof PirRowError && e.code === 'bad-proof');
    assert.throws(() => openRow(crypto, ORIGIN, a, r ^ 1, row(a, r)), (e: unknown) => e instanceof PirRowError && e.code === 'bad-proof');
    assert.throws(() => openRow(crypto, ORIGIN, a, r, row(a, r).subarray(1)), (e: unknown) => e instanceof PirRowError && e.code === 'bad-length');
  });

  test('a flipped bit in a row\'s content or path is detected', () => {
    const snapshot = build(items);
    const r = bucketOf(items[3].address, EPOCH, snapshot.buckets);
    const good = row(snapshot, r);
    const depth = Math.ceil(Math.log2(snapshot.rows));
    const pathStart = ROW_BYTES - 640;
    const positions = [0, 4, 9, 13, 16, 20, 31, 32, 32 + 33, 32 + 36 + 7, pathStart, pathStart + depth * 32 - 1];
    for (let i = 0; i < 40; i++) positions.push((i * 7919) % (pathStart + depth * 32));
    for (const position of positions) {
      const bad = good.slice();
      bad[position] ^= 1;
      assert.throws(() => openRow(crypto, ORIGIN, snapshot, r, bad), PirRowError, `byte ${position}`);
    }
    const data = snapshot.data.slice();
    data[r * ROW_BYTES + 40] ^= 0x10;
    const root = snapshotRoot(crypto, ORIGIN, snapshot, data);
    assert.ok(root === undefined || !Buffer.from(root).equals(snapshot.snapshotId));
  });

  // With format 1 the hot bucket below set about 97 slots in every row (256 KiB rows, 16 rows: 4 MiB
  // to scan and 256 KiB per answer for 0.8 MiB of mail); now it adds pages of its own.
  test('one hot bucket: rows keep their size, the bucket gets pages of its own, the amplification is bounded', () => {
    const capacity = 2637;
    const rowBytes = 16_384;
    const hot = address('hot mailbox');
    const flood = Array.from({ length: 400 }, (_, i) => ({ address: hot, ciphertext: ciphertext(`hot ${i}`, 2000) }));
    const others = items.slice(0, 10);
    const snapshot = build([...flood, ...others], { capacity, rowBytes });
    const slots = slotsPerPage(rowBytes, 36 + capacity);
    assert.equal(snapshot.rowBytes, rowBytes, 'the row size is the consensus\'s');
    assert.equal(snapshot.omitted, 0);
    assert.ok(snapshot.rows <= snapshot.buckets + Math.ceil((flood.length + others.length) / slots), `${snapshot.rows} rows`);
    const got = pagesFor(snapshot, hot).flatMap((page) => page.items).filter((item) => Buffer.from(item.address).equals(hot));
    assert.equal(got.length, flood.length, 'every item of the hot mailbox is on its pages');
    assert.deepEqual(snapshotRoot(crypto, ORIGIN, snapshot, snapshot.data), snapshot.snapshotId);
  });

  test('at the row limit a bucket shows a turning window of its pages; none is dropped', () => {
    const hot = address('flooded');
    const slots = slotsPerPage(ROW_BYTES, 36 + CAPACITY);
    const flood = Array.from({ length: slots * 9 }, (_, i) => ({ address: hot, ciphertext: ciphertext(`flood ${i}`) }));
    const union = new Set<string>();
    for (let sequence = 0; sequence < 4; sequence++) {
      const snapshot = build(flood, { sequence, maxRows: MIN_PIR_BUCKETS + 3 });
      assert.equal(snapshot.rows, MIN_PIR_BUCKETS + 3);
      assert.equal(snapshot.omitted, flood.length - 4 * slots);
      for (const page of pagesFor(snapshot, hot)) for (const item of page.items) union.add(key(item));
    }
    assert.equal(union.size, flood.length, 'all pages within ⌈8 / 3⌉ + 1 consecutive snapshots');
  });

  test('layoutPages and rowOfPage agree', () => {
    const layout = layoutPages([0, 11, 3, 30], 3, 4 + 6, 5);
    assert.equal(layout.rows, 10);
    assert.equal(layout.omittedPages, 3 + 9 - 6);
    for (const [b, total] of [[1, 11], [3, 30]] as const) {
      const run = layout.runs[b];
      const pages = pagesOf(total, 3);
      for (let i = 0; i < run.count; i++) assert.equal(rowOfPage(run, pages, runPage(run, pages, i)), run.row + i);
    }
  });

  test('oversized ciphertexts are counted, not placed', () => {
    const snapshot = build([{ address: address('x'), ciphertext: ciphertext('too big', CAPACITY + 1) }, ...items.slice(0, 3)]);
    assert.equal(snapshot.oversized, 1);
    assert.equal(snapshot.placed, 3);
  });

  test('two-server PIR over a snapshot (JS and WASM kernels) decodes to a row that verifies', () => {
    const snapshot = build(items);
    const wasm = loadWasmScanKernel();
    const sharded = new WasmShardedDatabase(snapshot.rows, snapshot.rowBytes, { shardBytes: 3 * snapshot.rowBytes });
    sharded.load(snapshot.data);
    const flat = { rows: snapshot.rows, rowBytes: snapshot.rowBytes, data: snapshot.data };
    for (const item of items.slice(0, 5)) {
      const index = bucketOf(item.address, EPOCH, snapshot.buckets);
      const { keys } = pirQuery(crypto, (n) => crypto.randomBytes(n), index, snapshot.rows);
      const decoded = pirDecode(pirAnswer(crypto, keys[0], flat, jsScanKernel), pirAnswer(crypto, keys[1], sharded, wasm));
      const opened = openRow(crypto, ORIGIN, snapshot, index, decoded);
      assert.ok(opened.items.some((found) => key(found) === key(item)));
    }
  });
});
