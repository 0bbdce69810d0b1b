import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../../src/testnet/demo.js';
import { up, type Testnet } from '../../src/testnet/up.js';

/**
 * An n−1 attack over `umbra up` (docs/network.md, "Alerts"): a layer-2 mix forwards one packet per
 * epoch and drops all others, so every loop through it vanishes. Both users' agents find it from
 * their own loops within an epoch (the end of the epoch after the one whose loops vanished, plus
 * the agent's slowest poll: on a loaded machine a poll can take seconds), go on high alert (loop rate raised, the mix left out of their
 * paths, the alert in status and as an event naming that mix and no other). The control runs
 * the same network without the attack for as long and raises no alert.
 *
 * Short epochs (8 s, the test network's default). Waits are on client events, with real-time
 * limits that only end a stuck test.
 */
const EPOCH_MS = 8_000;
const ATTACKED = 'mix-2-1';
const LIMIT_MS = 300_000;
/** How long a user's alert may take before the test fails: many times the bound it is checked against, but short enough that a failure is reported within CI's time (both users are waited on at once). */
const ALERT_LIMIT_MS = 120_000;
/** The control watches at least this long (and at least as long as the detection took). */
const CONTROL_MIN_MS = 3 * EPOCH_MS;

type AlertEvent = Extract<ClientEvent, { type: 'alert' }>;

interface Run {
  readonly net: Testnet;
  readonly dir: string;
  readonly agents: Map<string, ClientAgent>;
  readonly alerts: Map<string, { event: AlertEvent; atMs: number; epochNow: number }[]>;
  readonly startedMs: number;
  readonly wake: Set<() => void>;
  /** Each user's slowest successful poll so far (ms from its start to its event). */
  readonly slowestPollMs: Map<string, number>;
}

async function startRun(attack: boolean): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-n-minus-one-'));
  // No mix loops: the clients' own loops are what is tested here. With them, the mixes' reports
  // drop the attacker below the reliability floor within an epoch or two (docs/network.md,
  // "Reliability"), the clients' paths leave it, and their loops no longer meet it.
  const net = await up({ dir, epochMs: EPOCH_MS, parameters: 'fast', readyTimeoutMs: LIMIT_MS, mixLoopRate: 0, ...(attack ? { attacks: { [ATTACKED]: 'n-1' as const } } : {}) });
  await prepareUsers(net, { pollsPerEpoch: 4 });
  const agents = new Map<string, ClientAgent>();
  const alerts = new Map<string, { event: AlertEvent; atMs: number; epochNow: number }[]>();
  const wake = new Set<() => void>();
  const startedMs = Date.now();
  const slowestPollMs = new Map<string, number>();
  const epochOf = (ms: number): number => Math.floor((ms - net.file.genesisMs) / net.file.epochMs);
  for (const user of net.file.users) {
    alerts.set(user.name, []);
    slowestPollMs.set(user.name, 0);
    const onEvent = (event: ClientEvent): void => {
      if (event.type === 'poll' && event.error === undefined) slowestPollMs.set(user.name, Math.max(slowestPollMs.get(user.name)!, Date.now() - event.startedMs));
      if (event.type !== 'alert') return;
      alerts.get(user.name)!.push({ event, atMs: Date.now(), epochNow: epochOf(Date.now()) });
      for (const check of [...wake]) check();
    };
    agents.set(user.name, await startClient(user.dir, DEMO_PASSPHRASE, { requestTimeoutMs: 20_000, onEvent }));
  }
  return { net, dir, agents, alerts, startedMs, wake, slowestPollMs };
}

async function stopRun(run: Run): Promise<void> {
  await Promise.all([...run.agents.values()].map((a) => a.close()));
  await run.net.stop();
  rmSync(run.dir, { recursive: true, force: true });
}

