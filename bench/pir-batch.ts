import { DEFAULT_SHARD_BYTES, WasmScanKernel, WasmShardedDatabase } from '../src/codec/pir-scan/wasm-kernel.js';
import { seededRandom, type Crypto } from '../src/crypto/index.js';
import { pirAnswer, pirAnswers, pirQuery } from '../src/pir/index.js';
import { median, round } from './timing.js';

/**
 * Batched PIR answers (docs/pir.md, "Batched answers"), part of `npm run bench -- pir`: whole
 * server answers (DPF evaluation + scan) per second on one core, one key at a time against 16 keys
 * in one batched pass, over N = 2^16 and 2^20 rows of 4 KiB (256 MiB and 4 GiB). Each round times
 * half the single answers, the batch, then the other half, on the same database; batch_speedup is
 * the median of the rounds' ratios. Per core: the times are the process's CPU time (this part runs
 * on one thread), so time the process spends waiting for a core on a busy machine is not counted;
 * the wall-clock figures are reported beside them.
 */
export const BATCH = 16;
const ROW_BYTES = 4096;

export interface BatchFigures {
  readonly answersPerSecSingle: number;
  readonly answersPerSecBatched: number;
  readonly speedup: number;
  readonly speedupWall: number;
  readonly correct: boolean;
}

/** Fills the shards with ChaCha20 keystream (content does not matter for timing, only for the check). */
export function fillDatabase(crypto: Crypto, database: WasmShardedDatabase): void {
  const key = new Uint8Array(32).fill(7);
  database.shards.forEach((shard, i) => {
    const nonce = new Uint8Array(8);
    new DataView(nonce.buffer).setUint32(0, i);
    shard.data.set(crypto.chacha20Xor(key, nonce, new Uint8Array(shard.data.length)));
  });
}

/** The CPU time (user + system) and the wall-clock time of run(), in ns. */
function timesOf(run: () => void): { cpu: number; wall: number } {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  run();
  const wall = Number(process.hrtime.bigint() - start);
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) * 1000, wall };
}

/** Single against batched answers over `rows` rows, `rounds` rounds of `singles` single answers and one batch. */
export function benchBatchedAnswers(crypto: Crypto, rows: number, rounds: number, singles: number): BatchFigures {
  const database = new WasmShardedDatabase(rows, ROW_BYTES, { shardBytes: DEFAULT_SHARD_BYTES });
  fillDatabase(crypto, database);
  const kernel = new WasmScanKernel();
  const random = seededRandom(crypto, rows);
  const keys = Array.from({ length: BATCH }, (_, q) => pirQuery(crypto, random, (q * 40_503) % rows, rows).keys[0]);
  // Warm-up, and the check that batching changes no answer's bytes.
  const batched = pirAnswers(crypto, keys, database, kernel);
  const correct = keys.every((key, q) => pirAnswer(crypto, key, database, kernel).every((byte, j) => byte === batched[q][j]));
  const singleNs: number[] = [];
  const batchedNs: number[] = [];
  const ratios: number[] = [];
  const wallRatios: number[] = [];
  const half = Math.max(1, singles >> 1);
  for (let r = 0; r < rounds; r++) {
    const singleRun = () => { for (let i = 0; i < half; i++) pirAnswer(crypto, keys[(r + i) % BATCH], database, kernel); };
    const before = timesOf(singleRun);
    const batch = timesOf(() => pirAnswers(crypto, keys, database, kernel));
    const afterwards = timesOf(singleRun);
    const single = { cpu: (before.cpu + afterwards.cpu) / (2 * half), wall: (before.wall + afterwards.wall) / (2 * half) };
    singleNs.push(single.cpu);
    batchedNs.push(batch.cpu / BATCH);
    ratios.push(single.cpu / (batch.cpu / BATCH));
    wallRatios.push(single.wall / (batch.wall / BATCH));
  }
  return {
    answersPerSecSingle: round(1e9 / median(singleNs), 1),
    answersPerSecBatched: round(1e9 / median(batchedNs), 1),
    speedup: round(median(ratios), 2),
    speedupWall: round(median(wallRatios), 2),
    correct,
  };
}
