/**
 * Delivery over a whole network in processes (`umbra up`, short epochs, PIR retrieval), for
 * minutes of epochs: not in `npm test`; `npm run test:long` runs it.
 *
 * 1. Bob's agent polls, then is stopped for AWAY_EPOCHS epochs while Alice sends him MAILS mails,
 *    a few epochs apart (so the order in which they reach his server is the order she sent them).
 *    Each goes as a single copy (maxResends 0): no resend lands after Bob is back, so only catch-up
 *    can bring them. Back, Bob receives all of them, each exactly once, in the order they arrived;
 *    and an observer of his links to the two mailbox servers sees the same thing at every poll
 *    before he left, while he catches up and after: the same number of PIR queries (the consensus's
 *    budget), the same messages of the same sizes.
 * 2. A mail To Bob, Cc Carol, Bcc Dave arrives at all three; only Dave's copy and Alice's Sent
 *    copy carry a Bcc header (Dave's naming only Dave).
 * 3. Bob's mailbox server is down for OUTAGE_EPOCHS epochs while Erin sends him mail: every mail
 *    arrives once it is back, exactly once. Erin sends as any user does, with resends: a mail sent
 *    before the consensus drops the server goes as a copy that is lost with the server's link, and
 *    only a resend brings it (test/testnet/outage.test.ts); Bob reads each once all the same.
 *
 * Epochs of 2 s: the mails here are about arrival, not ACKs (with 2 s a copy is often read after
 * its SURB's epoch, so its ACK cannot come: test/testnet/outage.test.ts). With 4 polls an epoch
 * catch-up walks up to three epochs per epoch; on this machine under load (load average 8 to 15)
 * 100 epochs were read in 50 to 60 epochs. With 1 s epochs under such load a poll took about a
 * second, one poll an epoch, and catch-up did not advance (113 epochs behind after 5 minutes);
 * 1.5 s passed once, under lighter load. UMBRA_LONG_EPOCH_MS and UMBRA_LONG_AWAY_EPOCHS
 * override the two (to look for the shortest epochs a machine keeps up with).
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../../src/testnet/demo.js';
import { up, type Testnet } from '../../src/testnet/up.js';
import { LinkObserver, Watch } from './watch.js';

const EPOCH_MS = Number(process.env.UMBRA_LONG_EPOCH_MS ?? 2_000);
const AWAY_EPOCHS = Number(process.env.UMBRA_LONG_AWAY_EPOCHS ?? 100);
const MAILS = 30;
/**
 * The epoch (after the one Bob left in) of Alice's mail n: spread over all but the last 3 epochs
 * away, so every mail is in an epoch only catch-up reads (a poll reads the current and the previous
 * epoch first). When they are in distinct epochs (AWAY_EPOCHS − 4 ≥ MAILS) the order in which they
 * reach Bob's server is the order Alice sent them.
 */
const mailEpoch = (n: number): number => 1 + Math.floor((n * (AWAY_EPOCHS - 4)) / MAILS);
const ORDERED = AWAY_EPOCHS - 4 >= MAILS;
const OUTAGE_EPOCHS = 10;
const OUTAGE_MAILS = 5;
const POLLS_PER_EPOCH = 4;
/** The test network's pir.queriesPerPoll (src/testnet/plan.ts). */
const QUERIES_PER_POLL = 48;
const BOBS_SERVER = 'provider-2';
/** Real-time limit of one wait: only a stuck test reaches it. */
const STUCK_MS = 300_000;

let net: Testnet;
let dir: string;
let failed = false;
const watch = new Watch();
const agents = new Map<string, ClientAgent>();

async function start(user: string, options: Parameters<typeof startClient>[2] = {}): Promise<ClientAgent> {
  const found = net.file.users.find((u) => u.name === user) ?? extraUsers().find((u) => u.name === user)!;
  const agent = await startClient(found.dir, DEMO_PASSPHRASE, { requestTimeoutMs: 20_000, ...options, onEvent: watch.listener(user, options.onEvent) });
  agents.set(user, agent);
  return agent;
}

async function stop(user: string): Promise<void> {
  await agents.get(user)?.close();
  agents.delete(user);
}