/** The first alert of `user` that names a node. */
function nodeAlertOf(run: Run, user: string): Promise<{ event: AlertEvent; atMs: number; epochNow: number }> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = run.alerts.get(user)!.find((a) => a.event.suspects.some((s) => s.scope === 'node'));
      if (found === undefined) return;
      run.wake.delete(check);
      clearTimeout(timer);
      resolve(found);
    };
    const timer = setTimeout(() => {
      run.wake.delete(check);
      reject(new Error(`${user}: no alert naming a node within ${ALERT_LIMIT_MS / 1000} s; status: ${JSON.stringify(run.agents.get(user)!.status().loops)}`));
    }, ALERT_LIMIT_MS);
    run.wake.add(check);
    check();
  });
}

/** Resolves at the first successful poll of `agent` that ends after `ms` (Date.now()). */
function polledAfter(agent: ClientAgent, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`no poll within ${LIMIT_MS / 1000} s; polls ${JSON.stringify(agent.status().polls)}`));
    }, ms - Date.now() + LIMIT_MS);
    const unsubscribe = agent.subscribe((event) => {
      if (event.type !== 'poll' || event.error !== undefined || Date.now() < ms) return;
      unsubscribe();
      clearTimeout(timer);
      resolve();
    });
  });
}

let detectionMs = 0;

test('an n−1 mix is detected within an epoch: high alert, more loops, the mix avoided', async () => {
  const run = await startRun(true);
  try {
    const users = [...run.agents.keys()];
    const found = await Promise.all(users.map((user) => nodeAlertOf(run, user)));
    for (const [i, user] of users.entries()) {
      const { event, atMs, epochNow } = found[i];
      const status = run.agents.get(user)!.status();
      const named = event.suspects.filter((s) => s.scope === 'node').map((s) => s.node);
      console.log(`# ${user}: loops ${JSON.stringify({ ...status.loops, rttsMs: undefined })}`);
      console.log(`# ${user}: alert ${((atMs - run.startedMs) / 1000).toFixed(1)} s after the start, about the loops of epoch ${event.epoch}, raised in epoch ${epochNow}: ${JSON.stringify(event.suspects)}`);
      detectionMs = Math.max(detectionMs, atMs - run.startedMs);
      assert.deepEqual(named, [ATTACKED], 'the attacked mix and no other');
      // Within one epoch: raised before the end of the epoch after the one whose loops vanished, give or
      // take the time this agent needs to read its mailbox (a poll on a loaded machine) and the loop deadline.
      const { genesisMs, epochMs } = run.net.file;
      const boundMs = genesisMs + (event.epoch + 2) * epochMs + run.slowestPollMs.get(user)! + (status.loops.deadlineMs ?? 0);
      console.log(`# ${user}: slowest poll ${run.slowestPollMs.get(user)} ms; raised ${((boundMs - atMs) / 1000).toFixed(1)} s before the bound`);
      assert.ok(atMs <= boundMs, `raised in epoch ${epochNow}, about epoch ${event.epoch}, ${atMs - boundMs} ms after the bound`);
      if (status.epoch <= event.epoch + 1) {
        assert.equal(status.alert.high, true);
        assert.deepEqual(status.alert.avoiding, [ATTACKED]);
        assert.equal(status.rates.loopPerSecond, 2 * run.net.plan.network.traffic.loopRate, 'loop rate doubled within the gateway budget');
      }
      assert.ok(status.alert.alarms >= 1);
    }
  } finally {
    await stopRun(run);
  }
});

test('control: the same network without the attack raises no alert in the same time', async () => {
  const run = await startRun(false);
  try {
    const watchMs = Math.max(CONTROL_MIN_MS, detectionMs);
    // Watch until each agent has polled (and so judged its loops) `watchMs` after the start.
    await Promise.all([...run.agents.values()].map((agent) => polledAfter(agent, run.startedMs + watchMs)));
    for (const [user, agent] of run.agents) {
      const { loops, alert } = agent.status();
      console.log(`# control ${user}: ${watchMs / 1000} s, loops ${JSON.stringify({ sent: loops.sent, returned: loops.returned, lost: loops.lost })}, alarms ${alert.alarms} ${JSON.stringify(run.alerts.get(user))}`);
      assert.ok(loops.returned >= 10, 'loops came back (the control measured something)');
      assert.deepEqual(run.alerts.get(user), [], `${user}: no alert`);
      assert.equal(alert.high, false);
    }
  } finally {
    await stopRun(run);
  }
});
