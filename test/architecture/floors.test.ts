import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../support/vectors.js';

/**
 * The code's floors (DESIGN.md): a file imports only from its own floor or below, and floor-2
 * protocol cores are pure (no sockets, files, timers, wall clock or ambient randomness).
 */
const FLOORS: Record<string, number> = {
  crypto: 1, codec: 1, store: 1,
  sphinx: 2, pki: 2, mixing: 2, pir: 2, e2e: 2, traffic: 2, wire: 2,
  net: 3, node: 3, client: 3,
  cli: 4, api: 4, mail: 4, testnet: 4, sim: 4,
};
const IMPURE_MODULES = /^(node:)?(fs|fs\/promises|net|tls|http|https|http2|dgram|dns|child_process|cluster|worker_threads|timers|timers\/promises|readline|os|process)$/;
const IMPURE_CALLS = /\b(Date\.now|new Date|setTimeout|setInterval|setImmediate|Math\.random|performance\.now|process\.hrtime)\s*\(/;

const srcRoot = join(repoRoot, 'src');

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function topFolder(path: string): string {
  return relative(srcRoot, path).split(/[\\/]/)[0];
}

function floorOf(path: string): number | undefined {
  return FLOORS[topFolder(path)];
}

function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) found.push(match[1]);
  return found;
}

const files = sourceFiles(srcRoot);

test('every source folder belongs to a floor', () => {
  for (const file of files) {
    if (file.endsWith('.d.ts')) continue;
    assert.notEqual(floorOf(file), undefined, `${relative(repoRoot, file)} is outside every floor`);
  }
});

test('files import only from their own floor or below', () => {
  for (const file of files) {
    const own = floorOf(file);
    if (own === undefined) continue;
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier);
      const floor = floorOf(target);
      assert.ok(floor !== undefined && floor <= own,
        `${relative(repoRoot, file)} (floor ${own}) imports ${specifier} (floor ${floor ?? 'none'})`);
    }
  }
});

test('floor-2 protocol cores do no I/O and read no clock or ambient randomness', () => {
  for (const file of files) {
    if (floorOf(file) !== 2) continue;
    const text = readFileSync(file, 'utf8');
    for (const specifier of importsOf(text)) {
      assert.doesNotMatch(specifier, IMPURE_MODULES, `${relative(repoRoot, file)} imports ${specifier}`);
    }
    const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    assert.doesNotMatch(code, IMPURE_CALLS, `${relative(repoRoot, file)} reads the clock, a timer or Math.random`);
  }
});

test('client and nodes are siblings: neither imports the other (what they share is in src/wire or src/net)', () => {
  const sibling: Record<string, string> = { client: 'node', node: 'client' };
  for (const file of files) {
    const forbidden = sibling[topFolder(file)];
    if (forbidden === undefined) continue;
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      if (!specifier.startsWith('.')) continue;
      assert.notEqual(topFolder(resolve(dirname(file), specifier)), forbidden, `${relative(repoRoot, file)} imports ${specifier}`);
    }
  }
});
