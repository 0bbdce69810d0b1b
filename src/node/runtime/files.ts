import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Small, careful file helpers for a node's data directory: atomic writes (temporary file, fsync,
 * rename), private modes (0700 directories, 0600 files), and overwrite-before-unlink for secrets.
 */
export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}

/** Writes `bytes` to `path` atomically: a reader sees the old content or the new, never a mix. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  ensureDir(dirname(path));
  const temporary = `${path}.tmp-${process.pid}`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** The file's bytes, or undefined when it does not exist. Other errors are thrown. */
export function readFileIfExists(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Overwrites a secret file with zeros, then deletes it (best effort on the overwrite). */
export function destroyFile(path: string): void {
  try {
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, new Uint8Array(size), 0, size, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // already gone, or not writable: the unlink below still runs
  }
  rmSync(path, { force: true });
}
