import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sodiumCrypto } from '../../src/crypto/sodium.js';
import { generateUmbraVectors } from './umbra-vectors.js';
import { repoRoot } from './vectors.js';

// Writes test/vectors/umbra-v1/sphinx_vectors.json. Run once when the suite is defined:
//   npm run build && node dist/test/support/write-umbra-vectors.js
const folder = join(repoRoot, 'test', 'vectors', 'umbra-v1');
mkdirSync(folder, { recursive: true });
writeFileSync(join(folder, 'sphinx_vectors.json'), JSON.stringify(generateUmbraVectors(sodiumCrypto), null, 2) + '\n');
console.log(`wrote ${join(folder, 'sphinx_vectors.json')}`);
