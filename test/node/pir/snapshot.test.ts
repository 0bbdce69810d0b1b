/**
 * The PIR snapshot layout (src/pir/snapshot.ts) and the PIR messages
 * (pir-protocol.ts): placement by bucketOf, the Merkle path in every row, overflow windows that
 * never drop an item, row growth, tamper detection, and the wire codec.
 */
import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WasmShardedDatabase, loadWasmScanKernel } from '../../../src/codec/pir-scan/wasm-kernel.js';
import { getCrypto } from '../../../src/crypto/index.js';
import {
  decodePirRequest,
  decodePirResponse,
  encodePirAck,
  encodePirAnswer,
  encodePirChunk,
  encodePirInfo,
  encodePirInfoResponse,
  encodePirOffer,
  encodePirQuery,
  pirOfferSignedBytes,
  pirPartner,
  PIR_OFFER_BYTES,
} from '../../../src/node/provider/pir-protocol.js';
import {
  buildSnapshot,
  chooseRows,
  MIN_PIR_ROWS,
  openRow,
  PirRowError,
  rowBytesOf,
  snapshotRoot,
  type Snapshot,
  type SnapshotItem,
} from '../../../src/pir/snapshot.js';
import { RetrievalRequestError } from '../../../src/node/provider/protocol.js';
import { jsScanKernel, MAX_KEY_BYTES, pirAnswer, pirDecode, pirQuery } from '../../../src/pir/index.js';
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

describe('PIR messages', () => {
  const id = crypto.blake2b(32, Uint8Array.of(1));
  test('requests and responses round-trip', () => {
    assert.deepEqual(decodePirRequest(encodePirInfo(7, 2 ** 40)), { type: 'pir-info', requestId: 7, epoch: 2 ** 40 });
    const dpfKey = new Uint8Array(191).fill(5);
    assert.deepEqual(decodePirRequest(encodePirQuery(8, id, dpfKey)), { type: 'pir-query', requestId: 8, snapshotId: id, key: dpfKey });
    const offer = { epoch: 3, snapshotId: id, rows: 16, slots: 2, slotBytes: 136, origin: ORIGIN, signature: new Uint8Array(64).fill(9) };
    const encoded = encodePirOffer(9, offer);
    assert.equal(encoded.length, PIR_OFFER_BYTES);
    assert.deepEqual(decodePirRequest(encoded), { type: 'pir-offer', requestId: 9, offer });
    assert.deepEqual(decodePirRequest(encodePirChunk(10, id, 4096, Uint8Array.of(1, 2, 3))), { type: 'pir-chunk', requestId: 10, snapshotId: id, offset: 4096, data: Uint8Array.of(1, 2, 3) });
    const info = { epoch: 5, snapshotId: id, rows: 32, slots: 3, slotBytes: 2673, rowBytes: rowBytesOf({ rows: 32, slots: 3, slotBytes: 2673 }) };
    assert.deepEqual(decodePirResponse(encodePirInfoResponse(11, info)), { type: 'pir-info', requestId: 11, info });
    assert.deepEqual(decodePirResponse(encodePirAnswer(12, Uint8Array.of(4, 5))), { type: 'pir-answer', requestId: 12, answer: Uint8Array.of(4, 5) });
    assert.deepEqual(decodePirResponse(encodePirAck(13, true)), { type: 'pir-ack', requestId: 13, complete: true });
    assert.throws(() => decodePirResponse(Uint8Array.of(0x85, 0, 0, 0, 1, 2)), RangeError);
    // The signed bytes bind the partner.
    assert.notDeepEqual(pirOfferSignedBytes(offer, ORIGIN), pirOfferSignedBytes(offer, id));
  });

  test('bad requests are refused with their codes', () => {
    const refused = (bytes: Uint8Array) => {
      try {
        decodePirRequest(bytes);
      } catch (error) {
        assert.ok(error instanceof RetrievalRequestError);
        return [error.code, error.requestId];
      }
      assert.fail('accepted');
    };
    assert.deepEqual(refused(encodePirInfo(3, 1).subarray(0, 12)), ['malformed', 3]);
    assert.deepEqual(refused(encodePirQuery(4, id, new Uint8Array(MAX_KEY_BYTES + 1))), ['key-too-large', 4]);
    assert.deepEqual(refused(encodePirQuery(5, id, new Uint8Array(37))), ['bad-key', 5]);
    assert.deepEqual(refused(encodePirQuery(6, id, new Uint8Array(0)).subarray(0, 20)), ['malformed', 6]);
    assert.deepEqual(refused(encodePirOffer(7, { epoch: 3, snapshotId: id, rows: 16, slots: 2, slotBytes: 136, origin: ORIGIN, signature: new Uint8Array(64) }).subarray(0, 100)), ['malformed', 7]);
    assert.deepEqual(refused(encodePirChunk(8, id, 0, Uint8Array.of(1)).subarray(0, 41)), ['malformed', 8]);
  });

  test('partners: the next provider in node-ID order, cyclically; none with a single provider', () => {
    const node = (n: number, layer = 4) => ({ nodeId: Uint8Array.of(n, ...new Uint8Array(31)), layer, addresses: { link: 'x:1', ws: `x:${n}` } }) as never;
    const doc = { nodes: [node(1), node(2, 3), node(5), node(9)] };
    const partnerOf = (n: number) => (pirPartner(doc, Uint8Array.of(n, ...new Uint8Array(31))) as { nodeId: Uint8Array } | undefined)?.nodeId[0];
    assert.equal(partnerOf(1), 5);
    assert.equal(partnerOf(5), 9);
    assert.equal(partnerOf(9), 1);
    assert.equal(partnerOf(2), undefined, 'a mix is no PIR server');
    assert.equal(pirPartner({ nodes: [node(1)] }, Uint8Array.of(1, ...new Uint8Array(31))), undefined);
  });
});
