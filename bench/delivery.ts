import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClient, type ClientAgent, type ClientEvent } from '../src/client/index.js';
import { DEMO_PASSPHRASE, prepareUsers } from '../src/testnet/demo.js';
import { up } from '../src/testnet/up.js';
import { percentile } from './net-support.js';

/**
 * `npm run bench -- delivery [mails] [bytes]`: how long mail takes on `umbra up` (8 s epochs, the
 * recommended mixing: 500 ms mean delays, 1 packet a second per client), and how often it waits for
 * a resend. Alice's and Bob's agents run in this process; Alice sends Bob `mails` mails (default
 * 30) of `bytes` bytes (default 1500: two packets), each after the previous one was acknowledged.
 * Reported per mail: seconds until Bob received it and until Alice had its ACK, and the resends. A
 * resend costs about 30 s (the reply window's end, docs/client.md, "Sending"), so `resent` is what
 * moves the mean.
 */
export async function benchDelivery(): Promise<Record<string, unknown>> {
  const mails = Number(process.argv[3] ?? 30);
  const bytes = Number(process.argv[4] ?? 1500);
  if (!Number.isSafeInteger(mails) || mails < 1 || !Number.isSafeInteger(bytes) || bytes < 1 || bytes > 1_000_000) {
    console.error('usage: npm run bench -- delivery [mails ≥ 1] [bytes 1..1000000]');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'umbra-bench-delivery-'));
  const net = await up({ dir, epochMs: 8000, readyTimeoutMs: 300_000 });
  const agents = new Map<string, ClientAgent>();
  try {
    await prepareUsers(net);
    const events: (ClientEvent & { user: string; at: number })[] = [];
    const waiters = new Set<() => void>();
    for (const user of net.file.users) {
      agents.set(user.name, await startClient(user.dir, DEMO_PASSPHRASE, {
        onEvent: (event) => {
          events.push({ ...event, user: user.name, at: Date.now() });
          for (const wake of [...waiters]) wake();
        },
      }));
    }
    const until = (match: (event: ClientEvent & { user: string }) => boolean): Promise<number> => new Promise((resolve) => {
      const wake = (): void => {
        const found = events.find(match);
        if (found === undefined) return;
        waiters.delete(wake);
        resolve(found.at);
      };
      waiters.add(wake);
      wake();
    });
    const alice = agents.get('alice')!;
    const received: number[] = [];
    const delivered: number[] = [];
    let resent = 0;
    for (let i = 0; i < mails; i++) {
      const started = Date.now();
      const subject = `bench ${i}`;
      const sent = await alice.send({ to: 'bob', subject, body: 'x'.repeat(bytes) });
      received.push((await until((e) => e.user === 'bob' && e.type === 'received' && e.subject === subject)) - started);
      delivered.push((await until((e) => e.user === 'alice' && e.type === 'status' && e.id === sent.id && e.status === 'delivered')) - started);
      const resends = events.filter((e) => e.user === 'alice' && e.type === 'resend' && e.id === sent.id).length;
      if (resends > 0) resent++;
      console.log(`mail ${i}: received ${(received[i] / 1000).toFixed(1)} s, acknowledged ${(delivered[i] / 1000).toFixed(1)} s${resends > 0 ? `, resent ${resends}` : ''}`);
      // A slow one: what the agents said meanwhile (polls with errors, alerts, statuses), for a look.
      if (delivered[i] > 15_000) {
        const said = events.filter((e) => e.at >= started && e.type !== 'consensus' && e.type !== 'loop' && !(e.type === 'poll' && e.error === undefined));
        console.log(`  meanwhile: ${said.map((e) => `+${((e.at - started) / 1000).toFixed(1)} ${e.user} ${JSON.stringify({ ...e, user: undefined, at: undefined })}`).join('; ')}`);
      }
    }
    const seconds = (ms: number): number => Math.round(ms) / 1000;
    const sorted = (list: number[]): number[] => [...list].sort((a, b) => a - b);
    return {
      bench: 'delivery', mails, bytes, resent,
      received_s: { p50: seconds(percentile(sorted(received), 0.5)), max: seconds(Math.max(...received)) },
      acknowledged_s: { p50: seconds(percentile(sorted(delivered), 0.5)), mean: seconds(delivered.reduce((a, b) => a + b, 0) / mails), max: seconds(Math.max(...delivered)) },
      bob_replies: agents.get('bob')!.status().packets,
    };
  } finally {
    await Promise.all([...agents.values()].map((agent) => agent.close()));
    await net.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
