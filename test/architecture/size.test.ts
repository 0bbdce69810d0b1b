import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from '../support/vectors.js';

/**
 * Code a newcomer can read in one sitting: no source file over 400 lines and no function over 120.
 * The AEZ port (src/crypto/aez.ts) is one file, in the shape of its specification, so only its
 * functions are held to the limit.
 */
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 120;
const FILE_SIZE_EXEMPT = new Set(['src/crypto/aez.ts']);

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const files = sourceFiles(join(repoRoot, 'src'));

test(`no source file is over ${MAX_FILE_LINES} lines`, () => {
  const long = files
    .filter((file) => !FILE_SIZE_EXEMPT.has(relative(repoRoot, file)))
    .map((file) => ({ file: relative(repoRoot, file), lines: readFileSync(file, 'utf8').split('\n').length }))
    .filter(({ lines }) => lines > MAX_FILE_LINES);
  assert.deepEqual(long, []);
});

test(`no function is over ${MAX_FUNCTION_LINES} lines`, () => {
  const long: string[] = [];
  for (const file of files) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
        const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const last = source.getLineAndCharacterOfPosition(node.end).line;
        if (last - first + 1 > MAX_FUNCTION_LINES) long.push(`${relative(repoRoot, file)}:${first + 1} (${last - first + 1} lines)`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  assert.deepEqual(long, []);
});