/** Carol (on Alice's server), Dave (on Bob's) and Erin (on Alice's, with resends: test 3) join the network's Alice and Bob. */
const extraUsers = () => [['carol', 'provider-1'], ['dave', 'provider-2'], ['erin', 'provider-1']].map(([name, provider]) => ({ name, provider, dir: join(net.dir, 'users', name) }));
const received = (user: string): string[] => watch.of(user).flatMap((e) => (e.type === 'received' ? [e.subject] : []));
const successfulPolls = (user: string): number => watch.of(user).filter((e) => e.type === 'poll' && e.error === undefined).length;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'umbra-delivery-'));
  net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', readyTimeoutMs: 120_000 });
  const users = [...net.file.users, ...extraUsers()];
  // Single copies for all but Erin, made next with the usual resends (each user keeps the settings it was made with).
  await prepareUsers({ ...net, file: { ...net.file, users: users.filter((u) => u.name !== 'erin') } }, { pollsPerEpoch: POLLS_PER_EPOCH, maxResends: 0, ackTimeoutEpochs: 1 });
  await prepareUsers({ ...net, file: { ...net.file, users } }, { pollsPerEpoch: POLLS_PER_EPOCH, ackTimeoutEpochs: 1 });
});

after(async () => {
  await Promise.all([...agents.values()].map((a) => a.close().catch(() => undefined)));
  await net?.stop();
  // Kept when a test failed: the nodes' logs (logs/<node>.log) tell what happened.
  if (failed) console.log(`# the network's directory is kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

/** One poll as Bob's observer saw it. */
interface ObservedPoll {
  readonly phase: 'before' | 'during' | 'after';
  readonly shape: string;
  readonly queries: number;
  /** This poll and the one before it (in the same run of the agent) succeeded: the window holds this poll's messages alone. */
  readonly clean: boolean;
}

test(`Bob away ${AWAY_EPOCHS} epochs of ${EPOCH_MS / 1000} s while Alice sends ${MAILS} single copies: back, he reads all, exactly once, in order, with polls that look alike on his links`, async () => {
  try {
    const servers = new Map(net.file.nodes.filter((n) => n.role === 'provider').map((n) => [new URL(n.wsUrl!).port, n.name]));
    const observer = new LinkObserver(servers);
    const polls: ObservedPoll[] = [];
    let phase: ObservedPoll['phase'] = 'before';
    let bob: ClientAgent | undefined;
    let lastQueries = 0;
    let lastOk = false;
    const observe = (event: ClientEvent): void => {
      if (event.type !== 'poll') return;
      const shape = observer.cut();
      if (bob === undefined) {
        // Reported before startClient returned: its window is cut, not counted.
        lastOk = false;
        return;
      }
      const queries = bob.status().retrieval.pirQueries;
      const ok = event.error === undefined;
      if (ok) polls.push({ phase, shape, queries: queries - lastQueries, clean: lastOk });
      lastQueries = queries;
      lastOk = ok;
      if (phase === 'during' && bob.status().polls.behindEpochs === 0 && received('bob').length >= MAILS) phase = 'after';
    };

    // Bob polls a few times (the observer's baseline): from then on he owes himself every epoch.
    bob = await start('bob', { connectWebSocket: observer.connect, onEvent: observe });
    lastQueries = bob.status().retrieval.pirQueries;
    await watch.until('Bob\'s first polls', () => successfulPolls('bob') >= 2 * POLLS_PER_EPOCH, STUCK_MS);
    await stop('bob');
    const leftIn = Math.max(...watch.of('bob').flatMap((e) => (e.type === 'poll' ? [e.epoch] : [])));

    const alice = await start('alice');
    const startedMs = Date.now();
    for (let n = 0; n < MAILS; n++) {
      await watch.until(`epoch ${leftIn + mailEpoch(n)} at Alice`, () => watch.consensusEpoch('alice') >= leftIn + mailEpoch(n), STUCK_MS);
      await alice.send({ to: 'bob', subject: `missed ${n}`, body: `mail ${n} while Bob was away\n` });
    }
    await watch.until('every copy sent', () => alice.sent().every((m) => m.status !== 'queued'), STUCK_MS);
    await watch.until(`${AWAY_EPOCHS} epochs without Bob`, () => watch.consensusEpoch('alice') >= leftIn + AWAY_EPOCHS, STUCK_MS);
    const awayMs = Date.now() - startedMs;

    // Back. The first poll's window opens now.
    observer.cut();
    lastOk = false;
    phase = 'during';
    const backMs = Date.now();
    bob = undefined;
    bob = await start('bob', { connectWebSocket: observer.connect, onEvent: observe });
    lastQueries = bob.status().retrieval.pirQueries;
    const bobAgent = bob;
    const state = (): unknown => ({ received: received('bob').length, polls: bobAgent.status().polls });
    await watch.until(`all ${MAILS} mails at Bob`, () => received('bob').length >= MAILS, STUCK_MS, state);
    await watch.until('the end of the catch-up', () => bobAgent.status().polls.behindEpochs === 0, STUCK_MS, state);
    const caughtUpMs = Date.now() - backMs;
    const pollsThen = successfulPolls('bob');
    await watch.until('eight more polls', () => successfulPolls('bob') >= pollsThen + 2 * POLLS_PER_EPOCH, STUCK_MS, state);

    // Each exactly once, in the order they reached his server (Alice's order: epochs apart).
    const expected = Array.from({ length: MAILS }, (_, n) => `missed ${n}`);
    assert.deepEqual(ORDERED ? received('bob') : received('bob').sort(), ORDERED ? expected : [...expected].sort());
    assert.deepEqual(bobAgent.inbox().map((m) => m.subject).sort(), [...expected].sort(), 'nothing twice in the inbox');

    // Polls look alike on his links: the budget of queries, the same messages of the same sizes.
    const byPhase = (p: ObservedPoll['phase']): ObservedPoll[] => polls.filter((poll) => poll.phase === p && poll.clean);
    const counts = { before: byPhase('before').length, during: byPhase('during').length, after: byPhase('after').length };
    console.log(`# away ${(awayMs / 1000).toFixed(0)} s (${AWAY_EPOCHS} epochs of ${EPOCH_MS} ms, a mail every ${((AWAY_EPOCHS - 4) / MAILS).toFixed(1)}); caught up ${(caughtUpMs / 1000).toFixed(0)} s after the restart; clean polls ${JSON.stringify(counts)}, failed polls ${watch.of('bob').filter((e) => e.type === 'poll' && e.error !== undefined).length}`);
    assert.equal(bobAgent.status().retrieval.mode, 'pir');
    assert.ok(counts.before >= 3 && counts.during >= 10 && counts.after >= 4, `clean polls per phase: ${JSON.stringify(counts)}`);
    const queries = [...new Set(polls.map((p) => p.queries))];
    assert.deepEqual(queries, [QUERIES_PER_POLL], `queries per poll: ${polls.map((p) => `${p.phase[0]}${p.queries}`).join(' ')}`);
    const shapes = new Map<string, string[]>();
    for (const poll of polls.filter((p) => p.clean)) shapes.set(poll.shape, [...(shapes.get(poll.shape) ?? []), poll.phase]);
    const described = [...shapes.entries()].map(([shape, phases]) => `${phases.length} polls (${[...new Set(phases)].join(', ')}): ${shape}`);
    assert.equal(shapes.size, 1, `every poll the same on Bob's links:\n${described.join('\n')}`);
    console.log(`# every poll on Bob's links: ${described[0]}`);
  } catch (error) {
    failed = true;
    throw error;
  }
});

