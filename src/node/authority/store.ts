import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The authority's data directory:
 *   consensus/<epoch>.bin                  signed documents, exactly the bytes served
 *   descriptors/<epoch>/<node ID hex>.bin  the descriptor held for a node and epoch
 * Files are written to a temporary name, flushed and renamed, so a crash leaves either the old
 * file or the new one. Documents are written before they are served: a restarted authority
 * serves the same bytes and never signs a second, different document for an epoch.
 */
const EPOCH_NAME = /^(0|[1-9][0-9]{0,15})$/;
const DOCUMENT_NAME = /^(0|[1-9][0-9]{0,15})\.bin$/;
const DESCRIPTOR_NAME = /^([0-9a-f]{64})\.bin$/;

export class AuthorityStore {
  private readonly consensusDir: string;
  private readonly descriptorsDir: string;

  constructor(dataDir: string) {
    this.consensusDir = join(dataDir, 'consensus');
    this.descriptorsDir = join(dataDir, 'descriptors');
    mkdirSync(this.consensusDir, { recursive: true });
    mkdirSync(this.descriptorsDir, { recursive: true });
  }

  writeDocument(epoch: number, bytes: Uint8Array): void {
    writeAtomically(this.consensusDir, `${epoch}.bin`, bytes);
  }

  /** Every stored document, by epoch (unparsed: the caller verifies). */
  readDocuments(): Map<number, Uint8Array> {
    const documents = new Map<number, Uint8Array>();
    for (const name of readdirSync(this.consensusDir)) {
      const match = DOCUMENT_NAME.exec(name);
      if (match === null) continue;
      documents.set(Number(match[1]), new Uint8Array(readFileSync(join(this.consensusDir, name))));
    }
    return documents;
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
    const all = new Map<number, Map<string, Uint8Array>>();
    for (const epochName of readdirSync(this.descriptorsDir)) {
      if (!EPOCH_NAME.test(epochName)) continue;
      const byNode = new Map<string, Uint8Array>();
      const dir = join(this.descriptorsDir, epochName);
      for (const name of readdirSync(dir)) {
        const match = DESCRIPTOR_NAME.exec(name);
        if (match !== null) byNode.set(match[1], new Uint8Array(readFileSync(join(dir, name))));
      }
      all.set(Number(epochName), byNode);
    }
    return all;
  }

  /** Removes the descriptors of every epoch below `epoch`. */
  pruneDescriptorsBefore(epoch: number): void {
    for (const name of readdirSync(this.descriptorsDir)) {
      if (EPOCH_NAME.test(name) && Number(name) < epoch) rmSync(join(this.descriptorsDir, name), { recursive: true, force: true });
    }
  }
}

function writeAtomically(dir: string, name: string, bytes: Uint8Array): void {
  const temporary = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', 0o644);
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
