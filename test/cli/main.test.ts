import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
