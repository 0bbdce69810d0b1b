import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../../src/testnet/demo.js';
import { up, type Testnet } from '../../src/testnet/up.js';

/**
 * A whole Umbra network in separate processes on loopback (`umbra up`): 12 mails each way between
 * two users, one of them 1 MiB, while one mix is SIGKILLed and restarted; every mail arrives intact
 * exactly once. Afterwards no server's database or log holds a name, subject, body or user key.
 *
 * Timing, for a slow and loaded machine (there one poll can take several seconds: consensus
 * refresh, snapshot build and replication, DPF scans): 20-second epochs polled every 5 s. A copy
 * read late is still acknowledged (a resend's SURBs are made with the next epoch's keys,
 * docs/client.md "Replies"), and epochs a slow poll left unread are caught up later (docs/client.md
 * "Catch-up"), so the epoch need not be many polls long. The ACK timeout is one epoch; 10 resends
 * outlast the minutes while the 1 MiB mail fills the recipient's mailbox and polls there are slowest.
 * Every wait is on an event (a node's ready line, a client event), with limits in real time that
 * only end a test that is stuck.
 */
const MAILS_EACH_WAY = 12;
const BIG = 1024 * 1024;
const EPOCH_MS = 20_000;
const CLIENT_SETTINGS = { pollsPerEpoch: 4, ackTimeoutEpochs: 1, maxResends: 10 };
/** Real-time limit for one provider request of a client (a loaded machine answers late, not never). */
const REQUEST_TIMEOUT_MS = 60_000;
/** Real-time limit for a node process to start, and for the first consensus. */
const READY_TIMEOUT_MS = 180_000;
const MINUTE = 60_000;

let net: Testnet;
let dir: string;
let stopped = false;
const agents = new Map<string, ClientAgent>();
/** Subjects received per user, in order of arrival. */
const received = new Map<string, string[]>();
/** Polls finished per user. */
const polls = new Map<string, number>();

/** Re-checked on every client event; `waitFor` resolves its promise when it holds. */
const waiters = new Set<() => void>();

function onEvent(user: string, event: ClientEvent): void {
  if (event.type === 'received') received.get(user)?.push(event.subject);
  if (event.type === 'poll') polls.set(user, (polls.get(user) ?? 0) + 1);
  for (const check of [...waiters]) check();
}

/**
 * Waits until `done()` holds, checked on every client event. Rejects with `progress()` when the
 * real-time limit passes (a guard against a stuck test, not a wait).
 */
function waitFor(what: string, done: () => boolean, limitMs: number, progress: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (): void => {
      waiters.delete(check);
      clearTimeout(timer);
    };
    const check = (): void => {
      if (!done()) return;
      finish();
      resolve();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no ${what} within ${limitMs / 1000} s: ${progress()}`));
    }, limitMs);
    waiters.add(check);
    check();
  });
}

function agent(name: string): ClientAgent {
  const found = agents.get(name);
  if (found === undefined) throw new Error(`no agent for ${name}`);
  return found;
}

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

const PAIRS = [['bob', 'alice'], ['alice', 'bob']] as const;

/** The subjects `to` should have from `from` and has not (yet). */
function missing(to: string, from: string): string[] {
  const got = new Set(received.get(to));
  return Array.from({ length: MAILS_EACH_WAY }, (_, n) => subject(from, n)).filter((s) => !got.has(s));
}

function count(to: string): number {
  return received.get(to)?.length ?? 0;
}

/** Every sent mail of both users has its final status: acknowledged, or given up on. */
function settled(): boolean {
  return [...agents.values()].every((a) => a.sent().every((m) => m.status === 'delivered' || m.status === 'failed'));
}

function progress(): string {
  const lines = PAIRS.map(([to, from]) => {
    const sent = agent(from).sent();
    const by = (status: string) => sent.filter((m) => m.status === status).length;
    return `${to} has ${count(to)} of ${MAILS_EACH_WAY} from ${from} (${from}'s sent mails: ${by('delivered')} delivered, ` +
      `${by('sending')} sending, ${by('queued')} queued, ${by('failed')} failed)`;
  });
  return lines.join('; ');
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-net-'));
  net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', readyTimeoutMs: READY_TIMEOUT_MS });
  await prepareUsers(net, CLIENT_SETTINGS);
  for (const user of net.file.users) {
    received.set(user.name, []);
    agents.set(user.name, await startClient(user.dir, DEMO_PASSPHRASE, {
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      onEvent: (event) => onEvent(user.name, event),
    }));
  }
});

