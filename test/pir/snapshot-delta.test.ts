/**
 * Snapshot deltas (src/pir/snapshot-delta.ts): a later snapshot of an epoch given as the changes
 * from an earlier one rebuilds byte for byte and verifies against the id; a tampered delta, a
 * delta applied to another base, and a delta whose rows do not hash to the id are all refused.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { getCrypto } from '../../src/crypto/index.js';
import {
  applySnapshotDelta,
  DELTA_HEADER_BYTES,
  encodeSnapshotDelta,
  rebuildFromDelta,
  SnapshotDeltaError,
  type SnapshotRows,
} from '../../src/pir/snapshot-delta.js';
import { buildSnapshot, sealSnapshot, snapshotRoot, type Snapshot, type SnapshotItem } from '../../src/pir/snapshot.js';

const crypto = getCrypto('sodium');
const ORIGIN = crypto.blake2b(32, new TextEncoder().encode('delta origin'));
const EPOCH = 7;
const CAPACITY = 300;
const ROW_BYTES = 4096;
const FC = { seed: Number(process.env.FC_SEED ?? 1), ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }) };

function address(n: number): Uint8Array {
  return crypto.blake2b(32, Uint8Array.of(n >> 8, n & 255));
}

function item(user: number, n: number, length: number): SnapshotItem {
  const ciphertext = new Uint8Array(length);
  ciphertext.set(crypto.blake2b(Math.min(64, length), new TextEncoder().encode(`mail ${n}`)));
  ciphertext[0] = 0x01;
  return { address: address(user), ciphertext };
}

function build(items: readonly SnapshotItem[], sequence = 0, maxRows?: number): Snapshot {
  return buildSnapshot({ crypto, origin: ORIGIN, epoch: EPOCH, items, capacity: CAPACITY, rowBytes: ROW_BYTES, sequence, ...(maxRows === undefined ? {} : { maxRows }) });
}

function rowsOf(snapshot: Snapshot): SnapshotRows {
  const { snapshotId, rows, rowBytes, data } = snapshot;
  return { snapshotId, rows, rowBytes, row: (index) => data.subarray(index * rowBytes, (index + 1) * rowBytes) };
}

/** The rows read from a copy that starts `shift` bytes into its buffer (word alignment differs from the other side). */
function shiftedRowsOf(snapshot: Snapshot, shift: number): SnapshotRows {
  const data = new Uint8Array(snapshot.data.length + shift).subarray(shift);
  data.set(snapshot.data);
  return { ...rowsOf(snapshot), row: (index) => data.subarray(index * snapshot.rowBytes, (index + 1) * snapshot.rowBytes) };
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SnapshotDeltaError, String(error));
    return error.code;
  }
  assert.fail('accepted');
}

/** Items: (user, length) pairs; numbered in order. */
const itemsArb = (min: number, max: number) => fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: CAPACITY })), { minLength: min, maxLength: max });
const toItems = (specs: readonly [number, number][], from = 0) => specs.map(([user, length], i) => item(user, from + i, length));

