import { ByteReader, ByteWriter, concatBytes, sameBytes } from '../codec/bytes.js';
import type { Crypto } from '../crypto/types.js';
import { MAX_CONSENSUS_NODES } from './consensus-document.js';
import { PkiError } from './errors.js';
import { compareBytes, isBytes, KEY_BYTES, SIGNATURE_BYTES } from './fields.js';

/**
 * A mix's loop report (docs/network.md, "Reliability"): for the loops it sent in one epoch whose
 * fate is known, how many there were and how many were lost, in total and per node they crossed.
 * Signed with the reporting node's identity key (its node ID); a later report for the same epoch
 * (larger serial) replaces an earlier one.
 */
export interface LoopCounts {
  /** Loops whose fate is known (returned or given up). */
  readonly sent: number;
  readonly lost: number;
}

export interface LoopReportEntry extends LoopCounts {
  readonly nodeId: Uint8Array;
}

export interface LoopReport {
  readonly epoch: number;
  /** Orders a reporter's reports for one epoch: the Unix milliseconds at which it signed. */
  readonly serial: number;
  readonly reporter: Uint8Array;
  readonly total: LoopCounts;
  /** Strictly ascending by node ID; never the reporter itself. */
  readonly nodes: readonly LoopReportEntry[];
  readonly signature: Uint8Array;
}

export const LOOP_REPORT_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x52]); // "UMBR"
export const LOOP_REPORT_VERSION = 1;
export const LOOP_REPORT_SIGNATURE_LABEL = new TextEncoder().encode('umbra loop report v1');
const ENTRY_BYTES = KEY_BYTES + 4 + 4;
/** magic, version, epoch, serial, reporter, total, count, entries, signature. */
export const MAX_LOOP_REPORT_BYTES = 4 + 1 + 8 + 8 + KEY_BYTES + 8 + 2 + MAX_CONSENSUS_NODES * ENTRY_BYTES + SIGNATURE_BYTES;
const MAX_COUNT = 0xffffffff;

function countsProblem(counts: LoopCounts): string | undefined {
  const ok = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= MAX_COUNT;
  if (!ok(counts.sent) || !ok(counts.lost)) return 'a count is not an integer in 0..2^32 − 1';
  if (counts.lost > counts.sent) return 'more loops lost than sent';
  return undefined;
}

function reportProblem(report: Omit<LoopReport, 'signature'>): string | undefined {
  if (!Number.isSafeInteger(report.epoch) || report.epoch < 0) return 'the epoch is not a non-negative safe integer';
  if (!Number.isSafeInteger(report.serial) || report.serial < 0) return 'the serial is not a non-negative safe integer';
  if (!isBytes(report.reporter, KEY_BYTES)) return 'the reporter is not 32 bytes';
  const total = countsProblem(report.total);
  if (total !== undefined) return total;
  if (report.nodes.length > MAX_CONSENSUS_NODES) return `at most ${MAX_CONSENSUS_NODES} nodes`;
  for (let i = 0; i < report.nodes.length; i++) {
    const entry = report.nodes[i];
    if (!isBytes(entry.nodeId, KEY_BYTES)) return 'a node ID is not 32 bytes';
    if (sameBytes(entry.nodeId, report.reporter)) return 'a reporter does not report on itself';
    if (i > 0 && compareBytes(report.nodes[i - 1].nodeId, entry.nodeId) >= 0) return 'nodes are not in strictly ascending node-ID order';
    const counts = countsProblem(entry);
    if (counts !== undefined) return counts;
    if (entry.sent > report.total.sent || entry.lost > report.total.lost) return "a node's counts exceed the totals";
  }
  return undefined;
}

