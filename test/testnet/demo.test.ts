/**
 * The README's main command, exactly as `npm start` runs it (`umbra up --demo --web --fresh`): on a
 * fresh network with the default test-network epochs (8 s), Alice's mail reaches Bob and Bob's ACK
 * reaches Alice; then the network view, the demo users' web clients and their mail bridges stay up
 * until Ctrl-C (Alice's mail program submits a mail by SMTP and Bob's, in IMAP IDLE, sees it
 * arrive), and the command exits 0. The ACK must leave Bob in the epoch of its SURB; this
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
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const START_ARGS = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')).scripts.start.split(' ').slice(2, -2) as string[];

interface BridgeLogin {
  readonly imapPort: number;
  readonly smtpPort: number;
  readonly user: string;
  readonly password: string;
}

/** A user's mail bridge settings as `umbra up` prints them. */
function bridgeOf(output: string, user: string): BridgeLogin {
  const line = new RegExp(`mail bridge of ${user}: IMAP 127\\.0\\.0\\.1:(\\d+), SMTP 127\\.0\\.0\\.1:(\\d+), STARTTLS, user (\\S+), password (\\S+)`).exec(output);
  assert.ok(line !== null, output);
  return { imapPort: Number(line[1]), smtpPort: Number(line[2]), user: line[3], password: line[4] };
}

/** An IMAP client on a demo bridge (its certificate is the install's own: trusted here as a mail program's exception would). */
function imapAt(login: BridgeLogin): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: login.imapPort, secure: false, doSTARTTLS: true, tls: { rejectUnauthorized: false }, auth: { user: login.user, pass: login.password }, logger: false });
}

/**
 * Alice's mail program submits a mail by SMTP; Bob's, in IMAP IDLE on INBOX, sees it arrive across
 * the network of processes; Alice's Sent folder holds her copy.
 */
async function mailProgramsExchange(alice: BridgeLogin, bob: BridgeLogin): Promise<void> {
  const subject = 'Über die Brücke — ça marche';
  const reader = imapAt(bob);
  await reader.connect();
  try {
    const inbox = await reader.mailboxOpen('INBOX');
    const before = inbox.exists;
    // The limit only ends a stuck test (the mail takes a few epochs of 8 s).
    let guard: NodeJS.Timeout | undefined;
    const arrived = new Promise<number>((resolve, reject) => {
      guard = setTimeout(() => reject(new Error('Bob\'s IMAP IDLE saw no new mail within 180 s')), 180_000);
      reader.on('exists', (data: { count: number }) => void (data.count > before && resolve(data.count)));
    }).finally(() => clearTimeout(guard));
    const idling = reader.idle();
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: alice.smtpPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: alice.user, pass: alice.password } });
    await mailer.sendMail({ from: 'alice@umbra', to: 'bob@umbra', subject, text: 'Hallo Bob\n' });
    const count = await arrived;
    const message = await reader.fetchOne(String(count), { envelope: true });
    assert.ok(message !== false);
    assert.equal(message.envelope?.subject, subject, 'Bob\'s mail program shows the mail');
    await idling.catch(() => undefined);
  } finally {
    await reader.logout().catch(() => undefined);
  }
  const writer = imapAt(alice);
  await writer.connect();
  try {
    await writer.mailboxOpen('Sent');
    const subjects = [];
    for await (const copy of writer.fetch('1:*', { envelope: true })) subjects.push(copy.envelope?.subject);
    assert.ok(subjects.includes(subject), `Alice's Sent holds her copy: ${JSON.stringify(subjects)}`);
  } finally {
    await writer.logout().catch(() => undefined);
  }
}

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
    const bridge = bridgeOf(output, user);
    assert.match(await greeting(bridge.imapPort), /^\* OK/, `${user}'s IMAP greets`);
    assert.match(await greeting(bridge.smtpPort), /^220 /, `${user}'s SMTP greets`);
  }
  await mailProgramsExchange(bridgeOf(output, 'alice'), bridgeOf(output, 'bob'));

  child.kill('SIGINT');
  assert.equal(await exited, 0, output);
  const logs = readFileSync(join(dir, 'logs', 'alice.log'), 'utf8') + readFileSync(join(dir, 'logs', 'bob.log'), 'utf8');
  assert.match(logs, /sent mail #1 is delivered/);
  assert.match(logs, /received mail #1/);
  assert.doesNotMatch(logs, /Hello from the mix network/, 'no subject in the agents\' logs');
});
