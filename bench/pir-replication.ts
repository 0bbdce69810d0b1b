import { getCrypto } from '../src/crypto/index.js';
import { buildSnapshot, snapshotRoot, type Snapshot, type SnapshotItem } from '../src/pir/snapshot.js';
import { encodeSnapshotDelta, rebuildFromDelta, type SnapshotRows } from '../src/pir/snapshot-delta.js';
import { median, round } from './timing.js';

/**
 * `npm run bench -- pir-replication`: what replicating a rebuilt snapshot to the partner costs,
 * whole against as a delta from the previous snapshot of the epoch (docs/pir.md, "Snapshot
 * lifecycle (provider)"). Epochs of BASE items (2 589-byte ciphertexts, one per address, 16 KiB
 * rows, as in "Costs"), then ADDED items more. Per case: the bytes sent (whole: rows × rowBytes;
 * delta: its length; pir-chunk headers and TLS excluded, the same for both), and the partner's work
 * in ms, medians of ROUNDS interleaved rounds: its check of a whole copy (snapshotRoot) against its
 * rebuild from the delta (apply + tree + root, rebuildFromDelta), and the origin's delta encoding.
 */
const CASES: readonly { base: number; added: number }[] = [
  { base: 1000, added: 10 },
  { base: 1000, added: 100 },
  { base: 4000, added: 10 },
];
const ROUNDS = 5;
const ROW_BYTES = 16_384;
const CAPACITY = 2637;
const CIPHERTEXT_BYTES = 2589;

function items(crypto: ReturnType<typeof getCrypto>, from: number, count: number): SnapshotItem[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const ciphertext = new Uint8Array(CIPHERTEXT_BYTES);
    for (let at = 0; at < CIPHERTEXT_BYTES; at += 64) ciphertext.set(crypto.blake2b(64, Uint8Array.of(n >> 16, (n >> 8) & 255, n & 255, at >> 6)).subarray(0, Math.min(64, CIPHERTEXT_BYTES - at)), at);
    ciphertext[0] = 0x01;
    return { address: crypto.blake2b(32, Uint8Array.of(9, n >> 16, (n >> 8) & 255, n & 255)), ciphertext };
  });
}

function rowsOf(snapshot: Snapshot): SnapshotRows {
  const { snapshotId, rows, rowBytes, data } = snapshot;
  return { snapshotId, rows, rowBytes, row: (index) => data.subarray(index * rowBytes, (index + 1) * rowBytes) };
}

function timed<T>(run: () => T): [T, number] {
  const start = performance.now();
  const result = run();
  return [result, performance.now() - start];
}

export function benchPirReplication(): Record<string, unknown> {
  const crypto = getCrypto('sodium');
  const origin = crypto.blake2b(32, new TextEncoder().encode('bench origin'));
  const results: Record<string, unknown>[] = [];
  for (const { base: baseCount, added } of CASES) {
    const first = items(crypto, 0, baseCount);
    const build = (list: SnapshotItem[], sequence: number) => buildSnapshot({ crypto, origin, epoch: 5, items: list, capacity: CAPACITY, rowBytes: ROW_BYTES, sequence });
    const base = build(first, 0);
    const next = build([...first, ...items(crypto, baseCount, added)], 1);
    const check: number[] = [];
    const rebuild: number[] = [];
    const encode: number[] = [];
    let deltaBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved: the floor (the whole copy's check) and the delta's work in the same round.
      const [root, checkMs] = timed(() => snapshotRoot(crypto, origin, next, next.data));
      if (root === undefined) throw new Error('the whole snapshot does not verify');
      const [delta, encodeMs] = timed(() => encodeSnapshotDelta(rowsOf(base), rowsOf(next), Math.floor(next.data.length / 2)));
      if (delta === undefined) throw new Error('no delta');
      const [data, rebuildMs] = timed(() => rebuildFromDelta(crypto, origin, next, rowsOf(base), delta));
      if (data.length !== next.data.length) throw new Error('wrong rebuild');
      deltaBytes = delta.length;
      check.push(checkMs);
      rebuild.push(rebuildMs);
      encode.push(encodeMs);
    }
    const wholeBytes = next.rows * next.rowBytes;
    results.push({
      items: `${baseCount} + ${added}`,
      rows: `${base.rows} -> ${next.rows}`,
      whole_bytes: wholeBytes,
      delta_bytes: deltaBytes,
      delta_over_whole: round(deltaBytes / wholeBytes, 5),
      partner_check_whole_ms: round(median(check), 1),
      partner_rebuild_delta_ms: round(median(rebuild), 1),
      rebuild_over_check: round(median(rebuild.map((ms, i) => ms / check[i])), 2),
      origin_encode_delta_ms: round(median(encode), 1),
    });
  }
  return { bench: 'pir-replication', rounds: ROUNDS, row_bytes: ROW_BYTES, cases: results };
}
