import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { umbra } from './run-umbra.js';

describe('umbra sim', () => {
  it('bad input: one clear line and exit code 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-sim-'));
    const notJson = join(dir, 'bad.json');
    writeFileSync(notJson, '{ nope');
    const badParams = join(dir, 'params.json');
    writeFileSync(badParams, JSON.stringify({ network: { mixing: { meanDelayMs: -1 } } }));
    for (const args of [
      ['sim', '--users', 'many'],
      ['sim', '--strategy', 'pool:10'],
      ['sim', '--preset', 'tor'],
      ['sim', '--corrupt', 'mix-7-1'],
      ['sim', '--duration-s', '10', '--warmup-s', '10'],
      ['sim', '--params', join(dir, 'missing.json')],
      ['sim', '--params', notJson],
      ['sim', '--params', badParams],
      ['sim', '--frobnicate'],
      ['sim', '--log-window-s', '0'],
    ]) {
      const { status, stdout, stderr } = umbra(...args);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.equal(stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line`);
      assert.match(stderr, /^umbra: /);
    }
  });

  it('runs a small seeded network from a parameter file and prints its figures as JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-sim-'));
    const params = join(dir, 'authority.json');
    writeFileSync(params, JSON.stringify({ epochMs: 60_000, network: { mixing: { meanDelayMs: 200, maxDelayMs: 4000 } } }));
    const args = ['sim', '--params', params, '--users', '60', '--duration-s', '30', '--warmup-s', '10', '--mails-per-day', '5000', '--seed', '3', '--json'];
    const first = umbra(...args);
    assert.equal(first.status, 0, first.stderr);
    const summary = JSON.parse(first.stdout) as { users: number; measured: number; sender: { entropy: { mean: number } }; latencyMs: { network: { median: number } } };
    assert.equal(summary.users, 60);
    assert.ok(summary.measured > 10);
    assert.ok(summary.sender.entropy.mean > 1 && summary.sender.entropy.mean <= Math.log2(60) + 1e-9);
    assert.ok(summary.latencyMs.network.median > 200 && summary.latencyMs.network.median < 4 * 4000);
    const again = JSON.parse(umbra(...args).stdout) as typeof summary;
    assert.deepEqual(again.sender, summary.sender, 'seeded runs repeat');
    const windowed = umbra(...args, '--log-window-s', '8');
    assert.equal(windowed.status, 0, windowed.stderr);
    const w = JSON.parse(windowed.stdout) as typeof summary;
    assert.ok(w.measured > 3 && w.measured < summary.measured, `a log window measures the mail of its first half: ${w.measured}`);
    assert.ok(Math.abs(w.sender.entropy.mean - summary.sender.entropy.mean) < 1, `${w.sender.entropy.mean} against ${summary.sender.entropy.mean}`);
  });

  it('sim report --quick rewrites only the generated part of the page', () => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-sim-'));
    const page = join(dir, 'privacy.md');
    writeFileSync(
      page,
      '# Privacy\n\nhand-written\n\n<!-- BEGIN GENERATED: umbra sim report -->\nold\n<!-- END GENERATED -->\n\nmiddle\n\n' +
        '<!-- BEGIN GENERATED: umbra sim attack report -->\nold attacks\n<!-- END GENERATED: umbra sim attack report -->\n\ntail\n',
    );
    const { status, stderr } = umbra('sim', 'report', '--quick', '--out', page);
    assert.equal(status, 0, stderr);
    const text = readFileSync(page, 'utf8');
    assert.match(text, /^# Privacy\n\nhand-written\n/);
    assert.match(text, /\ntail\n$/);
    assert.doesNotMatch(text, /\nold\n/);
    assert.match(text, /\| umbra: Umbra's defaults \| 40 \|/);
    assert.match(text, /\n\nmiddle\n\n/);
    assert.doesNotMatch(text, /\nold attacks\n/);
    assert.match(text, /### Statistical disclosure attack\n/);
    assert.match(text, /\| umbra: Umbra's defaults, at the target's gateway \| 2 \| 100% \|/);
    assert.match(readFileSync(join(dir, 'privacy', 'entropy-vs-users.svg'), 'utf8'), /^<svg /);
  });

  it('sim attack: bad input gives one line and exit code 2; n-1 and sda print JSON', () => {
    for (const args of [
      ['sim', 'attack'],
      ['sim', 'attack', 'flood'],
      ['sim', 'attack', 'n-1', '--node', 'provider-1'],
      ['sim', 'attack', 'n-1', '--loss', 'lots'],
      ['sim', 'attack', 'n-1', '--strategy', 'threshold:10'],
      ['sim', 'attack', 'sda', '--rounds', '0'],
      ['sim', 'attack', 'sda', '--users', 'many'],
    ]) {
      const { status, stdout, stderr } = umbra(...args);
      assert.equal(status, 2, `${args.join(' ')}: ${stderr}`);
      assert.equal(stdout, '');
      assert.equal(stderr.trimEnd().split('\n').length, 1, `${args.join(' ')}: one line`);
    }
    const n1 = umbra('sim', 'attack', 'n-1', '--users', '20', '--warmup-s', '5', '--trials', '1', '--json');
    assert.equal(n1.status, 0, n1.stderr);
    const result = JSON.parse(n1.stdout) as { success: number; detected: number; trials: unknown[] };
    assert.equal(result.trials.length, 1);
    assert.equal(result.success, 1);
    const sda = umbra('sim', 'attack', 'sda', '--users', '20', '--warmup-s', '5', '--rounds', '20', '--no-cover', '--json');
    assert.equal(sda.status, 0, sda.stderr);
    assert.ok((JSON.parse(sda.stdout) as { rounds: number }).rounds > 10);
  });
});
