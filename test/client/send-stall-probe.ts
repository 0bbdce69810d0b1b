/**
 * How long send() holds the event loop, by phase (not a test file: a diagnostic behind the figures
 * in docs/client.md, "Sending"). Alice's agent runs on real time against a simulated network at
 * the send-timing test's rates; for each mail size a 1 ms timer chain records the gaps from just
 * before send() until 1.5 s after, and each of the longest gaps is listed with what ran inside it
 * (store transactions and statements, keystore writes, builder dispatch, garbage collection; '?'
 * when none of those: the machine's other work). The phases are found by wrapping the agent's
 * objects, private fields included: this is a probe, not an API.
 *
 *   npx tsc -p . && node dist/test/client/send-stall-probe.js            # 1 and 4 MB, 3 rounds each
 *   SIZES=1 ROUNDS=5 node dist/test/client/send-stall-probe.js
 *   OLD=1 node dist/test/client/send-stall-probe.js   # as before: values written whole in one
 *                                                      # transaction, SQLite's own checkpoints, keystore synced inline
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { ClientCore } from '../../src/client/directory.js';
import { initClient, startClient } from '../../src/client/index.js';
import { MailStore } from '../../src/client/mail-store.js';
import type { Clock } from '../../src/net/clock.js';
import { FAST_KDF, removeTempDirs, SimNet, TEST_NETWORK_POLICY, tempDir, waitFor } from './support.js';

const RATES = { clientSendRate: 50, loopRate: 5, dropRate: 5 };
const SIZES_MB = (process.env.SIZES ?? '1,4').split(',').map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 3);

interface Phase { name: string; from: number; to: number }
const phases: Phase[] = [];

function realTimeClock(net: SimNet): Clock {
  const base = net.clock.now();
  const start = performance.now();
  return { now: () => Math.floor(base + performance.now() - start), setTimer: (cb, d) => setTimeout(cb, Math.max(0, d)), clearTimer: (h) => clearTimeout(h as ReturnType<typeof setTimeout>) };
}

/** Records each call of `target[method]` (its synchronous part) as a phase. */
function timed(target: Record<string, unknown>, method: string, name: string): void {
  const original = target[method] as (...args: unknown[]) => unknown;
  target[method] = function (this: unknown, ...args: unknown[]) {
    const from = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      phases.push({ name, from, to: performance.now() });
    }
  };
}

function plantOldPath(): void {
  Object.defineProperty(MailStore.prototype, 'stageSealed', { value: async (_c: unknown, _k: unknown, sealed: Uint8Array) => sealed });
  Object.defineProperty(MailStore.prototype, 'checkpointOffThread', { value: () => undefined });
  Object.defineProperty(ClientCore.prototype, 'persistInBackground', { value(this: ClientCore) { this.persist(); return Promise.resolve(); } });
}

async function main(): Promise<void> {
  if (process.env.OLD === '1') plantOldPath();
  const net = await SimNet.start({ label: 'stall-probe', traffic: RATES, route: false });
  const make = async (name: string) => {
    const dir = join(tempDir(), name);
    const init = await initClient(dir, { name, passphrase: 'pw', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
    return { dir, init };
  };
  const bob = await make('bob');
  const alice = await make('alice');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const agent: any = await startClient(alice.dir, 'pw', { clock: realTimeClock(net), builder: 'worker' });
  agent.addContact(bob.init.cardUri);
  await waitFor(() => net.arrivals.length >= 30, 'the streams to run');
  const core = agent.core;
  timed(core, 'persist', 'keystore write');
  timed(core, 'persistInBackground', 'keystore write begun');
  timed(core.store, 'transaction', 'store transaction');
  timed(core.store, 'stageSealed', 'stage begun');
  timed(Object.getPrototypeOf(core.store.live().prepare('SELECT 1')), 'run', 'statement');
  timed(agent.outbox, 'add', 'outbox.add');
  timed(agent.builder, 'run', 'builder dispatch');
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) phases.push({ name: 'gc', from: entry.startTime, to: entry.startTime + entry.duration });
  }).observe({ entryTypes: ['gc'] });
  console.log(`${process.env.OLD === '1' ? 'old path' : 'current path'}; load ${loadavg()[0].toFixed(1)} on ${(await import('node:os')).cpus().length} cores`);
  for (const mb of SIZES_MB) {
    const longest: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      phases.length = 0;
      const gaps: { at: number; gap: number }[] = [];
      let last = performance.now();
      let on = true;
      const tick = () => {
        const now = performance.now();
        gaps.push({ at: last, gap: now - last });
        last = now;
        if (on) setTimeout(tick, 1);
      };
      setTimeout(tick, 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const from = performance.now();
      await agent.send({ to: 'bob', subject: `${mb} MB`, body: 'x'.repeat(mb << 20) });
      const sendMs = performance.now() - from;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      on = false;
      const top = gaps.filter((g) => g.at >= from).sort((a, b) => b.gap - a.gap).slice(0, 3);
      longest.push(top[0].gap);
      const inside = (g: { at: number; gap: number }) => {
        const sums = new Map<string, number>();
        for (const p of phases) if (p.to > g.at && p.from < g.at + g.gap) sums.set(p.name, (sums.get(p.name) ?? 0) + p.to - p.from);
        return [...sums].filter(([, t]) => t >= 0.5).map(([n, t]) => `${n} ${t.toFixed(1)}`).join(', ') || '?';
      };
      console.log(`${mb} MB #${round}: send() ${sendMs.toFixed(0)} ms; longest gaps ${top.map((g) => `${g.gap.toFixed(1)} ms [${inside(g)}]`).join(' | ')}`);
    }
    console.log(`${mb} MB: longest stall per send ${longest.map((t) => t.toFixed(0)).join(', ')} ms; load ${loadavg()[0].toFixed(1)}`);
  }
  await agent.close();
  await net.close();
  removeTempDirs();
}

await main();
