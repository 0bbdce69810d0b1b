import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../../src/testnet/demo.js';
import { up, type Testnet } from '../../src/testnet/up.js';

/**
 * A short outage of the recipient's mailbox server loses nothing (docs/client.md, "A missing server
 * is a temporary state"), over a whole network in separate processes (`umbra up`): Bob's server
 * (provider-2) is stopped with SIGTERM, Alice sends Bob a mail, her agent says it is waiting for
 * Bob's server (never 'failed'), the server is started again, and the mail arrives and is
 * acknowledged. Every message the server had stored before it was stopped is still there after the
 * restart (one that lost stored mail would let anyone who can crash a server erase mail).
 *
 * Short epochs (8 s, the test network's default; with shorter ones a loaded machine reads a copy
 * after its SURB's epoch, so its ACK cannot come and another copy is needed) keep it near a
 * minute. Every wait is on an event (a client event, a node's ready line), with limits in real
 * time that only end a test that is stuck.
 */
const EPOCH_MS = 8_000;
const CLIENT_SETTINGS = { pollsPerEpoch: 4, ackTimeoutEpochs: 1 };
/**
 * After the restart, copies go on the sender's backoff (doubling from one epoch, capped at 8): on a
 * loaded machine a copy is often read after its SURB's epoch and needs the next one, 32–64 s
 * later; 300 s allows several such copies (the backoff is not reset when the server is back).
 */
const LIMIT_MS = 300_000;
const BOBS_SERVER = 'provider-2';

let net: Testnet;
let dir: string;
let passed = false;
const agents = new Map<string, ClientAgent>();
const events = new Map<string, ClientEvent[]>();
/** When each event came (Date.now()), by user, in the order of `events`. */
const times = new Map<string, number[]>();
const waiters = new Set<() => void>();

function onEvent(user: string, event: ClientEvent): void {
  events.get(user)?.push(event);
  times.get(user)?.push(Date.now());
  for (const check of [...waiters]) check();
}

/** Resolves with the first event of `user` (seen so far or to come) that `match` accepts. */
function eventOf<T extends ClientEvent>(user: string, what: string, match: (event: ClientEvent) => event is T): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = events.get(user)?.find(match);
      if (found === undefined) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(found);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no ${what} within ${LIMIT_MS / 1000} s; ${diagnosis()}`));
    }, LIMIT_MS);
    waiters.add(check);
    check();
  });
}

/** `user`'s events that `keep` accepts, each as seconds from `fromMs` and what it was. */
function timeline(user: string, fromMs: number, keep: (e: ClientEvent) => boolean = () => true): string[] {
  return events.get(user)!.flatMap((e, i) => {
    if (!keep(e)) return [];
    const at = `${((times.get(user)![i] - fromMs) / 1000).toFixed(1)}s`;
    if (e.type === 'status') return [`${at} #${e.id} ${e.status}`];
    if (e.type === 'resend' || e.type === 'received') return [`${at} ${e.type} #${e.id}`];
    if (e.type === 'poll') return [`${at} poll e${e.epoch} ${e.items}${e.error === undefined ? '' : ` (${e.error})`}`];
    if (e.type === 'error' || e.type === 'consensus-refused' || e.type === 'integrity') return [`${at} ${e.type}: ${e.message}`];
    return [];
  });
}

/** What each user saw (from the first event) and its counters: for a test that timed out. */
function diagnosis(): string {
  const first = Math.min(...[...times.values()].flatMap((t) => t.slice(0, 1)));
  const counts = (user: string): string => {
    const status = agents.get(user)?.status();
    return JSON.stringify({ packets: status?.packets, loops: status?.loops.lost, polls: status?.polls.failed });
  };
  return [...agents.keys()].map((user) => `${user}: ${timeline(user, first).slice(-40).join(', ')}; ${counts(user)}`).join('\n');
}

function agent(name: string): ClientAgent {
  const found = agents.get(name);
  if (found === undefined) throw new Error(`no agent for ${name}`);
  return found;
}

type StatusEvent = Extract<ClientEvent, { type: 'status' }>;
const statusOf = (id: number, status: string) => (event: ClientEvent): event is StatusEvent => event.type === 'status' && event.id === id && event.status === status;
const receivedSubject = (subject: string) => (event: ClientEvent): event is Extract<ClientEvent, { type: 'received' }> => event.type === 'received' && event.subject === subject;

/** Messages in a provider's store: the count and the highest row id (read-only, beside the running server: WAL). */
function storedIn(name: string): { count: number; top: number } {
  const db = new Database(join(dir, name, 'data', 'mailbox.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT count(*) AS count, coalesce(max(id), 0) AS top FROM messages').get() as { count: number; top: number };
    return row;
  } finally {
    db.close();
  }
}