after(async () => {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function stopAll(): Promise<void> {
  if (stopped) return;
  stopped = true;
  await Promise.all([...agents.values()].map((a) => a.close()));
  await net?.stop();
}

test('12 mails each way, one of 1 MiB, arrive intact exactly once while a mix is killed and restarted', async (t) => {
  const started = Date.now();
  const mark = (what: string): void => t.diagnostic(`${what} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const alice = agent('alice');
  const bob = agent('bob');
  for (let n = 0; n < MAILS_EACH_WAY; n++) {
    await alice.send({ to: 'bob', subject: subject('alice', n), body: body('alice', n) });
    await bob.send({ to: 'alice', subject: subject('bob', n), body: body('bob', n) });
  }
  // Fault: a layer-2 mix dies without warning mid-traffic and comes back on the same keys and port.
  await waitFor('first mails', () => count('bob') >= 5, 5 * MINUTE, progress);
  mark('first mails');
  await net.kill('mix-2-1', 'SIGKILL');
  // Traffic meets the dead mix: both agents finish a poll after the kill before it is back.
  const pollsAtKill = new Map(polls);
  const polledSince = (): boolean => [...agents.keys()].every((name) => (polls.get(name) ?? 0) > (pollsAtKill.get(name) ?? 0));
  await waitFor('poll while mix-2-1 is down', polledSince, 5 * MINUTE, progress);
  await net.restart('mix-2-1');
  mark('mix-2-1 restarted');

  // Done when every mail is in; or, when every sent mail is settled, whatever is missing is lost.
  const allIn = (): boolean => PAIRS.every(([to, from]) => missing(to, from).length === 0);
  await waitFor('end of the exchange', () => allIn() || settled(), 20 * MINUTE, progress);
  mark('exchange ended');
  for (const [to, from] of PAIRS) {
    const lost = missing(to, from);
    assert.deepEqual(lost, [], `${to} is missing ${lost.length} of ${from}'s mails: ${lost.join(', ')} (${progress()})`);
  }
  for (const [name, from] of PAIRS) {
    const inbox = agent(name).inbox();
    assert.equal(inbox.length, MAILS_EACH_WAY, `${name} has each mail exactly once`);
    assert.deepEqual(new Set(inbox.map((m) => m.subject)), new Set(Array.from({ length: MAILS_EACH_WAY }, (_, n) => subject(from, n))));
    for (const entry of inbox) {
      const n = Number(entry.subject.split('-').pop());
      const text = agent(name).read(entry.id).parsed.text.replace(/\r\n/g, '\n');
      const expected = body(from, n);
      // Compared by length and digest: a failing 1 MiB string comparison would flood the report.
      assert.equal(text.length, expected.length, `${name} reads mail ${n} whole`);
      assert.equal(digest(text), digest(expected), `${name} reads mail ${n} intact`);
    }
  }
  // Every sent mail is acknowledged in the end.
  await waitFor('acknowledgement of every mail', settled, 20 * MINUTE, progress);
  mark('every mail settled');
  for (const a of [alice, bob]) {
    const failed = a.sent().filter((m) => m.status !== 'delivered');
    assert.deepEqual(failed.map((m) => `${m.subject}: ${m.status} ${m.reason ?? ''}`), [], 'every sent mail is acknowledged');
  }
});

test('leak audit: no server database or log holds a user name, subject, body or key', async () => {
  const needles: { what: string; bytes: Buffer }[] = [];
  for (const from of ['alice', 'bob']) {
    needles.push({ what: 'subject', bytes: Buffer.from(`${from}-secret-subject-`) }, { what: 'body', bytes: Buffer.from(`${from}-secret-body-`) });
    needles.push({ what: 'address', bytes: Buffer.from(`${from}@umbra`) });
  }
  for (const user of net.file.users) {
    const card = agent(user.name).cardUri();
    needles.push({ what: 'card', bytes: Buffer.from(card.slice(-40)) });
  }
  // Audited at rest: running nodes rotate and replace files while the directories are walked.
  await stopAll();
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
