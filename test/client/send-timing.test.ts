import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { MailStore } from '../../src/client/mail-store.js';
import { PIECE_BYTES } from '../../src/client/store-pieces.js';
import type { BuilderMode } from '../../src/client/agent/builder.js';
import type { Clock } from '../../src/net/clock.js';
import { PoissonStreams, type DueEvents, type TrafficEvent } from '../../src/traffic/poisson.js';
import { closedAfterTests, FAST_KDF, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';
import { ksTest } from '../support/two-sample.js';

/**
 * A user action must not show in the timing of what leaves the client (issue 9, item 9): the
 * agent runs on real time against a gateway listener and the packets' arrival times are recorded
 * while a 1 MB mail is sent. With the packet builder in its worker and missed slots dropped:
 *   - no burst: never more than MAX_BURST packets within 10 ms (three independent streams can
 *     meet; a catch-up after a stall sends tens);
 *   - the gaps while the mail is sent look like the gaps while idle (two-sample Kolmogorov–Smirnov,
 *     p ≥ 0.001): the same rate and the same exponential shape. The level is 0.001, not 0.01: on a
 *     machine loaded ten times over its cores, when the store still wrote a 1 MB mail's values in
 *     one transaction on the event loop (100–400 ms there), p was 0.06–0.36; the longest stall is
 *     now bounded by the tests at the end of this file.
 *
 * Planted-leak control: the same measurement with the old behaviour, the mail built on the event
 * loop ('inline' builder) and overdue slots caught up (takeDue replaced by the take() loop the old
 * send stream ran), must show the burst. That is how the old tree behaved: measured on it, send()
 * of 1 MB held the event loop for about 450–530 ms on an idle machine and the slots missed meanwhile
 * went out back to back. The figures of both runs are printed as diagnostics.
 *
 * The gateway listener runs in the test's process, so a stalled event loop also delays what it
 * records: a stall shows as a gap followed by what was held back, which is exactly the leak.
 */
/** The shared two-sample Kolmogorov–Smirnov test (test/support/two-sample.ts): D and its p-value. */
function idleAgainstSending(a: readonly number[], b: readonly number[]): { d: number; p: number } {
  const { d, pValue } = ksTest(a, b);
  return { d, p: pValue };
}

const RATES = { clientSendRate: 50, loopRate: 5, dropRate: 5 };
const WINDOW_MS = 3000;
const BURST_WINDOW_MS = 10;
/**
 * Poisson at 60/s puts 6 or more packets in one 10 ms window with probability about 4e-5; but the
 * listener shares the test's event loop, so any stall (a loaded machine) also bunches what was
 * already on the wire with the one packet per stream that follows it: up to 5 were seen so, against
 * 41 to 136 for the catch-up control.
 */
const MAX_BURST = 10;
const ONE_MB = 'x'.repeat(1 << 20);

const { nets, agents } = closedAfterTests();

/** Real time, starting at the network's fake time (so the consensus's epoch is the agent's). */
function realTimeClock(net: SimNet): Clock {
  const base = net.clock.now();
  const start = performance.now();
  return {
    now: () => Math.floor(base + performance.now() - start),
    setTimer: (callback, delayMs) => setTimeout(callback, Math.max(0, delayMs)),
    clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  };
}

interface Measurement {
  readonly idleGaps: number[];
  readonly sendGaps: number[];
  readonly maxBurst: number;
  readonly longestGapMs: number;
  readonly loopDelayMaxMs: number;
  readonly loopDelayP99Ms: number;
  readonly sendCallMs: number;
  readonly sendWindowMs: number;
}

function gapsBetween(times: number[], from: number, to: number): number[] {
  const inside = times.filter((t) => t >= from && t < to);
  return inside.slice(1).map((t, i) => t - inside[i]);
}

function maxInWindow(times: number[], from: number, to: number, windowMs: number): number {
  const inside = times.filter((t) => t >= from && t < to);
  let most = 0;
  let first = 0;
  for (let last = 0; last < inside.length; last++) {
    while (inside[last] - inside[first] > windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

/** Alice's agent on real time, with Bob as her one contact, once its streams run. */
async function startSender(label: string, builder: BuilderMode): Promise<{ net: SimNet; agent: ClientAgent }> {
  const net = await SimNet.start({ label, traffic: RATES, route: false });
  nets.push(net);
  const clock = realTimeClock(net);
  const make = async (name: string) => {
    const dir = join(tempDir(), name);
    const init = await initClient(dir, { name, passphrase: 'pw', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
    return { dir, init };
  };
  const bob = await make('bob'); // only his card: every packet at the gateway is Alice's
  const alice = await make('alice');
  const agent = await startClient(alice.dir, 'pw', { clock, builder });
  agents.push(agent);
  agent.addContact(bob.init.cardUri);
  await waitFor(() => net.arrivals.length >= 30, 'the streams to run');
  return { net, agent };
}

async function measure(label: string, builder: BuilderMode, body: string = ONE_MB): Promise<Measurement> {
  const { net, agent } = await startSender(label, builder);
  const idleFrom = performance.now();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const sendFrom = performance.now();
  await agent.send({ to: 'bob', subject: 'one megabyte', body });
  const sendCallMs = performance.now() - sendFrom;
  // The window runs until the mail's packets flow (whatever the machine's load made the build
  // cost) and at least WINDOW_MS: a stall and what follows it are inside.
  await waitFor(() => agent.status().packets.real >= 20, 'the mail\'s packets to flow', 120_000);
  const sendTo = Math.max(sendFrom + WINDOW_MS, performance.now() + 500);
  await new Promise((resolve) => setTimeout(resolve, sendTo - performance.now()));
  delay.disable();
  await agent.close();
  const times = net.arrivals.map((arrival) => arrival.receivedMs);
  const sendGaps = gapsBetween(times, sendFrom, sendTo);
  return {
    idleGaps: gapsBetween(times, idleFrom, idleFrom + WINDOW_MS),
    sendGaps,
    maxBurst: maxInWindow(times, sendFrom, sendTo, BURST_WINDOW_MS),
    sendWindowMs: sendTo - sendFrom,
    longestGapMs: Math.max(...sendGaps),
    loopDelayMaxMs: delay.max / 1e6,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    sendCallMs,
  };
}

function describe(m: Measurement): string {
  return `send() ${m.sendCallMs.toFixed(0)} ms; event-loop delay max ${m.loopDelayMaxMs.toFixed(1)} ms, p99 ${m.loopDelayP99Ms.toFixed(1)} ms; ` +
    `packets idle ${m.idleGaps.length + 1} in ${WINDOW_MS} ms, sending ${m.sendGaps.length + 1} in ${m.sendWindowMs.toFixed(0)} ms; most in ${BURST_WINDOW_MS} ms ${m.maxBurst}; longest gap ${m.longestGapMs.toFixed(0)} ms`;
}

let worker: Measurement | undefined;

test('sending 1 MB with the worker: no burst', async (t) => {
  worker = await measure('timing-worker', 'worker');
  const ks = idleAgainstSending(worker.idleGaps, worker.sendGaps);
  t.diagnostic(`worker: ${describe(worker)}; KS idle vs sending D = ${ks.d.toFixed(3)}, p = ${ks.p.toFixed(3)}`);
  assert.ok(worker.maxBurst <= MAX_BURST, `${worker.maxBurst} packets within ${BURST_WINDOW_MS} ms: a burst`);
});

/**
 * What a send does on the event loop is the ratchet's step per recipient, beginning the keystore
 * write, 64 KiB pieces of the store's values and one small store transaction (the AEADs over the mail, its frames, their erasure coding and the store's
 * sealed values are the builder's; a packet that leaves commits only its SURB and a small progress
 * row): slots are not dropped while a large mail is sealed, so the packet rate does not dip. Before
 * that work left the event loop this comparison failed on a busy machine (140 packets in 3 s
 * against 198 idle, KS p < 10^-4).
 */
test('sending 1 MB with the worker: the gaps look like idle Poisson traffic', () => {
  assert.ok(worker !== undefined, 'the measurement above ran');
  const ks = idleAgainstSending(worker.idleGaps, worker.sendGaps);
  assert.ok(ks.p >= 0.001, `the gaps while sending differ from idle ones (D = ${ks.d.toFixed(3)}, p = ${ks.p.toFixed(4)})`);
});

test('planted leak: building on the event loop and catching up missed slots is detected as a burst', async (t) => {
  const takeDue = Object.getOwnPropertyDescriptor(PoissonStreams.prototype, 'takeDue')!;
  // The old rule: every overdue slot is sent at once, in time order.
  Object.defineProperty(PoissonStreams.prototype, 'takeDue', {
    configurable: true,
    value(this: PoissonStreams, now: number): DueEvents {
      const events: TrafficEvent[] = [];
      while (this.peek().at <= now) events.push(this.take());
      return { events, skipped: 0 };
    },
  });
  let m: Measurement;
  try {
    // Four megabytes: on a quick machine the inline build of one stalls the loop too briefly for
    // the caught-up slots to stand out (9 within 10 ms was seen); the leak is the same.
    m = await measure('timing-leak', 'inline', ONE_MB.repeat(4));
  } finally {
    Object.defineProperty(PoissonStreams.prototype, 'takeDue', takeDue);
  }
  const ks = idleAgainstSending(m.idleGaps, m.sendGaps);
  t.diagnostic(`inline + catch-up: ${describe(m)}; KS idle vs sending D = ${ks.d.toFixed(3)}, p = ${ks.p.toFixed(4)}`);
  // Found as a burst (a long stall: many overdue slots at once) or, when the machine is quick and
  // the stall short, as gaps unlike idle ones; the worker test above must pass both checks.
  assert.ok(m.maxBurst > MAX_BURST || ks.p < 0.001, `the catch-up leak was not seen (${m.maxBurst} packets within ${BURST_WINDOW_MS} ms; KS p = ${ks.p.toFixed(4)})`);
});

/**
 * The longest the event loop stands still while a 1 MB mail is sent (docs/client.md, "Sending"):
 * a timer chain (1 ms) records the longest gap between its callbacks from just before send() until
 * STALL_TAIL_MS after it returned (the mail's packets then leave, each committing its SURB). What
 * is left on the event loop of a send is small steps: the ratchet step, 64 KiB pieces of the
 * store's values, one small transaction; the keystore is synced and the store's log checkpointed on
 * other threads. Measured on a 2-core machine at load 8.5: 17–37 ms with the steps (those are the
 * machine's other work: idle windows show the same); before them 21–56 ms at load 3–5 for 1 MB
 * (one transaction writing 2 MB, SQLite's checkpoint and the keystore's fsync on the event loop),
 * 90–110 ms for 4 MB.
 *
 * One send's figure is as noisy as the machine: a neighbour's burst of work, or a garbage
 * collection, lands in some sends (at load 12–20 one send in five read 115–164 ms), while a stall
 * of the send itself is in every one. So the least of STALL_SENDS sends is taken, and it must stay
 * under STALL_BOUND_MS. The planted control holds the event loop for PLANTED_STALL_MS in the write
 * of each mail (as one large synchronous write does): the least of its sends must exceed it. The
 * median and the idle windows are printed. A regression to one large write is caught exactly by
 * the next test, which counts bytes, not milliseconds.
 */
const STALL_SENDS = 5;
const STALL_TAIL_MS = 300;
const STALL_BOUND_MS = 75;
const PLANTED_STALL_MS = 150;

/** Records the longest gap between the callbacks of a 1 ms timer chain, until stopped. */
function gapTracker(): { stop(): number } {
  let longest = 0;
  let last = performance.now();
  let timer = setTimeout(function tick() {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    timer = setTimeout(tick, 1);
  }, 1);
  return {
    stop() {
      clearTimeout(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function middle(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[values.length >> 1];
}

/** The longest stall during each of `sends` sends of 1 MB, and during an idle window before each. */
async function stallsWhileSending(label: string, sends: number): Promise<{ sending: number[]; idle: number[] }> {
  const { agent } = await startSender(label, 'worker');
  const sending: number[] = [];
  const idle: number[] = [];
  let windowMs = 800; // the idle window is as long as the last send's (a longer window holds more of the machine's stalls)
  for (let i = 0; i < sends; i++) {
    const quiet = gapTracker();
    await sleep(windowMs);
    idle.push(quiet.stop());
    const from = performance.now();
    const tracker = gapTracker();
    await agent.send({ to: 'bob', subject: `one megabyte ${i}`, body: ONE_MB });
    await sleep(STALL_TAIL_MS);
    sending.push(tracker.stop());
    windowMs = performance.now() - from;
  }
  await agent.close();
  return { sending, idle };
}

const ms = (values: readonly number[]) => values.map((value) => value.toFixed(0)).join(', ');

test('sending 1 MB holds the event loop only briefly; a planted blocking write is detected', async (t) => {
  const steps = await stallsWhileSending('stall-steps', STALL_SENDS);
  const least = Math.min(...steps.sending);
  t.diagnostic(`longest stall per send ${ms(steps.sending)} ms (least ${least.toFixed(0)}, median ${middle(steps.sending).toFixed(0)}); idle windows ${ms(steps.idle)} ms; bound ${STALL_BOUND_MS} ms`);
  assert.ok(least < STALL_BOUND_MS, `every one of ${STALL_SENDS} sends of 1 MB held the event loop over ${STALL_BOUND_MS} ms: ${ms(steps.sending)} ms`);

  // The control: each mail's row written in one synchronous write that holds the loop PLANTED_STALL_MS.
  const addSentSealed = Object.getOwnPropertyDescriptor(MailStore.prototype, 'addSentSealed')!;
  Object.defineProperty(MailStore.prototype, 'addSentSealed', {
    configurable: true,
    value(this: MailStore, ...args: Parameters<MailStore['addSentSealed']>) {
      const until = performance.now() + PLANTED_STALL_MS;
      while (performance.now() < until); // a large write's time, on the event loop
      return (addSentSealed.value as MailStore['addSentSealed']).apply(this, args);
    },
  });
  let planted: { sending: number[]; idle: number[] };
  try {
    planted = await stallsWhileSending('stall-planted', 3);
  } finally {
    Object.defineProperty(MailStore.prototype, 'addSentSealed', addSentSealed);
  }
  t.diagnostic(`planted ${PLANTED_STALL_MS} ms write: longest stall per send ${ms(planted.sending)} ms`);
  assert.ok(Math.min(...planted.sending) >= PLANTED_STALL_MS, `the planted ${PLANTED_STALL_MS} ms write was not seen (${ms(planted.sending)} ms)`);
});

/**
 * The same property counted in bytes, which a loaded machine cannot blur: no turn of the event loop
 * writes more than two pieces (and a few small rows) to the store while a 1 MB mail is sent. Every
 * statement run on any better-sqlite3 connection is counted by the bytes it binds, per turn (a
 * setImmediate chain numbers the turns). The control writes each value whole in the mail's one
 * transaction, as the store did before its values were staged in pieces: 2 MB in one turn.
 */
const TURN_BYTES_BOUND = 2 * PIECE_BYTES + 16 * 1024;

async function mostBytesInOneTurn(label: string): Promise<number> {
  const { agent } = await startSender(label, 'worker');
  const probe = new Database(':memory:');
  const statement = Object.getPrototypeOf(probe.prepare('SELECT 1')) as { run: (...params: unknown[]) => unknown };
  probe.close();
  const run = statement.run;
  const perTurn = new Map<number, number>();
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  statement.run = function (this: unknown, ...params: unknown[]) {
    const bytes = params.reduce<number>((sum, param) => sum + (param instanceof Uint8Array ? param.byteLength : 0), 0);
    perTurn.set(turn, (perTurn.get(turn) ?? 0) + bytes);
    return run.apply(this, params);
  };
  try {
    await agent.send({ to: 'bob', subject: 'one megabyte', body: ONE_MB });
    await sleep(STALL_TAIL_MS);
  } finally {
    statement.run = run;
    ticking = false;
  }
  await agent.close();
  return Math.max(...perTurn.values());
}

test('sending 1 MB writes at most two store pieces per turn of the event loop; one large write is detected', async (t) => {
  const most = await mostBytesInOneTurn('turn-bytes');
  t.diagnostic(`most bytes written to the store in one turn: ${most}`);
  assert.ok(most <= TURN_BYTES_BOUND, `${most} bytes written to the store in one turn of the event loop`);

  const stageSealed = Object.getOwnPropertyDescriptor(MailStore.prototype, 'stageSealed')!;
  Object.defineProperty(MailStore.prototype, 'stageSealed', { configurable: true, value: async (_column: unknown, _rowKey: unknown, sealed: Uint8Array) => sealed });
  let whole: number;
  try {
    whole = await mostBytesInOneTurn('turn-bytes-whole');
  } finally {
    Object.defineProperty(MailStore.prototype, 'stageSealed', stageSealed);
  }
  t.diagnostic(`the values written whole: ${whole} bytes in one turn`);
  assert.ok(whole > TURN_BYTES_BOUND, `the whole-value control wrote only ${whole} bytes in one turn`);
});
