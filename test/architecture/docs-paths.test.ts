import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/vectors.js';

/**
 * The docs name files where they are: every `src/…`, `test/…` or `bench/…` path a document names
 * exists, and docs/mail-path.md names at most ten files to read.
 */
const docs = readdirSync(join(repoRoot, 'docs')).filter((name) => name.endsWith('.md'));
const files = [...docs.map((name) => join('docs', name)), 'README.md'];

function namedPaths(text: string): string[] {
  // Paths under dist/ are build output; a `.js` import specifier names its `.ts` source.
  return [...text.matchAll(/(?<![\w/.-])((?:src|test|bench)\/[A-Za-z0-9_./-]*[A-Za-z0-9_])/g)]
    .map((match) => match[1].replace(/\.js$/, '.ts'))
    .filter((path) => !path.includes('*') && !path.endsWith('.wasm'));
}

test('every source path the docs name exists', () => {
  const missing: string[] = [];
  for (const file of files) {
    for (const path of namedPaths(readFileSync(join(repoRoot, file), 'utf8'))) {
      if (!existsSync(join(repoRoot, path))) missing.push(`${file}: ${path}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('docs/mail-path.md names at most ten files to read, each of them present', () => {
  const text = readFileSync(join(repoRoot, 'docs/mail-path.md'), 'utf8');
  const steps = [...text.matchAll(/^\d+\. \*\*`([^`]+)`\*\*/gm)].map((match) => match[1]);
  assert.ok(steps.length > 0 && steps.length <= 10, `${steps.length} files`);
  for (const path of steps) assert.ok(existsSync(join(repoRoot, path)), path);
});
