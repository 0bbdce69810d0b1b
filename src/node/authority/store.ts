import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The authority's data directory:
 *   consensus/<epoch>.bin                  signed documents, exactly the bytes served
 *   descriptors/<epoch>/<node ID hex>.bin  the descriptor held for a node and epoch
 *   votes/<epoch>/<authority ID hex>.bin   the votes held (this authority's own included)
 *   candidates/<epoch>.bin                 the document this authority tallied and signed, with
 *                                          the peers' signatures gathered so far
 *   evidence/<epoch>/<authority ID hex>-<1|2>.bin  both votes of an authority that voted twice
 *   loop-reports/<epoch>/<node ID hex>.bin  the latest loop report of each reporter and epoch
 *                                          (mode 0600: what the nodes measured, for this authority only)
 *   probes/<epoch>.json                    this authority's own probe counts of the epoch (mode 0600)
 * Files are written to a temporary name, flushed and renamed, so a crash leaves either the old
 * file or the new one. Documents are written before they are served: a restarted authority
 * serves the same bytes and never signs a second, different document for an epoch.
 */
const EPOCH_NAME = /^(0|[1-9][0-9]{0,15})$/;
const DOCUMENT_NAME = /^(0|[1-9][0-9]{0,15})\.bin$/;
const DESCRIPTOR_NAME = /^([0-9a-f]{64})\.bin$/;
const SUBDIRS = ['consensus', 'descriptors', 'votes', 'candidates', 'evidence', 'loop-reports', 'probes'] as const;
const PROBES_NAME = /^(0|[1-9][0-9]{0,15})\.json$/;
/** Files that are the nodes' measurements or this authority's own, not published documents. */
const PRIVATE_MODE = 0o600;
type Subdir = (typeof SUBDIRS)[number];

export class AuthorityStore {
  private readonly consensusDir: string;
  private readonly descriptorsDir: string;

  constructor(private readonly dataDir: string) {
    for (const name of SUBDIRS) mkdirSync(join(dataDir, name), { recursive: true });
    this.consensusDir = join(dataDir, 'consensus');
    this.descriptorsDir = join(dataDir, 'descriptors');
  }

  writeVote(epoch: number, authorityHex: string, bytes: Uint8Array): void {
    const dir = join(this.dataDir, 'votes', String(epoch));
    mkdirSync(dir, { recursive: true });
    writeAtomically(dir, `${authorityHex}.bin`, bytes);
  }

  /** Both votes of an authority that voted twice for `epoch`: evidence/<epoch>/<authority hex>-<1|2>.bin. */
  writeEvidence(epoch: number, authorityHex: string, votes: readonly [Uint8Array, Uint8Array]): void {
    const dir = join(this.dataDir, 'evidence', String(epoch));
    mkdirSync(dir, { recursive: true });
    votes.forEach((bytes, i) => writeAtomically(dir, `${authorityHex}-${i + 1}.bin`, bytes));
  }

  /** Every stored vote, by epoch then authority ID hex (unparsed: the caller verifies). */
  /** The equivocations kept for `epoch`: authority ID hex → its two votes. */
  readEvidence(epoch: number): Map<string, Uint8Array[]> {
    const found = new Map<string, Uint8Array[]>();
    const dir = join(this.dataDir, 'evidence', String(epoch));
    if (!EPOCH_NAME.test(String(epoch)) || !existsSync(dir)) return found;
    for (const name of readdirSync(dir).sort()) {
      const match = /^([0-9a-f]{64})-[12]\.bin$/.exec(name);
      if (match !== null) found.set(match[1], [...(found.get(match[1]) ?? []), new Uint8Array(readFileSync(join(dir, name)))]);
    }
    return found;
  }

  readVotes(): Map<number, Map<string, Uint8Array>> {
    return this.readTree('votes');
  }

  writeCandidate(epoch: number, bytes: Uint8Array): void {
    writeAtomically(join(this.dataDir, 'candidates'), `${epoch}.bin`, bytes);
  }

  readCandidates(): Map<number, Uint8Array> {
    return readFlat(join(this.dataDir, 'candidates'));
  }

  /** Removes votes and candidates of every epoch below `epoch`, evidence below `evidenceEpoch`. */
  pruneVotingBefore(epoch: number, evidenceEpoch: number): void {
    for (const [kind, before] of [['votes', epoch], ['evidence', evidenceEpoch]] as const) {
      const dir = join(this.dataDir, kind);
      for (const name of readdirSync(dir)) if (EPOCH_NAME.test(name) && Number(name) < before) rmSync(join(dir, name), { recursive: true, force: true });
    }
    const candidates = join(this.dataDir, 'candidates');
    for (const name of readdirSync(candidates)) {
      const match = DOCUMENT_NAME.exec(name);
      if (match !== null && Number(match[1]) < epoch) rmSync(join(candidates, name), { force: true });
    }
  }

  private readTree(kind: Subdir): Map<number, Map<string, Uint8Array>> {
    const all = new Map<number, Map<string, Uint8Array>>();
    const root = join(this.dataDir, kind);
    for (const epochName of readdirSync(root)) {
      if (!EPOCH_NAME.test(epochName)) continue;
      const byKey = new Map<string, Uint8Array>();
      const dir = join(root, epochName);
      for (const name of readdirSync(dir)) {
        const match = DESCRIPTOR_NAME.exec(name);
        if (match !== null) byKey.set(match[1], new Uint8Array(readFileSync(join(dir, name))));
      }
      all.set(Number(epochName), byKey);
    }
    return all;
  }

  /** A reporter's latest loop report for `epoch` (replaces the one held). */
  writeLoopReport(epoch: number, reporterHex: string, bytes: Uint8Array): void {
    const dir = join(this.dataDir, 'loop-reports', String(epoch));
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomically(dir, `${reporterHex}.bin`, bytes, PRIVATE_MODE);
  }

  /** Every stored loop report, by epoch then reporter ID hex (unparsed: the caller verifies). */
  readLoopReports(): Map<number, Map<string, Uint8Array>> {
    return this.readTree('loop-reports');
  }

  /** This authority's probe counts for `epoch` (JSON, written whole). */
  writeProbes(epoch: number, bytes: Uint8Array): void {
    writeAtomically(join(this.dataDir, 'probes'), `${epoch}.json`, bytes, PRIVATE_MODE);
  }

  /** Every stored probe file, by epoch (unparsed: the caller checks). */
  readProbes(): Map<number, Uint8Array> {
    return readFlat(join(this.dataDir, 'probes'), PROBES_NAME);
  }

  /** Removes loop reports and probe counts of every epoch below `epoch`. */
  pruneMeasurementsBefore(epoch: number): void {
    const reports = join(this.dataDir, 'loop-reports');
    for (const name of readdirSync(reports)) if (EPOCH_NAME.test(name) && Number(name) < epoch) rmSync(join(reports, name), { recursive: true, force: true });
    const probes = join(this.dataDir, 'probes');
    for (const name of readdirSync(probes)) {
      const match = PROBES_NAME.exec(name);
      if (match !== null && Number(match[1]) < epoch) rmSync(join(probes, name), { force: true });
    }
  }

  writeDocument(epoch: number, bytes: Uint8Array): void {
    writeAtomically(this.consensusDir, `${epoch}.bin`, bytes);
  }

  /** Every stored document, by epoch (unparsed: the caller verifies). */
  readDocuments(): Map<number, Uint8Array> {
    return readFlat(this.consensusDir);
  }

  deleteDocument(epoch: number): void {
    rmSync(join(this.consensusDir, `${epoch}.bin`), { force: true });
  }

  writeDescriptor(epoch: number, nodeIdHex: string, bytes: Uint8Array): void {
    const dir = join(this.descriptorsDir, String(epoch));
    mkdirSync(dir, { recursive: true });
    writeAtomically(dir, `${nodeIdHex}.bin`, bytes);
  }

  /** Every stored descriptor, by epoch then node ID hex (unparsed: the caller verifies). */
  readDescriptors(): Map<number, Map<string, Uint8Array>> {
    return this.readTree('descriptors');
  }

  /** Removes the descriptors of every epoch below `epoch`. */
  pruneDescriptorsBefore(epoch: number): void {
    for (const name of readdirSync(this.descriptorsDir)) {
      if (EPOCH_NAME.test(name) && Number(name) < epoch) rmSync(join(this.descriptorsDir, name), { recursive: true, force: true });
    }
  }
}

/** `<epoch>.bin` files of a directory, by epoch. */
function readFlat(dir: string, pattern = DOCUMENT_NAME): Map<number, Uint8Array> {
  const files = new Map<number, Uint8Array>();
  for (const name of readdirSync(dir)) {
    const match = pattern.exec(name);
    if (match !== null) files.set(Number(match[1]), new Uint8Array(readFileSync(join(dir, name))));
  }
  return files;
}

function writeAtomically(dir: string, name: string, bytes: Uint8Array, mode = 0o644): void {
  const temporary = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', mode);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, join(dir, name));
  // Make the rename itself durable.
  const dirFd = openSync(dir, 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
