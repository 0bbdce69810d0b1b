import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url } from '../codec/bytes.js';
import { initClient, KEYSTORE_FILE, MIN_MEM_LIMIT, MIN_OPS_LIMIT, openClient, startClient, type ClientAgent, type ClientSettings } from '../client/index.js';
import type { ClientEvent } from '../client/agent/types.js';
import { consensusBelowMinimums, DEFAULT_CONSENSUS_MINIMUMS } from '../traffic/consensus-minimums.js';
import type { Testnet } from './up.js';

/**
 * The demo users of a local network: Alice and Bob, each with a client directory under
 * `<dir>/users`, each other's contact; Alice writes, Bob's agent receives, Alice's gets the ACK.
 * Their passphrase is DEMO_PASSPHRASE: fine for a throwaway loopback network, never elsewhere.
 */
export const DEMO_PASSPHRASE = 'umbra local demo';

/**
 * The demo keystores' Argon2id cost: the least the keystore takes. The passphrase is published
 * above, so a costly derivation would guard nothing; it would only cost each `umbra up` (and each
 * test network) about 0.75 s of CPU per unlock, three unlocks per user.
 */
const DEMO_KDF = Object.freeze({ opsLimit: MIN_OPS_LIMIT, memLimitBytes: MIN_MEM_LIMIT });

/**
 * A network on the fast set (short delays, no drop stream) runs below the client's minimums: its
 * users lower them. On the recommended set they keep the defaults, as any user would.
 */
const DEMO_POLICY = Object.freeze({
  minimums: Object.freeze({ clientSendRate: 0, loopRate: 0, dropRate: 0, meanDelayMs: 0, retrieval: Object.freeze(['bucket', 'download', 'pir'] as const) }),
});

/** `settings` (poll schedule, ACK timeout, …) apply to users created now; existing ones keep theirs. */
export async function prepareUsers(net: Testnet, settings: Partial<Omit<ClientSettings, 'authority' | 'minimums'>> = {}): Promise<void> {
  // Users ask the first authority and trust them all: a document needs a majority of their signatures.
  const authority = { url: net.authorityUrl, publicKeys: net.authorities.map((a) => fromBase64Url(a.publicKey, 'authority key', 32)) };
  const cards = new Map<string, string>();
  const belowMinimums = consensusBelowMinimums(net.plan.network, DEFAULT_CONSENSUS_MINIMUMS, { allowModeChange: false }).length > 0;
  // Every node mirrors the consensus on its status listener (over TLS, pinned to its link key): the partition check asks two of them.
  const mirrors = net.file.nodes.flatMap((node) => (node.mirrorUrl === undefined ? [] : [node.mirrorUrl])).slice(0, 16);
  for (const user of net.file.users) {
    const provider = net.file.nodes.find((node) => node.name === user.provider);
    const server = provider?.wsUrl?.replace(/^wss:\/\//, '');
    if (existsSync(join(user.dir, KEYSTORE_FILE))) {
      const client = await openClient(user.dir, DEMO_PASSPHRASE);
      cards.set(user.name, client.cardUri());
      await client.close();
    } else {
      const made = await initClient(user.dir, {
        ...settings, name: user.name, passphrase: DEMO_PASSPHRASE, kdf: DEMO_KDF, authority, ...(belowMinimums ? DEMO_POLICY : {}), mirrors,
        ...(server !== undefined ? { servers: [server] } : {}),
      });
      cards.set(user.name, made.cardUri);
    }
  }
  for (const user of net.file.users) {
    const client = await openClient(user.dir, DEMO_PASSPHRASE);
    for (const [name, uri] of cards) if (name !== user.name) client.addContact(uri);
    await client.close();
  }
}

export interface DemoResult {
  readonly delivered: boolean;
  readonly acknowledged: boolean;
  readonly seconds: number;
}

/**
 * One line of a demo agent's log (`<dir>/logs/<user>.log`): what its polls, sends and links did,
 * never a subject, an address or a key.
 */
export function demoLogLine(event: ClientEvent, sinceMs: number): string | undefined {
  const at = `${(sinceMs / 1000).toFixed(1)}s`;
  switch (event.type) {
    case 'poll': return `${at} poll of epoch ${event.epoch}: ${event.items} new items${event.error === undefined ? '' : `; failed: ${event.error}`}`;
    case 'received': return `${at} received mail #${event.number}`;
    case 'status': return `${at} sent mail #${event.number} is ${event.status}${event.reason === undefined ? '' : ` (${event.reason})`}`;
    case 'resend': return `${at} sent mail #${event.number}: resending ${event.shards} fragments (${event.cause})`;
    case 'consensus': return `${at} consensus of epoch ${event.epoch}`;
    case 'error': return `${at} error in ${event.where}: ${event.message}`;
    default: return undefined;
  }
}

/** Appends the agent's events to `<dir>/logs/<name>.log` (mode 0600). */
function agentLog(net: Testnet, name: string, started: number): (event: ClientEvent) => void {
  const file = join(net.dir, 'logs', `${name}.log`);
  return (event) => {
    const line = demoLogLine(event, Date.now() - started);
    if (line !== undefined) appendFileSync(file, `${line}\n`, { mode: 0o600 });
  };
}

/** Alice sends Bob one mail over the running network; resolves when both ends saw it through. */
export async function exchange(net: Testnet, log: (line: string) => void, timeoutMs = 120_000): Promise<DemoResult> {
  const [alice, bob] = net.file.users;
  const started = Date.now();
  let received!: () => void;
  let acknowledged!: () => void;
  const gotMail = new Promise<void>((resolve) => (received = resolve));
  const gotAck = new Promise<void>((resolve) => (acknowledged = resolve));
  const agents: ClientAgent[] = [];
  try {
    const bobLog = agentLog(net, bob.name, started);
    const aliceLog = agentLog(net, alice.name, started);
    agents.push(await startClient(bob.dir, DEMO_PASSPHRASE, {
      onEvent: (event) => {
        bobLog(event);
        if (event.type === 'received') {
          log(`${bob.name} received "${event.subject}" from ${event.from}`);
          received();
        }
      },
    }));
    let sentId = -1;
    const sender = await startClient(alice.dir, DEMO_PASSPHRASE, {
      onEvent: (event) => {
        aliceLog(event);
        if (event.type === 'status' && event.id === sentId && event.status === 'delivered') {
          log(`${alice.name}'s mail was acknowledged by ${bob.name}'s agent`);
          acknowledged();
        }
      },
    });
    agents.push(sender);
    const sent = await sender.send({ to: bob.name, subject: 'Hello from the mix network', body: `Hi ${bob.name}, nobody on the way can tell that I wrote to you.\n` });
    sentId = sent.id;
    log(`${alice.name} sent a mail to ${bob.name} (${sent.fragments} packets, mixed with cover traffic)`);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    const mail = await Promise.race([gotMail.then(() => 'ok' as const), timeout]);
    const ack = mail === 'ok' ? await Promise.race([gotAck.then(() => 'ok' as const), timeout]) : 'timeout';
    return { delivered: mail === 'ok', acknowledged: ack === 'ok', seconds: (Date.now() - started) / 1000 };
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
  }
}
