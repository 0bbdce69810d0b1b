/**
 * The run behind test/client/unobservability.test.ts (not a test file itself): a real network in one
 * process (authority, two gateways, two mixes per layer, two PIR providers; TLS on every link) on a
 * fake clock with short epochs and fast rates; Alice, whose every WebSocket passes through a
 * LinkObserver, and Bob, her correspondent. An idle period; an active one in which Alice sends Bob
 * mails and Bob sends her mails (she ACKs them, he ACKs hers); then a short one like the active one
 * with the planted leak switched on (the control). The observer's records of all three.
 *
 * The clock moves from one pending timer to the next and yields to I/O twice at each, so a record
 * is stamped with the time of the timer that wrote it: the observer's timing is the client's own
 * schedule, not the machine's load.
 */
import { join } from 'node:path';
import { initClient, startClient, type ClientAgent, type ClientEvent, type StartOptions } from '../../src/client/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { connectWebSocket } from '../../src/net/websocket.js';
import { epochStart } from '../../src/pki/index.js';
import { LinkObserver, type ObservedLink } from '../support/link-observer.js';
import { crypto, TestNetwork } from '../node/pir/support.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from './support.js';

export interface RunPlan {
  readonly label: string;
  readonly genesisMs: number;
  /** Epochs in the idle and in the active period. */
  readonly epochs: number;
  /** Mails each way in the active period, spread evenly over it. */
  readonly mails: number;
  /** Body size of Alice's mails and of Bob's (bytes). */
  readonly bodyBytes: number;
  readonly replyBytes: number;
  /** A third period with the planted leak switched on (StartOptions.plantedLeakForTests). */
  readonly leaky: { readonly epochs: number; readonly mails: number; readonly bodyBytes: number };
}

export const EPOCH_MS = 4_000;
/** The consensus's rates: fast, so that a period holds thousands of packets in few seconds. */
export const TRAFFIC = Object.freeze({ clientSendRate: 40, loopRate: 5, dropRate: 5, gatewayClientRate: 100_000 });

export interface Period {
  readonly from: number;
  readonly to: number;
}