test('To Bob, Cc Carol, Bcc Dave: all three read it; only Dave\'s copy and Alice\'s Sent copy carry a Bcc header', async () => {
  try {
    for (const user of ['alice', 'bob', 'carol', 'dave']) if (!agents.has(user)) await start(user);
    const sent = await agents.get('alice')!.send({ to: ['bob'], cc: ['carol'], bcc: ['dave'], subject: 'Three ways', body: 'To Bob, Cc Carol, and Dave in secret.' });
    assert.deepEqual(sent.recipients.map((r) => `${r.name}:${r.field}`), ['bob:to', 'carol:cc', 'dave:bcc']);
    for (const user of ['bob', 'carol', 'dave']) {
      await watch.until(`the mail at ${user}`, () => received(user).includes('Three ways'), STUCK_MS);
    }
    for (const user of ['bob', 'carol', 'dave']) {
      const agent = agents.get(user)!;
      const copies = agent.inbox().filter((m) => m.subject === 'Three ways');
      assert.equal(copies.length, 1, `${user} has it once`);
      const { parsed, raw } = agent.read(copies[0].id);
      assert.equal(parsed.text, 'To Bob, Cc Carol, and Dave in secret.\n');
      assert.equal(parsed.to, 'bob <bob@umbra>');
      assert.equal(parsed.cc, 'carol <carol@umbra>');
      if (user === 'dave') assert.equal(parsed.bcc, 'dave <dave@umbra>', 'the Bcc recipient finds itself, alone');
      else {
        const text = new TextDecoder().decode(raw);
        assert.doesNotMatch(text.slice(0, text.indexOf('\r\n\r\n')), /dave|bcc/i, `${user} cannot tell there was a Bcc recipient`);
      }
    }
    const own = agents.get('alice')!.read(sent.id);
    assert.equal(own.parsed.bcc, 'dave <dave@umbra>', 'Alice\'s Sent copy lists her Bcc recipient');
  } catch (error) {
    failed = true;
    throw error;
  }
});

