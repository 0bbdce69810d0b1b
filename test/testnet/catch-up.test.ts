/**
 * Catch-up over a whole network in processes (`umbra up`, 4-second epochs, PIR retrieval): Bob's
 * agent polls once, then is stopped for 6 epochs while Alice sends him 4 mails, each as a single
 * copy (no resends: only catch-up can bring them). Back, Bob's history epochs walk through what he
 * missed: he receives all 4, each exactly once, and every poll before, during and after the
 * catch-up sends the same number of PIR queries (the consensus's budget), so his links do not show it.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../../src/testnet/demo.js';
import { up } from '../../src/testnet/up.js';

const EPOCH_MS = 4000;
const MAILS = 4;
const AWAY_EPOCHS = 6;

/** Resolves when `done` holds, checked on every client event; rejects past the guard (a stuck test). */
function eventually(subscribe: (check: () => void) => void, done: () => boolean, what: string, guardMs: number, state?: () => unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${guardMs / 1000} s${state === undefined ? '' : `; ${JSON.stringify(state())}`}`)), guardMs);
    subscribe(() => {
      if (!done()) return;
      clearTimeout(timer);
      resolve();
    });
  });
}

test('an agent stopped for 6 epochs reads every mail it missed, exactly once, with polls of one size', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-catchup-'));
  const net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', readyTimeoutMs: 120_000 });
  const agents: ClientAgent[] = [];
  t.after(async () => {
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await prepareUsers(net, { pollsPerEpoch: 4, maxResends: 0, ackTimeoutEpochs: 1 });
  const [alice, bob] = net.file.users;
  const checks: (() => void)[] = [];
  const onEvent = (events: ClientEvent[]) => (event: ClientEvent): void => {
    events.push(event);
    for (const check of checks) check();
  };
  const subscribe = (check: () => void): void => void checks.push(check);

  // Bob polls once: from then on he owes himself every epoch.
  const bobEvents: ClientEvent[] = [];
  let bobAgent = await startClient(bob.dir, DEMO_PASSPHRASE, { onEvent: onEvent(bobEvents) });
  await eventually(subscribe, () => bobEvents.some((e) => e.type === 'poll' && e.error === undefined), 'first poll of Bob', 120_000);
  await bobAgent.close();

  const aliceEvents: ClientEvent[] = [];
  const aliceAgent = await startClient(alice.dir, DEMO_PASSPHRASE, { onEvent: onEvent(aliceEvents) });
  agents.push(aliceAgent);
  const epochs = (): number[] => aliceEvents.flatMap((e) => (e.type === 'consensus' ? [e.epoch] : []));
  for (let n = 0; n < MAILS; n++) await aliceAgent.send({ to: bob.name, subject: `missed ${n}`, body: `mail ${n} while Bob was away\n` });
  // Every copy has left (one each) and the epochs go by without Bob.
  await eventually(subscribe, () => aliceAgent.sent().every((m) => m.status !== 'queued'), 'copies sent', 120_000);
  const leftIn = Math.max(...epochs());
  await eventually(subscribe, () => Math.max(...epochs()) >= leftIn + AWAY_EPOCHS, `${AWAY_EPOCHS} epochs`, 300_000);

  bobEvents.length = 0;
  // PIR queries of each successful poll (the agent counts them before it reports the poll); polls
  // reported before startClient returned only set the base.
  const perPoll: number[] = [];
  let queriesBefore: number | undefined;
  let back: ClientAgent | undefined;
  const bobTally = onEvent(bobEvents);
  bobAgent = await startClient(bob.dir, DEMO_PASSPHRASE, {
    onEvent: (event) => {
      if (event.type === 'poll' && back !== undefined) {
        const queries = back.status().retrieval.pirQueries;
        if (event.error === undefined && queriesBefore !== undefined) perPoll.push(queries - queriesBefore);
        queriesBefore = queries;
      }
      bobTally(event);
    },
  });
  back = bobAgent;
  agents.push(bobAgent);
  const received = (): string[] => bobEvents.flatMap((e) => (e.type === 'received' ? [e.subject] : []));
  const progress = (): unknown => ({ received: received(), sent: aliceAgent.sent().map((m) => m.status), polls: bobAgent.status().polls, failedPolls: bobEvents.filter((e) => e.type === 'poll' && e.error !== undefined).slice(-3) });
  await eventually(subscribe, () => received().length >= MAILS, `all ${MAILS} mails at Bob`, 240_000, progress);
  // Caught up: a few more polls, and nothing arrives twice.
  const polls = (): unknown => ({ polls: bobAgent.status().polls, last: bobEvents.filter((e) => e.type === 'poll').slice(-6) });
  await eventually(subscribe, () => bobAgent.status().polls.behindEpochs === 0, 'the end of the catch-up', 120_000, polls);
  const pollsThen = bobAgent.status().polls.done;
  await eventually(subscribe, () => bobAgent.status().polls.done >= pollsThen + 4, 'four more polls', 120_000);
  assert.deepEqual(received().sort(), Array.from({ length: MAILS }, (_, n) => `missed ${n}`));

  // Every successful poll sent the budget: the same number of queries behind or not.
  assert.equal(bobAgent.status().retrieval.mode, 'pir');
  const budget = 48; // the test network's pir.queriesPerPoll (src/testnet/plan.ts)
  assert.ok(perPoll.length >= 6, `polls seen: ${perPoll.length}`);
  assert.deepEqual([...new Set(perPoll)], [budget], `queries per poll: ${perPoll.join(' ')}`);
});
