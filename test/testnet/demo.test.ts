/**
 * The README's main command, exactly as `npm start` runs it (`umbra up --demo --web --fresh`): on a
 * fresh network with the default test-network epochs (8 s), Alice's mail reaches Bob and Bob's ACK
 * reaches Alice; then the network view, the demo users' web clients and their mail bridges stay up
 * until Ctrl-C, and the command exits 0. The ACK must leave Bob in the epoch of its SURB; this
 * failed when copies were resent late in an epoch (each missing its window again) and when a poll's
 * snapshot was dropped by a rebuild under it. The demo agents' logs (logs/alice.log, logs/bob.log)
 * name no subject.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const START_ARGS = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')).scripts.start.split(' ').slice(2, -2) as string[];

/** The first line a server on 127.0.0.1:`port` sends (an IMAP or SMTP greeting). */
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.once('data', (line: string) => {
      socket.destroy();
      resolve(line);
    });
    socket.once('error', reject);
  });
}

test('npm start (umbra up --demo --web): the mail arrives and is acknowledged, the pages and bridges answer, Ctrl-C exits 0', async (t) => {
  assert.deepEqual(START_ARGS, ['up', '--demo', '--web', '--fresh'], 'the arguments of `npm start`, but for its --dir');
  const dir = mkdtempSync(join(tmpdir(), 'umbra-demo-'));
  const child = spawn(process.execPath, [MAIN, ...START_ARGS, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let onOutput = (): void => undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    onOutput();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // The demo gives up on its own after 120 s; this limit only ends a stuck process.
  const limit = setTimeout(() => child.kill('SIGKILL'), 300_000);
  // One hook, in this order: a failed assertion leaves `umbra up` running, and Ctrl-C lets it stop
  // its nodes (a directory removed under running nodes fails, and a hook that throws skips the rest).
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await exited;
    }
    clearTimeout(limit);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  const running = await Promise.race([
    new Promise<true>((resolve) => (onOutput = () => void (output.includes('running until Ctrl-C') && resolve(true)))),
    exited.then(() => false),
  ]);
  assert.ok(running, output);
  assert.match(output, /bob received "Hello from the mix network" from alice/);
  assert.match(output, /alice's mail was acknowledged by bob's agent/);
  assert.match(output, /the mail arrived and was acknowledged in [\d.]+ s/);

  const view = /network view: (http:\/\/127\.0\.0\.1:\d+\/?\S*)/.exec(output)?.[1];
  assert.ok(view !== undefined, output);
  assert.equal((await fetch(view)).status, 200, 'the network view answers');
  for (const user of ['alice', 'bob']) {
    const web = new RegExp(`web client of ${user}: (\\S+) \\(token (\\S+)\\)`).exec(output);
    assert.ok(web !== null, output);
    assert.equal((await fetch(web[1])).status, 200, `${user}'s web client answers`);
    const status = await fetch(new URL('/api/v1/status', web[1]), { headers: { authorization: `Bearer ${web[2]}` } });
    assert.equal(status.status, 200, `${user}'s API answers with the printed token`);
    const bridge = new RegExp(`mail bridge of ${user}: IMAP 127\\.0\\.0\\.1:(\\d+), SMTP 127\\.0\\.0\\.1:(\\d+)`).exec(output);
    assert.ok(bridge !== null, output);
    assert.match(await greeting(Number(bridge[1])), /^\* OK/, `${user}'s IMAP greets`);
    assert.match(await greeting(Number(bridge[2])), /^220 /, `${user}'s SMTP greets`);
  }

  child.kill('SIGINT');
  assert.equal(await exited, 0, output);
  const logs = readFileSync(join(dir, 'logs', 'alice.log'), 'utf8') + readFileSync(join(dir, 'logs', 'bob.log'), 'utf8');
  assert.match(logs, /sent mail #1 is delivered/);
  assert.match(logs, /received mail #1/);
  assert.doesNotMatch(logs, /Hello from the mix network/, 'no subject in the agents\' logs');
});
