/**
 * PIR download volume does not show when mail arrives (issue 9, item 11), over the real nodes: a
 * recording TCP relay sits on each of Bob's two mailbox-server links (his provider and its PIR
 * partner) and counts every byte in both directions (TLS records, as an observer sees them). Bob
 * polls in windows of four polls; in some windows nothing arrives, in others a 200 KB mail from
 * Alice (about 80 fragments, all to one address, all in one bucket) lands and Bob reads it, its pages
 * spread over several polls' budgets. The bytes of every window are compared: largest / median must
 * stay close to 1, and the windows with the mail must not stand out from the idle ones.
 *
 * Planted-leak control: the same run with the providers sizing rows as row format 1 did (every row
 * as large as the fullest bucket, PirServiceOptions.rowSizing), the client reading on with the
 * consensus's size. The same observer finds the windows after the mail several times larger than the
 * idle ones. This is how the old code was checked: format 1 had exactly that sizing (the issue
 * measured up to 5.7× the median), and the control shows the measure detects it.
 *
 * The test network stays in its first epoch (its fake clock runs before genesis), so the windows are
 * groups of polls rather than epochs; every poll of an epoch carries the same budget, so bytes per
 * epoch are a whole number of such windows.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { initClient, startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import type { WebSocketConnector } from '../../src/net/request-channel.js';
import { connectWebSocket, type WebSocketConnection } from '../../src/net/websocket.js';
import type { ProviderHandle } from '../../src/node/provider/index.js';
import { DEFAULT_NETWORK_PARAMETERS } from '../../src/pki/index.js';
import { slotsPerPage } from '../../src/pir/snapshot.js';
import { decodePirResponse, encodePirInfoResponse, PIR_ANSWER, PIR_ANSWER_HEADER_BYTES, PIR_INFO_RESPONSE } from '../../src/wire/pir-messages.js';
import { TestNetwork } from '../node/pir/support.js';
import { RecordingRelay } from './recording-relay.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from './support.js';
import { interceptedConnection } from '../support/intercepted-connection.js';

const POLLS_PER_WINDOW = 4;
const IDLE_WINDOWS = 3;
const AFTER_WINDOWS = 5;
const BIG_MAIL = 200 * 1024;
const ROW_BYTES = DEFAULT_NETWORK_PARAMETERS.pir.rowBytes;

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

const portOf = (url: string): number => Number(new URL(url).port);

/** The relay's bytes so far, both directions, every connection. */
function relayed(relay: RecordingRelay): number {
  let total = 0;
  for (const buffer of relay.toServer) total += buffer.length;
  for (const buffer of relay.toClient) total += buffer.length;
  return total;
}

/**
 * For the control only: the client keeps reading rows of the consensus's size while the providers
 * send larger ones (the bytes on the wire are the providers'; the client's rows fail their check).
 */
function consensusSized(conn: WebSocketConnection): WebSocketConnection {
  return interceptedConnection(conn, {
    incoming: (bytes) => {
      if (bytes[0] === PIR_INFO_RESPONSE) {
        const response = decodePirResponse(bytes);
        if (response.type === 'pir-info') return encodePirInfoResponse(response.requestId, { ...response.info, rowBytes: ROW_BYTES, slots: slotsPerPage(ROW_BYTES, response.info.slotBytes) });
      }
      if (bytes[0] === PIR_ANSWER) return bytes.subarray(0, PIR_ANSWER_HEADER_BYTES + ROW_BYTES);
      return bytes;
    },
  });
}

interface Run {
  readonly windows: number[];
  /** Index of the first window after the mail was sent. */
  readonly mailAt: number;
  readonly received: boolean;
  /** Fragments of the large mail. */
  readonly fragments: number;
}