describe('snapshot deltas', () => {
  test('a later snapshot of the epoch (items added, windows turned) rebuilds byte for byte from base and delta', () => {
    fc.assert(
      fc.property(itemsArb(0, 80), itemsArb(0, 12), fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 3 }), (first, added, turn, limited, shift) => {
        const maxRows = limited ? 40 : undefined;
        const base = build(toItems(first), 0, maxRows);
        const next = build([...toItems(first), ...toItems(added, first.length)], turn, maxRows);
        const delta = encodeSnapshotDelta(shiftedRowsOf(base, shift), rowsOf(next), Infinity);
        assert.ok(delta !== undefined);
        assert.deepEqual(rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), delta), next.data);
      }),
      { numRuns: 60, ...FC },
    );
  });

  test('unrelated snapshots of one row size still rebuild (the delta is then mostly whole rows)', () => {
    fc.assert(
      fc.property(itemsArb(0, 40), itemsArb(0, 40), (one, other) => {
        const base = build(toItems(one));
        const next = build(toItems(other, 1000));
        const delta = encodeSnapshotDelta(rowsOf(base), rowsOf(next), Infinity)!;
        assert.deepEqual(rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), delta), next.data);
      }),
      { numRuns: 30, ...FC },
    );
  });

  test('a few items more cost a small delta; a limit below it gives no delta (the snapshot goes whole)', () => {
    const first = Array.from({ length: 300 }, (_, i) => item(i % 120, i, CAPACITY - (i % 50)));
    const base = build(first);
    const next = build([...first, ...Array.from({ length: 3 }, (_, i) => item(200 + i, 1000 + i, CAPACITY))]);
    assert.equal(next.buckets, base.buckets);
    const delta = encodeSnapshotDelta(rowsOf(base), rowsOf(next), Infinity)!;
    assert.ok(delta.length < 3 * (CAPACITY + 100) + 200, `${delta.length} bytes for 3 items`);
    assert.ok(delta.length * 50 < next.data.length, `${delta.length} of ${next.data.length}`);
    assert.equal(encodeSnapshotDelta(rowsOf(base), rowsOf(next), delta.length - 1), undefined);
    assert.equal(encodeSnapshotDelta(rowsOf(base), rowsOf(next), delta.length)?.length, delta.length);
    // An unchanged snapshot is one copy record.
    assert.equal(encodeSnapshotDelta(rowsOf(base), rowsOf(base), Infinity)?.length, DELTA_HEADER_BYTES + 9);
  });

  test('every change of one byte of a delta is refused (malformed, wrong base, or rows not hashing to the id)', () => {
    const first = Array.from({ length: 60 }, (_, i) => item(i % 30, i, 40 + i));
    const base = build(first);
    const next = build([...first, item(3, 500, 120), item(77, 501, 200), ...Array.from({ length: 8 }, (_, i) => item(5, 600 + i, 90))]);
    const delta = encodeSnapshotDelta(rowsOf(base), rowsOf(next), Infinity)!;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: delta.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const tampered = delta.slice();
        tampered[at] ^= flip;
        refusal(() => rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), tampered));
      }),
      { numRuns: 300, ...FC },
    );
    // Cut short or grown by a byte.
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), delta.subarray(0, delta.length - 1))), 'malformed');
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), Uint8Array.of(...delta, 0))), 'malformed');
  });

  test('a delta applied to another base is refused: another id, or the right id over other rows', () => {
    const first = Array.from({ length: 40 }, (_, i) => item(i % 20, i, 100));
    const base = build(first);
    const next = build([...first, item(1, 99, 100)]);
    const other = build([...first, item(2, 98, 100)]);
    const delta = encodeSnapshotDelta(rowsOf(base), rowsOf(next), Infinity)!;
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, rowsOf(other), delta)), 'wrong-base');
    // A base claiming the right id whose rows are another snapshot's (a lie, or a corrupted copy).
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, { ...rowsOf(other), snapshotId: base.snapshotId }, delta)), 'bad-data');
    // A base of another row size.
    const wide = buildSnapshot({ crypto, origin: ORIGIN, epoch: EPOCH, items: first, capacity: CAPACITY, rowBytes: 2 * ROW_BYTES, sequence: 0 });
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, { ...rowsOf(wide), snapshotId: base.snapshotId }, delta)), 'wrong-base');
  });

  test('a well-formed delta whose rows do not hash to the id is refused, as is one giving a row that does not parse', () => {
    const first = Array.from({ length: 40 }, (_, i) => item(i % 20, i, 100));
    const base = build(first);
    const next = build([...first, item(1, 99, 100)]);
    const delta = encodeSnapshotDelta(rowsOf(base), rowsOf(next), Infinity)!;
    // The right rows under another id, another origin, or another epoch.
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, { ...next, snapshotId: crypto.randomBytes(32) }, rowsOf(base), delta)), 'bad-data');
    assert.equal(refusal(() => rebuildFromDelta(crypto, crypto.randomBytes(32), next, rowsOf(base), delta)), 'bad-data');
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, { ...next, epoch: EPOCH + 1 }, rowsOf(base), delta)), 'bad-data');
    // Rows that hash to nothing the origin signed: a patch of a slot's bytes, re-encoded well formed.
    const forged = next.data.slice();
    forged[ROW_BYTES * 2 + 40] ^= 0xff;
    const forgedDelta = encodeSnapshotDelta(rowsOf(base), { ...rowsOf(next), row: (i) => forged.subarray(i * ROW_BYTES, (i + 1) * ROW_BYTES) }, Infinity)!;
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), forgedDelta)), 'bad-data');
    // A row whose version byte is wrong does not parse.
    const broken = next.data.slice();
    broken[ROW_BYTES * 3] = 9;
    const brokenDelta = encodeSnapshotDelta(rowsOf(base), { ...rowsOf(next), row: (i) => broken.subarray(i * ROW_BYTES, (i + 1) * ROW_BYTES) }, Infinity)!;
    assert.equal(refusal(() => rebuildFromDelta(crypto, ORIGIN, next, rowsOf(base), brokenDelta)), 'bad-data');
  });

  test('malformed deltas: version, unknown record, rows outside either snapshot, ranges out of order, too few or too many rows', () => {
    const base = build(Array.from({ length: 20 }, (_, i) => item(i, i, 50)));
    const shape = base;
    const contentBytes = ROW_BYTES - 640;
    const header = (version = 1) => [version, ...base.snapshotId];
    const u32 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
    const apply = (bytes: number[]) => refusal(() => applySnapshotDelta(shape, rowsOf(base), Uint8Array.from(bytes)));
    assert.equal(apply(header(2)), 'malformed');
    assert.equal(apply([...header(), 0x09]), 'malformed');
    assert.equal(apply([...header(), 0x01, ...u32(0), ...u32(0)]), 'malformed', 'a copy of no rows');
    assert.equal(apply([...header(), 0x01, ...u32(0), ...u32(base.rows + 1)]), 'malformed', 'more rows than the snapshot');
    assert.equal(apply([...header(), 0x01, ...u32(base.rows - 1), ...u32(2), 0x01, ...u32(0), ...u32(base.rows - 2)]), 'malformed', 'base rows past the base');
    assert.equal(apply([...header(), 0x01, ...u32(0), ...u32(base.rows - 1)]), 'malformed', 'a row short');
    assert.equal(apply([...header(), 0x02, ...u32(0), 0, 0]), 'malformed', 'a patch without ranges');
    assert.equal(apply([...header(), 0x02, ...u32(0), 0, 2, ...u32(10), ...u32(1), 5, ...u32(10), ...u32(1), 6]), 'malformed', 'overlapping ranges');
    assert.equal(apply([...header(), 0x02, ...u32(0), 0, 1, ...u32(contentBytes - 1), ...u32(2), 5, 6]), 'malformed', 'a range past the content');
    assert.equal(apply([...header(), 0x02, ...u32(0), 0, 1, ...u32(3), ...u32(0)]), 'malformed', 'an empty range');
    assert.equal(apply([...header(), 0x03, 1, 2, 3]), 'malformed', 'a whole row cut short');
    const ok = [...header(), 0x01, ...u32(0), ...u32(base.rows)];
    assert.deepEqual(rebuildFromDelta(crypto, ORIGIN, base, rowsOf(base), Uint8Array.from(ok)), base.data);
    assert.equal(apply([...ok, 0x01]), 'malformed', 'bytes past the last row');
  });

  test('arbitrary bytes never give anything but a SnapshotDeltaError', () => {
    const base = build(Array.from({ length: 20 }, (_, i) => item(i, i, 50)));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, withHeader) => {
        const delta = withHeader ? Uint8Array.from([1, ...base.snapshotId, ...bytes]) : bytes;
        try {
          rebuildFromDelta(crypto, ORIGIN, base, rowsOf(base), delta);
        } catch (error) {
          assert.ok(error instanceof SnapshotDeltaError, String(error));
        }
      }),
      { numRuns: 300, ...FC },
    );
  });

  test('sealSnapshot writes the same paths buildSnapshot did, over whatever the path area held', () => {
    const snapshot = build(Array.from({ length: 50 }, (_, i) => item(i % 17, i, 60 + i)));
    const data = snapshot.data.slice();
    for (let r = 0; r < snapshot.rows; r++) data.fill(0xaa, r * ROW_BYTES + ROW_BYTES - 640, (r + 1) * ROW_BYTES);
    assert.equal(snapshotRoot(crypto, ORIGIN, snapshot, data), undefined);
    assert.deepEqual(sealSnapshot(crypto, ORIGIN, snapshot, data), snapshot.snapshotId);
    assert.deepEqual(data, snapshot.data);
  });
});