test(`Bob's server down ${OUTAGE_EPOCHS} epochs while Erin sends him ${OUTAGE_MAILS} mails (with resends): every one arrives once it is back, exactly once`, async () => {
  try {
    // Only the two of them run (less load on the machine).
    for (const user of ['alice', 'carol', 'dave']) await stop(user);
    for (const user of ['erin', 'bob']) if (!agents.has(user)) await start(user);
    const erin = agents.get('erin')!;
    const bob = agents.get('bob')!;
    assert.equal(net.file.users.find((u) => u.name === 'bob')?.provider, BOBS_SERVER);
    const before = received('bob').length;
    await net.kill(BOBS_SERVER, 'SIGTERM');
    const downIn = watch.consensusEpoch('erin');
    const downMs = Date.now();
    const subjects = Array.from({ length: OUTAGE_MAILS }, (_, n) => `outage ${n}`);
    const spacing = Math.floor((OUTAGE_EPOCHS - 1) / OUTAGE_MAILS);
    for (const [n, subject] of subjects.entries()) {
      await watch.until(`epoch ${downIn + n * spacing} at Erin`, () => watch.consensusEpoch('erin') >= downIn + n * spacing, STUCK_MS);
      await erin.send({ to: 'bob', subject, body: `mail ${n} while Bob's server is down\n` });
    }
    await watch.until(`${OUTAGE_EPOCHS} epochs of the outage`, () => watch.consensusEpoch('erin') >= downIn + OUTAGE_EPOCHS, STUCK_MS);
    assert.equal(received('bob').length, before, 'nothing arrived while the server was down');
    await net.restart(BOBS_SERVER);
    const backMs = Date.now();
    const state = (): unknown => ({ received: received('bob').slice(before), sent: erin.sent().filter((m) => subjects.includes(m.subject)).map((m) => m.status) });
    await watch.until(`all ${OUTAGE_MAILS} mails at Bob`, () => subjects.every((s) => received('bob').includes(s)), STUCK_MS, state);
    const arrivedMs = Date.now();
    const pollsThen = successfulPolls('bob');
    await watch.until('eight more polls', () => successfulPolls('bob') >= pollsThen + 2 * POLLS_PER_EPOCH, STUCK_MS, state);
    assert.deepEqual(received('bob').slice(before).sort(), subjects, 'each exactly once');
    for (const subject of subjects) assert.equal(bob.inbox().filter((m) => m.subject === subject).length, 1, `"${subject}" once in the inbox`);
    console.log(`# server down ${((backMs - downMs) / 1000).toFixed(0)} s; all ${OUTAGE_MAILS} mails at Bob ${((arrivedMs - backMs) / 1000).toFixed(0)} s after the restart`);
  } catch (error) {
    failed = true;
    throw error;
  }
});
