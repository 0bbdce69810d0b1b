import { join } from 'node:path';
import { hexOf } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import { parseKey32 } from './config.js';
import { readFileIfExists, writeFileAtomic } from './files.js';

export const IDENTITY_SEED_FILE = 'identity.seed';
export const LINK_SEED_FILE = 'link.seed';

/**
 * A node's 32-byte seed: the one in the configuration if given (nothing is written then), else the
 * one saved in `<dataDir>/<file>` (64 hex digits or base64url, one line), else a fresh random one,
 * saved there (mode 0600) so the node keeps its identity across restarts. A file that exists but
 * does not hold a seed is an error: an identity is never replaced silently.
 */
export function loadOrCreateSeed(crypto: Crypto, dataDir: string, file: string, given: Uint8Array | undefined): { seed: Uint8Array; created: boolean } {
  if (given !== undefined) return { seed: new Uint8Array(given), created: false };
  const path = join(dataDir, file);
  const stored = readFileIfExists(path);
  if (stored !== undefined) {
    const seed = parseKey32(new TextDecoder().decode(stored).trim());
    if (seed === undefined) throw new Error(`${path} does not hold a 32-byte seed (64 hex digits or base64url)`);
    return { seed, created: false };
  }
  const seed = crypto.randomBytes(32);
  writeFileAtomic(path, `${hexOf(seed)}\n`);
  return { seed, created: true };
}