function reportBody(report: Omit<LoopReport, 'signature'>): Uint8Array {
  const writer = new ByteWriter(128 + report.nodes.length * ENTRY_BYTES)
    .bytes(LOOP_REPORT_MAGIC)
    .u8(LOOP_REPORT_VERSION)
    .u64(report.epoch)
    .u64(report.serial)
    .bytes(report.reporter)
    .u32(report.total.sent)
    .u32(report.total.lost)
    .u16(report.nodes.length);
  for (const entry of report.nodes) writer.bytes(entry.nodeId).u32(entry.sent).u32(entry.lost);
  return writer.finish();
}

/** Makes and signs a report ('invalid' when a rule is broken); nodes in any order. */
export function makeLoopReport(crypto: Crypto, identitySeed: Uint8Array, fields: Omit<LoopReport, 'signature' | 'reporter'>): { report: LoopReport; bytes: Uint8Array } {
  if (!isBytes(identitySeed, KEY_BYTES)) throw new PkiError('invalid', 'loop report: the identity seed is not 32 bytes');
  const unsigned = {
    epoch: fields.epoch,
    serial: fields.serial,
    reporter: crypto.ed25519PublicKey(identitySeed),
    total: { sent: fields.total.sent, lost: fields.total.lost },
    nodes: [...fields.nodes].sort((a, b) => compareBytes(a.nodeId, b.nodeId)).map((e) => ({ nodeId: e.nodeId.slice(), sent: e.sent, lost: e.lost })),
  };
  const problem = reportProblem(unsigned);
  if (problem !== undefined) throw new PkiError('invalid', `loop report: ${problem}`);
  const body = reportBody(unsigned);
  const signature = crypto.ed25519Sign(identitySeed, concatBytes(LOOP_REPORT_SIGNATURE_LABEL, body));
  return { report: { ...unsigned, signature }, bytes: concatBytes(body, signature) };
}

/** Parses and verifies a report: 'malformed' (size, structure, rules), then 'bad-signature'. */
export function decodeLoopReport(crypto: Crypto, bytes: Uint8Array): LoopReport {
  const malformed = (detail: string): PkiError => new PkiError('malformed', `loop report: ${detail}`);
  if (!(bytes instanceof Uint8Array)) throw malformed('not bytes');
  if (bytes.length > MAX_LOOP_REPORT_BYTES) throw malformed(`over ${MAX_LOOP_REPORT_BYTES} bytes`);
  if (bytes.length < SIGNATURE_BYTES) throw malformed('too short');
  const body = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  let unsigned: Omit<LoopReport, 'signature'>;
  try {
    const reader = new ByteReader(body, 'loop report');
    if (!sameBytes(reader.bytesOf(4, 'magic'), LOOP_REPORT_MAGIC)) throw malformed('not a loop report');
    const version = reader.u8('version');
    if (version !== LOOP_REPORT_VERSION) throw malformed(`unknown version ${version}`);
    const epoch = reader.u64('epoch');
    const serial = reader.u64('serial');
    const reporter = reader.bytesOf(KEY_BYTES, 'reporter');
    const total = { sent: reader.u32('sent'), lost: reader.u32('lost') };
    const count = reader.u16('node count');
    if (count > MAX_CONSENSUS_NODES) throw malformed(`over ${MAX_CONSENSUS_NODES} nodes`);
    const nodes: LoopReportEntry[] = [];
    for (let i = 0; i < count; i++) nodes.push({ nodeId: reader.bytesOf(KEY_BYTES, 'node ID'), sent: reader.u32('sent'), lost: reader.u32('lost') });
    reader.end();
    unsigned = { epoch, serial, reporter, total, nodes };
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw malformed(error instanceof Error ? error.message : 'does not parse');
  }
  const problem = reportProblem(unsigned);
  if (problem !== undefined) throw malformed(problem);
  const signature = bytes.slice(bytes.length - SIGNATURE_BYTES);
  if (!crypto.ed25519Verify(unsigned.reporter, concatBytes(LOOP_REPORT_SIGNATURE_LABEL, body), signature)) {
    throw new PkiError('bad-signature', "loop report: the reporter's signature does not verify");
  }
  return { ...unsigned, signature };
}
