import { nobleCrypto } from './noble.js';
import { sodiumCrypto } from './sodium.js';
import type { BackendName, Crypto } from './types.js';

export * from './errors.js';
export * from './seeded-random.js';
export type { BackendName, Crypto } from './types.js';
export { nobleCrypto, sodiumCrypto };

export const backends: Readonly<Record<BackendName, Crypto>> = { sodium: sodiumCrypto, noble: nobleCrypto };

/** The backend by name; sodium-native is the default on Node. */
export function getCrypto(name: BackendName = 'sodium'): Crypto {
  const backend = backends[name];
  if (backend === undefined) throw new Error(`unknown crypto backend: ${String(name)}`);
  return backend;
}