/** One network, Alice and Bob, Bob's mailbox links recorded; the bytes of every window of polls. */
async function measure(label: string, genesisMs: number, planted: boolean): Promise<Run> {
  const net = await TestNetwork.start({
    label,
    retrieval: 'pir',
    genesisMs,
    pir: {
      refreshMs: 100,
      ...(planted ? { rowSizing: (fixed: number, fullest: number, slotBytes: number) => Math.max(fixed, Math.ceil((32 + 640 + fullest * slotBytes) / 4096) * 4096) } : {}),
    },
  });
  cleanups.push(() => net.close());
  const [p1, p2] = net.providers;
  const relays = new Map<number, RecordingRelay>();
  for (const provider of [p1, p2]) {
    const relay = await RecordingRelay.start(portOf(provider.wsUrl));
    relays.set(portOf(provider.wsUrl), relay);
    cleanups.push(() => relay.close());
  }
  const through: WebSocketConnector = async (target, options) => {
    const relay = relays.get(portOf(target.url));
    if (relay === undefined) return connectWebSocket(target, options);
    const conn = await connectWebSocket({ url: `wss://127.0.0.1:${relay.port}`, linkKey: target.linkKey }, planted ? { ...options, maxMessageBytes: 64 << 20 } : options);
    return planted ? consensusSized(conn) : conn;
  };
  const user = async (name: string, provider: ProviderHandle, connector?: WebSocketConnector, events: ClientEvent[] = []): Promise<{ agent: ClientAgent; card: string }> => {
    const dir = join(net.tempDir('umbra-pir-volume-'), name);
    const init = await initClient(dir, {
      name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
      servers: [net.server(provider)], kdf: FAST_KDF, clock: net.clock, ...TEST_NETWORK_POLICY,
    });
    const agent = await startClient(dir, 'pw', { clock: net.clock, onEvent: (event) => events.push(event), ...(connector === undefined ? {} : { connectWebSocket: connector }) });
    cleanups.push(() => agent.close());
    return { agent, card: init.cardUri };
  };
  const alice = await user('Alice', p1);
  const bob = await user('Bob', p2, through);
  alice.agent.addContact(bob.card);
  bob.agent.addContact(alice.card);
  await bob.agent.poll(); // the connections and their TLS handshakes, before any window
  const total = (): number => [...relays.values()].reduce((sum, relay) => sum + relayed(relay), 0);

  const windows: number[] = [];
  const body = 'x'.repeat(63).concat('\n').repeat(Math.ceil(BIG_MAIL / 64)).slice(0, BIG_MAIL);
  let stored = 0;
  for (let w = 0; w < IDLE_WINDOWS + AFTER_WINDOWS; w++) {
    if (w === IDLE_WINDOWS) {
      const before = (await p2.store.stats()).messages;
      const sent = await alice.agent.send({ to: 'Bob', subject: 'Large', body });
      // Wait on the delivery itself (not on time): every fragment stored at Bob's provider.
      await net.until('the large mail to reach Bob\'s provider', async () => (await p2.store.stats()).messages >= before + sent.fragments, 120_000);
      stored = sent.fragments;
    }
    const start = total();
    const polls: string[] = [];
    for (let i = 0; i < POLLS_PER_WINDOW; i++) {
      const before = total();
      const report = await bob.agent.poll();
      polls.push(`${total() - before} B ${report.error === undefined ? 'ok' : `error: ${report.error.slice(0, 60)}`}`);
      net.clock.advance(150); // past the snapshot refresh interval: new snapshots are built and replicated behind the answers
    }
    windows.push(total() - start);
    // Each poll's bytes and outcome, so that a window that differs says which poll made it differ.
    console.log(`# ${label} window ${w}: ${windows[w]} B; polls: ${polls.join('; ')}`);
  }
  assert.ok(stored > 0);
  return { windows, mailAt: IDLE_WINDOWS, received: bob.agent.inbox().some((mail) => mail.subject === 'Large'), fragments: stored };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function summary(run: Run): { largestOverMedian: number; activeOverIdle: number } {
  const idle = run.windows.slice(0, run.mailAt);
  const active = run.windows.slice(run.mailAt);
  return { largestOverMedian: Math.max(...run.windows) / median(run.windows), activeOverIdle: Math.max(...active) / Math.max(...idle) };
}

test('bytes on Bob\'s mailbox-server links are the same whether a 200 KB mail arrives or not; rows sized to the fullest bucket (control) show it', { timeout: 600_000 }, async () => {
  assert.ok(slotsPerPage(ROW_BYTES, 2673) >= 1);
  const fixed = await measure('pirvol', 2_300_000_000_000, false);
  const fixedSummary = summary(fixed);
  console.log(`# fixed rows (a mail of ${fixed.fragments} fragments): bytes per window ${fixed.windows.join(', ')}; largest/median ${fixedSummary.largestOverMedian.toFixed(3)}; largest active/largest idle ${fixedSummary.activeOverIdle.toFixed(3)}`);
  assert.ok(fixed.received, 'Bob read the large mail within the measured windows');
  assert.ok(fixedSummary.largestOverMedian < 1.05, `largest/median ${fixedSummary.largestOverMedian}`);
  assert.ok(fixedSummary.activeOverIdle < 1.05, `active/idle ${fixedSummary.activeOverIdle}`);

  const leak = await measure('pirvolleak', 2_310_000_000_000, true);
  const leakSummary = summary(leak);
  console.log(`# control (rows sized to the fullest bucket): bytes per window ${leak.windows.join(', ')}; largest/median ${leakSummary.largestOverMedian.toFixed(3)}; largest active/largest idle ${leakSummary.activeOverIdle.toFixed(3)}`);
  assert.ok(leakSummary.activeOverIdle > 1.5, `the control must be detected: active/idle ${leakSummary.activeOverIdle}`);
});
