import type { Crypto } from '../crypto/types.js';
import type { CipherSuite, SuiteName } from './suite.js';
import { katzenpostSuite } from './suites/katzenpost-x25519.js';
import { umbraV1Suite } from './suites/umbra-v1.js';

export * from './commands.js';
export * from './errors.js';
export * from './geometry.js';
export * from './replay.js';
export * from './sphinx.js';
export type { CipherSuite, HopKeys, SuiteName } from './suite.js';
export { katzenpostSuite, umbraV1Suite };

export const SUITE_NAMES: readonly SuiteName[] = ['umbra-v1', 'katzenpost-x25519'];

export function makeSuite(name: SuiteName, crypto: Crypto): CipherSuite {
  switch (name) {
    case 'umbra-v1': return umbraV1Suite(crypto);
    case 'katzenpost-x25519': return katzenpostSuite(crypto);
    default: throw new Error(`unknown Sphinx suite: ${String(name)}`);
  }
}
