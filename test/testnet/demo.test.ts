/**
 * The README's main command (`npm start` = `umbra up --demo --fresh`): on a fresh network with the
 * default test-network epochs (8 s), Alice's mail reaches Bob and Bob's ACK reaches Alice, so the
 * command exits 0. The ACK must leave Bob in the epoch of its SURB; this failed when copies were
 * resent late in an epoch (each missing its window again) and when a poll's snapshot was dropped by
 * a rebuild under it. The demo agents' logs (logs/alice.log, logs/bob.log) name no subject.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('umbra up --demo: the mail arrives and is acknowledged, and the command exits 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-demo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [MAIN, 'up', '--demo', '--fresh', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // The demo gives up on its own after 120 s; this limit only ends a stuck process.
  const limit = setTimeout(() => child.kill('SIGKILL'), 300_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(limit);
  assert.equal(code, 0, output);
  assert.match(output, /bob received "Hello from the mix network" from alice/);
  assert.match(output, /alice's mail was acknowledged by bob's agent/);
  assert.match(output, /the mail arrived and was acknowledged in [\d.]+ s/);
  const logs = readFileSync(join(dir, 'logs', 'alice.log'), 'utf8') + readFileSync(join(dir, 'logs', 'bob.log'), 'utf8');
  assert.match(logs, /sent mail #1 is delivered/);
  assert.match(logs, /received mail #1/);
  assert.doesNotMatch(logs, /Hello from the mix network/, 'no subject in the agents\' logs');
});