export interface RunResult {
  readonly links: readonly ObservedLink[];
  readonly idle: Period;
  readonly active: Period;
  /** The same as active, with the planted leak 'burst-on-send' on. */
  readonly leaky: Period;
  /** Which observed target is what, for Alice. */
  readonly roles: ReadonlyMap<string, string>;
  /** Alice's mails by the end of the active period. */
  readonly sent: number;
  readonly delivered: number;
  readonly received: number;
  readonly fragmentsPerMail: number;
  readonly packets: { readonly real: number; readonly cover: number; readonly loops: number; readonly drops: number };
  readonly errors: readonly string[];
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Moves the clock timer by timer (to the whole millisecond) to `end`, yielding to I/O twice at each step. */
async function pumpTo(net: TestNetwork, end: number): Promise<void> {
  const { clock } = net;
  while (clock.now() < end) {
    const next = clock.pending[0];
    // Whole milliseconds, as a real clock reads (a timer still fires at its own fractional time).
    clock.advanceTo(next === undefined ? end : Math.min(end, Math.max(Math.ceil(next), clock.now())));
    await immediate();
    await immediate();
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

async function user(net: TestNetwork, name: string, server: string, options: Mutable<StartOptions>): Promise<{ agent: ClientAgent; card: string }> {
  const dir = join(net.tempDir('umbra-unobservability-'), name);
  const random = seededRandom(crypto, crypto.blake2b(32, new TextEncoder().encode(`unobservability ${name}`)));
  const init = await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [server], kdf: FAST_KDF, clock: net.clock, random, ...TEST_NETWORK_POLICY,
  });
  // The agent keeps this very object: a test may switch its planted leak on later.
  options.clock = net.clock;
  options.random = random;
  const agent = await startClient(dir, 'pw', options);
  return { agent, card: init.cardUri };
}

/** Runs the plan: the network, warm-up, the idle period, the active period. */
export async function runUnobservability(plan: RunPlan): Promise<RunResult> {
  const net = await TestNetwork.start({
    label: plan.label, retrieval: 'pir', genesisMs: plan.genesisMs, epochMs: EPOCH_MS, traffic: TRAFFIC, gateways: 2, pir: { refreshMs: 100 },
  });
  const observer = new LinkObserver(() => net.clock.now());
  const errors: string[] = [];
  const onEvent = (event: ClientEvent): void => {
    if (event.type === 'error') errors.push(`${event.where}: ${event.message}`);
  };
  const [p1, p2] = net.providers;
  let alice: ClientAgent | undefined;
  let bob: ClientAgent | undefined;
  try {
    const aliceOptions: Mutable<StartOptions> = { connectWebSocket: observer.connector(connectWebSocket), onEvent };
    const a = await user(net, 'Alice', net.server(p1), aliceOptions);
    alice = a.agent;
    const b = await user(net, 'Bob', net.server(p2), {});
    bob = b.agent;
    alice.addContact(b.card);
    bob.addContact(a.card);
    const timing = { genesisMs: plan.genesisMs, epochMs: EPOCH_MS };
    // Warm-up: to the second epoch boundary, so every period starts on one with every link up.
    const first = Math.floor((net.clock.now() - plan.genesisMs) / EPOCH_MS) + 2;
    const idle = { from: epochStart(first, timing), to: epochStart(first + plan.epochs, timing) };
    const active = { from: idle.to, to: epochStart(first + 2 * plan.epochs, timing) };
    const leaky = { from: active.to, to: epochStart(first + 2 * plan.epochs + plan.leaky.epochs, timing) };
    await pumpTo(net, idle.to);
    let fragmentsPerMail = 0;
    /** Alice and Bob each send `mails` mails, spread evenly, early in their slot (delivered and ACKed within it). */
    const exchange = async (period: Period, mails: number, bodyBytes: number, replyBytes = plan.replyBytes): Promise<void> => {
      const every = (period.to - period.from) / mails;
      for (let i = 0; i < mails; i++) {
        await pumpTo(net, Math.round(period.from + i * every + every / 8));
        fragmentsPerMail = (await alice!.send({ to: 'Bob', subject: `mail ${i}`, body: 'x'.repeat(bodyBytes) })).fragments;
        await pumpTo(net, Math.round(period.from + i * every + every / 4));
        await bob!.send({ to: 'Alice', subject: `reply ${i}`, body: 'y'.repeat(replyBytes) });
      }
      await pumpTo(net, period.to);
    };
    await exchange(active, plan.mails, plan.bodyBytes);
    const activeCounts = { sent: alice.sent().length, delivered: alice.sent().filter((mail) => mail.status === 'delivered').length, received: alice.inbox().length };
    aliceOptions.plantedLeakForTests = 'burst-on-send';
    await exchange(leaky, plan.leaky.mails, plan.leaky.bodyBytes);
    const status = alice.status();
    const result: RunResult = {
      links: observer.links,
      idle,
      active,
      leaky,
      roles: new Map([
        [`127.0.0.1:${new URL(p1.wsUrl).port}`, 'provider'],
        [`127.0.0.1:${new URL(p2.wsUrl).port}`, 'partner'],
        ...net.nodes
          .filter((node) => node.wsUrl !== undefined && node.name.includes('-gateway'))
          .map((node) => [`127.0.0.1:${new URL(node.wsUrl!).port}`, node.name.endsWith('gateway') ? 'gateway-1' : 'gateway-2'] as [string, string]),
      ]),
      ...activeCounts,
      fragmentsPerMail,
      packets: status.packets,
      errors,
    };
    return result;
  } finally {
    await alice?.close().catch(() => undefined);
    await bob?.close().catch(() => undefined);
    await observer.close();
    await net.close();
  }
}

