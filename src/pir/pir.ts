import { ScanError, scanMany, type ScanDatabase, type ScanKernel } from '../codec/pir-scan/types.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { dpfEvalAll, dpfGen } from './dpf.js';
import { PirError } from './errors.js';

/**
 * Two-server PIR over a database of N rows (docs/pir.md): the client sends key b of a DPF for its
 * row index to server b; each server answers with the XOR of the rows its share selects; the XOR
 * of the two answers is the row. Either server alone sees a pseudorandom key that says nothing
 * about the index, as long as the two do not collude.
 */
export interface PirQuery {
  /** keys[b] goes to server b. */
  readonly keys: [Uint8Array, Uint8Array];
}

/** The client's query for row `index` of a database of `rows` rows. */
export function pirQuery(crypto: Crypto, random: RandomSource, index: number, rows: number): PirQuery {
  return { keys: dpfGen(crypto, random, index, rows) };
}

/**
 * A server's answer: evaluates its key over every row and lets the kernel XOR the selected rows.
 * The key must be for database.rows points (else PirError('domain-mismatch')); a kernel refusal is
 * raised as PirError('scan-failed') with the kernel's ScanError as its cause.
 */
export function pirAnswer(crypto: Crypto, key: Uint8Array, database: ScanDatabase, kernel: ScanKernel): Uint8Array {
  const selection = dpfEvalAll(crypto, key, database.rows);
  try {
    return kernel.scan(database, selection);
  } catch (error) {
    if (error instanceof ScanError) throw new PirError('scan-failed', error.message, { cause: error });
    throw error;
  }
}

/**
 * A server's answers to several keys over one database in batched passes (docs/pir.md, "Batched
 * answers"): answer q is byte for byte pirAnswer(crypto, keys[q], database, kernel). Every key is
 * evaluated (and checked) before the scan, so one bad key raises PirError and answers none.
 */
export function pirAnswers(crypto: Crypto, keys: readonly Uint8Array[], database: ScanDatabase, kernel: ScanKernel): Uint8Array[] {
  const selections = keys.map((key) => dpfEvalAll(crypto, key, database.rows));
  try {
    return scanMany(kernel, database, selections);
  } catch (error) {
    if (error instanceof ScanError) throw new PirError('scan-failed', error.message, { cause: error });
    throw error;
  }
}

/** The client's decoding: the row is the XOR of the two servers' answers. */
export function pirDecode(answer0: Uint8Array, answer1: Uint8Array): Uint8Array {
  if (!(answer0 instanceof Uint8Array) || !(answer1 instanceof Uint8Array) || answer0.length !== answer1.length) {
    throw new PirError('answer-mismatch', 'the two answers must be byte arrays of the same length');
  }
  const row = new Uint8Array(answer0.length);
  if (row.length % 4 === 0 && answer0.byteOffset % 4 === 0 && answer1.byteOffset % 4 === 0) {
    const a = new Uint32Array(answer0.buffer, answer0.byteOffset, row.length / 4);
    const b = new Uint32Array(answer1.buffer, answer1.byteOffset, row.length / 4);
    const out = new Uint32Array(row.buffer);
    for (let j = 0; j < out.length; j++) out[j] = a[j] ^ b[j];
  } else {
    for (let j = 0; j < row.length; j++) row[j] = answer0[j] ^ answer1[j];
  }
  return row;
}