function countUpTo(name: string, top: number): number {
  const db = new Database(join(dir, name, 'data', 'mailbox.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT count(*) AS count FROM messages WHERE id <= ?').get(top) as { count: number }).count;
  } finally {
    db.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-outage-'));
  net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', readyTimeoutMs: LIMIT_MS });
  await prepareUsers(net, CLIENT_SETTINGS);
  for (const user of net.file.users) {
    events.set(user.name, []);
    times.set(user.name, []);
    agents.set(user.name, await startClient(user.dir, DEMO_PASSPHRASE, { requestTimeoutMs: 20_000, onEvent: (event) => onEvent(user.name, event) }));
  }
});

after(async () => {
  await Promise.all([...agents.values()].map((a) => a.close()));
  await net?.stop();
  // Kept when the test failed: the nodes' logs (logs/<node>.log) tell what happened.
  if (passed) rmSync(dir, { recursive: true, force: true });
  else console.log(`# the network's directory is kept: ${dir}`);
});

test('the recipient\'s server stopped with SIGTERM: mail waits for it, even once it left the consensus, then arrives once it is back, exactly once, and is acknowledged', async () => {
  assert.equal(net.file.users.find((u) => u.name === 'bob')?.provider, BOBS_SERVER);
  // Bob's loops come back through his server: once one did, it holds messages.
  await eventOf('bob', 'a loop back', (e): e is Extract<ClientEvent, { type: 'loop' }> => e.type === 'loop');
  const stored = storedIn(BOBS_SERVER);
  assert.ok(stored.count > 0, 'the server holds messages (Bob\'s loops, at least)');
  const killing = Date.now();
  await net.kill(BOBS_SERVER, 'SIGTERM');
  const started = Date.now();
  const first = await agent('alice').send({ to: 'bob', subject: 'during the outage', body: 'still here' });
  const waiting = await eventOf('alice', 'waiting status', statusOf(first.id, 'waiting'));
  assert.match(waiting.reason ?? '', /^waiting for bob's server: /);
  const waitedMs = Date.now() - started;
  // A few epochs on, the server is out of the consensus: the mail still waits, and says why.
  const absent = await eventOf('alice', 'the server out of the consensus', (e): e is StatusEvent => statusOf(first.id, 'waiting')(e) && /is not in the network now/.test(e.reason ?? ''));
  assert.match(absent.reason ?? '', /^waiting for bob's server: its server \S+ is not in the network now; the mail goes as soon as it is back \(tried until \d{4}-\d\d-\d\d \d\d:\d\d UTC\)$/);
  const absentMs = Date.now() - started;
  // A mail sent now waits from the start (what `umbra client send` and the API report).
  const second = await agent('alice').send({ to: 'bob', subject: 'while it is gone', body: 'me too' });
  const entry = agent('alice').sent().find((m) => m.id === second.id);
  assert.equal(entry?.status, 'waiting');
  assert.match(entry?.reason ?? '', /^waiting for bob's server: /);

  const restarting = Date.now();
  await net.restart(BOBS_SERVER);
  const restarted = Date.now();
  // A restart that lost what the server held would let anyone who can crash it erase mail.
  assert.equal(countUpTo(BOBS_SERVER, stored.top), stored.count, 'every message stored before the stop is still there');
  for (const [sent, subject] of [[first, 'during the outage'], [second, 'while it is gone']] as const) {
    await eventOf('bob', `"${subject}" at Bob`, receivedSubject(subject));
    await eventOf('alice', `the acknowledgement of "${subject}"`, statusOf(sent.id, 'delivered'));
    assert.equal(agent('bob').inbox().filter((m) => m.subject === subject).length, 1, 'exactly once');
  }
  const deliveredMs = Date.now() - started;
  const statuses = (id: number) => events.get('alice')!.flatMap((e) => (e.type === 'status' && e.id === id ? [e.status] : []));
  for (const sent of [first, second]) assert.ok(!statuses(sent.id).includes('failed'), `never failed: ${statuses(sent.id).join(', ')}`);
  console.log(`# stopping took ${started - killing} ms; waiting after ${waitedMs} ms, out of the consensus after ${absentMs} ms; restarted ${((restarting - started) / 1000).toFixed(1)} s after the send, in ${restarted - restarting} ms; both delivered ${deliveredMs} ms after the send`);
  console.log(`# alice: ${timeline('alice', started, (e) => e.type === 'status' || e.type === 'resend').join(', ')}`);
  console.log(`# bob: ${timeline('bob', started, (e) => e.type === 'poll' || e.type === 'received').join(', ')}`);
  passed = true;
});
