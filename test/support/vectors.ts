import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/...). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/**
 * Reads a vector file. External vectors are read from ../shared/vectors when that folder sits beside
 * the checkout (so an update there is tested at once), else from the copy committed under test/vectors.
 */
export function readVectors<T>(relativePath: string): T {
  const shared = join(repoRoot, '..', 'shared', 'vectors', relativePath);
  const committed = join(repoRoot, 'test', 'vectors', relativePath);
  const path = existsSync(shared) ? shared : committed;
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function hex(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
