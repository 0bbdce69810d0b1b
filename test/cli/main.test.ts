import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { umbra } from './run-umbra.js';

const PACKAGE = fileURLToPath(new URL('../../../package.json', import.meta.url));

describe('umbra command line', () => {
  it('an unknown command exits 2 with one line on stderr', () => {
    const { status, stdout, stderr } = umbra('frobnicate');
    assert.equal(status, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^umbra: unknown command 'frobnicate'/);
    assert.equal(stderr.trimEnd().split('\n').length, 1, 'one line, no stack trace');
  });

  it('up --dir: a file, or a directory up did not make, is one line and exit code 2; --fresh never deletes such a directory', () => {
    const root = mkdtempSync(join(tmpdir(), 'umbra-up-dir-'));
    try {
      const file = join(root, 'a-file');
      writeFileSync(file, 'keep');
      const precious = join(root, 'precious');
      const mine = join(precious, 'notes.txt');
      mkdirSync(precious);
      writeFileSync(mine, 'my notes');
      for (const [args, pattern] of [
        [['up', '--dir', file], /is not a directory/],
        [['up', '--fresh', '--dir', precious], /not a network directory of umbra up/],
        [['up', '--dir', precious], /not a network directory of umbra up/],
      ] as const) {
        const { status, stderr } = umbra(...args);
        assert.equal(status, 2, stderr);
        assert.match(stderr, pattern);
        assert.equal(stderr.trimEnd().split('\n').length, 1, 'one line, no stack trace');
      }
      assert.equal(readFileSync(mine, 'utf8'), 'my notes', 'nothing deleted');
      assert.equal(readFileSync(file, 'utf8'), 'keep');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('help and version', () => {
    for (const args of [['help'], ['--help'], []]) {
      const { status, stdout } = umbra(...args);
      assert.equal(status, 0);
      assert.match(stdout, /umbra sphinx-walk \[options\]/);
      assert.match(stdout, /umbra up .*\[--demo\]/);
    }
    // Any subcommand asked for help shows it, with whatever else is given; an unknown one does not.
    for (const args of [['sim', '--help'], ['up', '-h'], ['client', 'send', '--to', 'bob', '--help'], ['authority', '--help']]) {
      const { status, stdout, stderr } = umbra(...args);
      assert.equal(status, 0, `${args.join(' ')}: ${stderr}`);
      assert.match(stdout, /umbra sim \[options\]/);
    }
    assert.equal(umbra('frobnicate', '--help').status, 2);
    assert.equal(umbra('client', 'send', '--body', '--', '--help').status === 0, false, 'after --, --help is an argument');
    const manifest = JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string };
    for (const args of [['version'], ['--version']]) {
      const { status, stdout } = umbra(...args);
      assert.equal(status, 0);
      assert.equal(stdout, `umbra ${manifest.version}\n`);
    }
  });
});
