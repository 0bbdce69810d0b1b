import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startClient, type ClientAgent } from '../../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../../src/testnet/demo.js';
import { up, type Testnet } from '../../src/testnet/up.js';

/**
 * A whole Umbra network in separate processes on loopback (`umbra up`): 50 mails each way between
 * two users, one of them 1 MiB, while one mix is SIGKILLed and restarted; every mail arrives intact
 * exactly once. Afterwards no server's database or log holds a name, subject, body or user key.
 */
const MAILS_EACH_WAY = 50;
const BIG = 1024 * 1024;

let net: Testnet;
let dir: string;
const agents = new Map<string, ClientAgent>();
const received = new Map<string, string[]>();

function body(from: string, n: number): string {
  const line = `Mail ${n} from ${from}: the canary ${from}-secret-body-${n} must never reach a server.\n`;
  // The big one: 1 MiB of 64-character lines (mail lines stay well under RFC 5322's 998).
  return n === 7 && from === 'alice' ? line + `${'x'.repeat(63)}\n`.repeat(BIG / 64) : line;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function subject(from: string, n: number): string {
  return `${from}-secret-subject-${n}`;
}

function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 200);
    };
    tick();
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-net-'));
  net = await up({ dir, epochMs: 4_000 });
  await prepareUsers(net);
  for (const user of net.file.users) {
    received.set(user.name, []);
    agents.set(user.name, await startClient(user.dir, DEMO_PASSPHRASE, {
      onEvent: (event) => {
        if (event.type === 'received') received.get(user.name)?.push(event.subject);
      },
    }));
  }
});

after(async () => {
  await Promise.all([...agents.values()].map((agent) => agent.close()));
  await net?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('50 mails each way, one of 1 MiB, arrive intact exactly once while a mix is killed and restarted', async () => {
  const alice = agents.get('alice') as ClientAgent;
  const bob = agents.get('bob') as ClientAgent;
  for (let n = 0; n < MAILS_EACH_WAY; n++) {
    alice.send({ to: 'bob', subject: subject('alice', n), body: body('alice', n) });
    bob.send({ to: 'alice', subject: subject('bob', n), body: body('bob', n) });
  }
  // Fault: a layer-2 mix dies without warning mid-traffic and comes back on the same keys and port.
  await waitFor(() => (received.get('bob')?.length ?? 0) >= 5, 60_000, 'the first mails');
  await net.kill('mix-2-1', 'SIGKILL');
  await new Promise((r) => setTimeout(r, 1_000));
  await net.restart('mix-2-1');

  const all = (name: string): boolean => (received.get(name)?.length ?? 0) >= MAILS_EACH_WAY;
  await waitFor(() => all('alice') && all('bob'), 240_000, 'every mail');
  for (const [name, from] of [['bob', 'alice'], ['alice', 'bob']] as const) {
    const agent = agents.get(name) as ClientAgent;
    const inbox = agent.inbox();
    assert.equal(inbox.length, MAILS_EACH_WAY, `${name} has each mail exactly once`);
    assert.deepEqual(new Set(inbox.map((m) => m.subject)), new Set(Array.from({ length: MAILS_EACH_WAY }, (_, n) => subject(from, n))));
    for (const entry of inbox) {
      const n = Number(entry.subject.split('-').pop());
      const text = agent.read(entry.id).parsed.text.replace(/\r\n/g, '\n');
      const expected = body(from, n);
      // Compared by length and digest: a failing 1 MiB string comparison would flood the report.
      assert.equal(text.length, expected.length, `${name} reads mail ${n} whole`);
      assert.equal(digest(text), digest(expected), `${name} reads mail ${n} intact`);
    }
  }
  // Every sent mail is acknowledged in the end.
  await waitFor(() => [alice, bob].every((a) => a.sent().every((m) => m.status === 'delivered')), 120_000, 'every acknowledgement');
});

test('leak audit: no server database or log holds a user name, subject, body or key', async () => {
  const needles: { what: string; bytes: Buffer }[] = [];
  for (const from of ['alice', 'bob']) {
    needles.push({ what: 'subject', bytes: Buffer.from(`${from}-secret-subject-`) }, { what: 'body', bytes: Buffer.from(`${from}-secret-body-`) });
    needles.push({ what: 'address', bytes: Buffer.from(`${from}@umbra`) });
  }
  for (const user of net.file.users) {
    const card = (agents.get(user.name) as ClientAgent).cardUri();
    needles.push({ what: 'card', bytes: Buffer.from(card.slice(-40)) });
  }
  const serverDirs = [join(dir, 'authority'), join(dir, 'logs'), ...net.file.nodes.map((node) => join(dir, node.name))];
  const walk = (path: string): string[] =>
    statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => walk(join(path, name))) : [path];
  const files = serverDirs.flatMap(walk);
  assert.ok(files.some((file) => file.endsWith('.sqlite')), 'the mailbox databases are among the audited files');
  for (const file of files) {
    const content = readFileSync(file);
    for (const needle of needles) assert.equal(content.indexOf(needle.bytes), -1, `${file} holds a ${needle.what}`);
  }
});
