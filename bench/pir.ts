import { availableParallelism } from 'node:os';
import { jsScanKernel } from '../src/codec/pir-scan/js-kernel.js';
import { ParallelScanKernel } from '../src/codec/pir-scan/parallel.js';
import { DEFAULT_SHARD_BYTES, WasmScanKernel, WasmShardedDatabase } from '../src/codec/pir-scan/wasm-kernel.js';
import { backends, getCrypto, seededRandom } from '../src/crypto/index.js';
import { dpfEvalAll, dpfGen, pirAnswer, pirDecode, pirQuery } from '../src/pir/index.js';
import { BATCH, benchBatchedAnswers, fillDatabase } from './pir-batch.js';
import { median, round, timePerOp } from './timing.js';

/**
 * `npm run bench -- pir`: two-server PIR over N = 2^16 mailboxes of 4 KiB rows (a 256 MiB database
 * in 64 MiB shards, each a WebAssembly memory).
 * - Server scan speed in GB/s (10^9 bytes/s) with the WASM SIMD kernel in one thread, with the WASM
 *   kernel on every core (worker threads), and with the plain-JS fallback.
 * - scan_over_floor = WASM scan speed / the speed of a plain WebAssembly read of the same shards
 *   (fold: XOR of every 16-byte word, four v128 accumulators, no selection), both in the same round;
 *   the median over the rounds. Target >= 0.8.
 * - Query and answer bytes per server, client time to make a query and to decode the answers,
 *   server time of one full-domain DPF evaluation at N = 2^16 and 2^20 (both crypto backends),
 *   and a whole server answer (evaluation + WASM scan) at N = 2^16.
 * - Answers per second on one core (CPU time) at N = 2^16 and 2^20, one key at a time and 16 keys
 *   in one batched pass, and batch_speedup (their ratio, per round; target >= 4 at 2^16), with the
 *   wall-clock ratios beside: bench/pir-batch.ts.
 * Needs scan.wasm: `npm run build` (with the kernel build step) or `node dist/src/codec/pir-scan/build-kernel.js`.
 */
const ROUNDS = 5;
const ROWS = 2 ** 16;
const ROW_BYTES = 4096;

function gbPerSecond(bytes: number, ns: number): number {
  return round(bytes / ns, 2);
}

export function benchPir(): Record<string, unknown> {
  const crypto = getCrypto('sodium');
  const random = seededRandom(crypto, 1);
  const database = new WasmShardedDatabase(ROWS, ROW_BYTES, { shardBytes: DEFAULT_SHARD_BYTES });
  fillDatabase(crypto, database);
  const bytes = ROWS * ROW_BYTES;
  const wasm = new WasmScanKernel();
  const threads = availableParallelism();
  const parallel = new ParallelScanKernel(database, { threads, module: wasm.module });

  const index = 40_000;
  const { keys } = pirQuery(crypto, random, index, ROWS);
  const selection = dpfEvalAll(crypto, keys[0], ROWS);
  const foldAll = () => { for (const shard of database.shards) wasm.fold(shard); };

  const floorNs: number[] = [];
  const wasmNs: number[] = [];
  const ratios: number[] = [];
  const parallelNs: number[] = [];
  const jsNs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const floor = timePerOp(4, foldAll);
    const scan = timePerOp(4, () => wasm.scan(database, selection));
    floorNs.push(floor);
    wasmNs.push(scan);
    ratios.push(floor / scan);
    parallelNs.push(timePerOp(4, () => parallel.scan(database, selection)));
    jsNs.push(timePerOp(1, () => jsScanKernel.scan(database, selection)));
  }

  // Correctness of the measured path, and whole answers.
  const answers = keys.map((key) => pirAnswer(crypto, key, database, parallel));
  const correct = pirDecode(answers[0], answers[1]).every((byte, j) => byte === database.row(index)[j]);
  const answerNs = median(Array.from({ length: ROUNDS }, () => timePerOp(3, () => pirAnswer(crypto, keys[0], database, wasm))));
  const answerParallelNs = median(Array.from({ length: ROUNDS }, () => timePerOp(3, () => pirAnswer(crypto, keys[0], database, parallel))));
  void parallel.close();

  const queryNs = median(Array.from({ length: ROUNDS }, () => timePerOp(2000, () => pirQuery(crypto, random, index, ROWS))));
  const decodeNs = median(Array.from({ length: ROUNDS }, () => timePerOp(2000, () => pirDecode(answers[0], answers[1]))));

  const evalMs: Record<string, number> = {};
  for (const backend of Object.values(backends)) {
    for (const [label, domain] of [['2^16', 2 ** 16], ['2^20', 2 ** 20]] as const) {
      const [key] = dpfGen(backend, random, 12_345, domain);
      const iterations = domain > 2 ** 16 ? 5 : 40;
      evalMs[`${backend.name}_${label}`] = round(median(Array.from({ length: ROUNDS }, () => timePerOp(iterations, () => dpfEvalAll(backend, key, domain)))) / 1e6, 3);
    }
  }

  const small = benchBatchedAnswers(crypto, 2 ** 16, 5, 8);
  const large = benchBatchedAnswers(crypto, 2 ** 20, 3, 2);

  return {
    bench: 'pir',
    rows: ROWS,
    row_bytes: ROW_BYTES,
    database_mib: bytes / 2 ** 20,
    shards: database.shards.length,
    shard_mib: DEFAULT_SHARD_BYTES / 2 ** 20,
    threads,
    scan_wasm_gbps: gbPerSecond(bytes, median(wasmNs)),
    scan_wasm_parallel_gbps: gbPerSecond(bytes, median(parallelNs)),
    scan_js_gbps: gbPerSecond(bytes, median(jsNs)),
    floor_wasm_read_gbps: gbPerSecond(bytes, median(floorNs)),
    scan_over_floor: round(median(ratios)),
    query_bytes_per_server: keys[0].length,
    answer_bytes_per_server: answers[0].length,
    client_query_us: round(queryNs / 1000, 1),
    client_decode_us: round(decodeNs / 1000, 2),
    server_eval_all_ms: evalMs,
    server_answer_ms: round(answerNs / 1e6, 2),
    server_answer_parallel_ms: round(answerParallelNs / 1e6, 2),
    batch: BATCH,
    answers_per_sec_single: { '2^16': small.answersPerSecSingle, '2^20': large.answersPerSecSingle },
    answers_per_sec_batched: { '2^16': small.answersPerSecBatched, '2^20': large.answersPerSecBatched },
    batch_speedup: small.speedup,
    batch_speedup_2_20: large.speedup,
    batch_speedup_wall: { '2^16': small.speedupWall, '2^20': large.speedupWall },
    correct: correct && small.correct && large.correct,
  };
}
