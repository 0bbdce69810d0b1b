import * as assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Child } from '../../src/testnet/processes.js';
import { restartDelayMs, Supervisor, type SupervisionEvent, type SupervisionPolicy } from '../../src/testnet/supervisor.js';
import { up } from '../../src/testnet/up.js';

const FAST: SupervisionPolicy = { firstDelayMs: 5, maxDelayMs: 40, maxFailures: 4, healthyMs: 60_000 };

/** A child whose process is only an event emitter: the test makes it exit. */
function fakeChild(name: string): Child & { exit(): void } {
  const process = new EventEmitter();
  return { name, process: process as unknown as Child['process'], ready: {}, exit: () => process.emit('exit', null, 'SIGKILL') };
}

/** Resolves with the first event of `type` (checked as events arrive). */
function eventsOf(): { events: SupervisionEvent[]; next(type: SupervisionEvent['type']): Promise<SupervisionEvent>; on(event: SupervisionEvent): void } {
  const events: SupervisionEvent[] = [];
  const waiting: [SupervisionEvent['type'], (event: SupervisionEvent) => void][] = [];
  return {
    events,
    on(event) {
      events.push(event);
      for (const [i, [type, resolve]] of waiting.entries()) if (type === event.type) { waiting.splice(i, 1); resolve(event); break; }
    },
    next: (type) => new Promise((resolve) => waiting.push([type, resolve])),
  };
}

describe('umbra up supervision', () => {
  test('backoff doubles from the first delay and is capped', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => restartDelayMs(FAST, n)), [5, 10, 20, 40, 40]);
  });

  test('a node that dies on its own is reported and restarted; one that keeps dying is given up on', async () => {
    const seen = eventsOf();
    let current = fakeChild('mix-1-1');
    let restarts = 0;
    const supervisor = new Supervisor(async (name) => {
      restarts++;
      current = fakeChild(name);
      supervisor.watch(current);
      return current;
    }, seen.on, FAST);
    supervisor.watch(current);
    for (let failure = 1; failure < FAST.maxFailures; failure++) {
      const restarted = seen.next('restarted');
      current.exit();
      await restarted;
    }
    const gaveUp = seen.next('gave-up');
    current.exit();
    await gaveUp;
    assert.equal(restarts, FAST.maxFailures - 1);
    assert.deepEqual(seen.events.filter((e) => e.type === 'exited').map((e) => (e as { restartInMs: number }).restartInMs), [5, 10, 20]);
  });

  test('an exit that was asked for (a stop or a kill) restarts nothing', async () => {
    const seen = eventsOf();
    const child = fakeChild('mix-1-1');
    const supervisor = new Supervisor(async () => assert.fail('no restart expected'), seen.on, FAST);
    supervisor.watch(child);
    supervisor.expectExit('mix-1-1');
    child.exit();
    const other = fakeChild('mix-1-2');
    supervisor.watch(other);
    supervisor.stop();
    other.exit();
    await new Promise((resolve) => setTimeout(resolve, FAST.maxDelayMs * 2));
    assert.deepEqual(seen.events, []);
  });

  test('a real node SIGKILLed behind umbra up\'s back comes back on its own ports', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'umbra-supervise-'));
    const seen = eventsOf();
    let net: Awaited<ReturnType<typeof up>> | undefined;
    // One hook, in this order: removing the directory under running nodes fails (they write to it),
    // and a hook that throws skips the ones after it, which left every node running.
    t.after(async () => {
      await net?.stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    });
    net = await up({ dir, epochMs: 4_000, parameters: 'fast', readyTimeoutMs: 120_000, supervision: { ...FAST, firstDelayMs: 200 }, onSupervision: seen.on });
    const before = net.pidOf('mix-2-1');
    assert.ok(before !== undefined);
    const exited = seen.next('exited');
    const restarted = seen.next('restarted');
    process.kill(before, 'SIGKILL');
    assert.equal((await exited).name, 'mix-2-1');
    await restarted;
    const after = net.pidOf('mix-2-1');
    assert.ok(after !== undefined && after !== before);
    // A deliberate kill through the testnet is not a failure.
    await net.kill('mix-2-1', 'SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(seen.events.filter((e) => e.type === 'restarted').length, 1);
  });
});
