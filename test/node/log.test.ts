import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { nodeLogOf, processLogger } from '../../src/cli/process-log.js';
import { umbra } from '../cli/run-umbra.js';
import { ThrottledLog, type LogFields, type LogLevel } from '../../src/node/log.js';

test('a throttled kind logs its first event at once, then one line per interval counting the held-back ones', () => {
  let now = 0;
  const lines: [string, LogLevel | undefined, LogFields | undefined][] = [];
  const log = new ThrottledLog((line, level, fields) => lines.push([line, level, fields]), () => now, 1_000);
  log.note('a', 'refused', 'warn', { reason: 'x' });
  log.note('a', 'refused', 'warn', { reason: 'x' });
  log.note('b', 'other', 'info');
  now = 500;
  log.note('a', 'refused', 'warn', { reason: 'x' }, 3);
  now = 1_000;
  log.note('a', 'refused', 'warn', { reason: 'x' });
  assert.deepEqual(lines, [
    ['refused', 'warn', { reason: 'x' }],
    ['other', 'info', {}],
    ['refused', 'warn', { reason: 'x', count: 5 }],
  ]);
});

test('the process logger writes one JSON object per line, with the level by name and the component split off', () => {
  const out: string[] = [];
  const sink = new Writable({ write(chunk, _encoding, done) { out.push(String(chunk)); done(); } });
  const logger = processLogger('mix', 'info', sink);
  const log = nodeLogOf(logger.child({ node: 'mix-1-1' }));
  log('node: epoch 5 begins');
  log('link: refused a link connection', 'warn', { reason: 'unknown-peer' });
  log('node: routine detail', 'debug');
  const lines = out.join('').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(lines.length, 2, 'debug is below the level');
  assert.equal(lines[0].level, 'info');
  assert.equal(lines[0].component, 'node');
  assert.equal(lines[0].msg, 'epoch 5 begins');
  assert.equal(lines[0].node, 'mix-1-1');
  assert.equal(lines[0].role, 'mix');
  assert.equal(typeof lines[0].time, 'string');
  assert.equal(lines[0].hostname, undefined);
  assert.deepEqual([lines[1].level, lines[1].component, lines[1].reason], ['warn', 'link', 'unknown-peer']);
});

test('--log-level takes debug, info, warn or error', () => {
  const result = umbra('mix', '--config', 'missing.json', '--log-level', 'loud');
  assert.equal(result.status, 2);
  assert.match(result.stderr, /--log-level' must be one of debug, info, warn, error/);
});
