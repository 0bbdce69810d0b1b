import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initClient, readApiEndpoint, startApiServer, startClient, writeApiEndpoint, type ApiEndpoint, type ApiServer, type ClientAgent } from '../../src/client/index.js';
import { FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from '../client/support.js';

/**
 * `umbra client` commands while an agent runs in the directory: the real command, in its own
 * process, finds the agent through `<dir>/api.json` and goes through its API (the directory stays
 * locked by the agent). The agents run in this process on the simulated network, with the API
 * endpoint this process's own PID, so the commands must run asynchronously (the API is served here).
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = promisify(execFile);

interface Party {
  dir: string;
  agent: ClientAgent;
  api: ApiServer;
  endpoint: ApiEndpoint;
}

let net: SimNet;
const parties: Party[] = [];

async function party(name: string): Promise<Party> {
  const dir = join(tempDir(), name);
  await initClient(dir, { name, passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  const agent = await startClient(dir, 'pass', { clock: net.clock });
  const api = await startApiServer({ agent, token: agent.apiToken() });
  const endpoint = { url: api.url, token: agent.apiToken(), pid: process.pid };
  writeApiEndpoint(dir, endpoint);
  const p = { dir, agent, api, endpoint };
  parties.push(p);
  return p;
}

async function client(p: Party, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, 'client', '--dir', p.dir, ...args], { env: { ...process.env, UMBRA_PASSPHRASE: 'pass' }, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

before(async () => {
  net = await SimNet.start({ label: 'cli-agent', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
});

after(async () => {
  for (const p of parties) {
    await p.api.close();
    await p.agent.close().catch(() => undefined);
  }
  await net?.close();
  removeTempDirs();
});

test('umbra client commands go through the running agent', async () => {
  const alice = await party('alice');
  const bob = await party('bob');
  assert.deepEqual(readApiEndpoint(alice.dir), alice.endpoint);

  const card = await client(bob, 'card');
  assert.equal(card.code, 0, card.stderr);
  assert.equal(card.stdout.trim(), bob.agent.cardUri());
  const added = await client(alice, 'contact', 'add', card.stdout.trim());
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /bob/);
  assert.deepEqual(alice.agent.contacts().map((c) => c.name), ['bob'], 'the contact is in the running agent');

  const sent = await client(alice, 'send', '--to', 'bob', '--subject', 'through the agent', '--body', 'hello');
  assert.equal(sent.code, 0, sent.stderr);
  assert.match(sent.stdout, /queued as sent #1 to bob .* in the running agent/);
  const listed = await client(alice, 'sent');
  assert.match(listed.stdout, /#1 .* to bob +\[(queued|sending)\]/);
  const own = await client(alice, 'read', '--sent', '1');
  assert.equal(own.code, 0, own.stderr);
  assert.match(own.stdout, /Subject: through the agent\nStatus: (queued|sending)/);

  await net.advance(2000);
  await waitFor(() => net.count('deliver') >= 1, 'the fragment');
  await bob.agent.poll();
  const inbox = await client(bob, 'inbox', '--json');
  assert.equal(inbox.code, 0, inbox.stderr);
  const mails = JSON.parse(inbox.stdout) as { id: number; number: number; subject: string; read: boolean }[];
  assert.deepEqual(mails.map((m) => [m.number, m.subject, m.read]), [[1, 'through the agent', false]]);
  // Reading through the CLI (the API's GET /messages/{id}) is the read flag IMAP shows as \Seen.
  const inboxFolder = bob.agent.folders().find('INBOX')!;
  const seen = () => bob.agent.folders().messages(inboxFolder.id).map((m) => m.flags.includes('\\Seen'));
  assert.deepEqual(seen(), [false]);
  const read = await client(bob, 'read', '1');
  assert.match(read.stdout, /hello/);
  assert.deepEqual(seen(), [true]);
  assert.match((await client(bob, 'inbox')).stdout, /^#1   /);

  const api = await client(bob, 'api');
  assert.match(api.stdout, new RegExp(`url: ${bob.api.url}`));

  // The user's mistakes keep their exit code 2 through the API.
  const unknown = await client(alice, 'send', '--to', 'carol', '--subject', 's', '--body', 'b');
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.equal(unknown.stderr.trim().split('\n').length, 1);
  const missing = await client(bob, 'read', '999');
  assert.equal(missing.code, 2, missing.stderr);
});

test('a command waits for an agent that holds the directory but has no API yet', async () => {
  const [, bob] = parties;
  // As while an agent starts: the lock is held (by this process's agent), api.json not written yet.
  rmSync(join(bob.dir, 'api.json'));
  const listing = client(bob, 'inbox');
  setTimeout(() => writeApiEndpoint(bob.dir, bob.endpoint), 1500);
  const result = await listing;
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /through the agent/);
});

test('umbra client resend sends a failed mail again through the running agent; a wrong id is one line and exit code 2', async () => {
  const [, bob] = parties;
  const dir = join(tempDir(), 'carla');
  // No resend and a 3 s timeout (0.05 of the 60 s epoch): with the network losing everything, the mail fails fast.
  await initClient(dir, { name: 'carla', passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 60, ...TEST_NETWORK_POLICY, ackTimeoutEpochs: 0.05, maxResends: 0 });
  const agent = await startClient(dir, 'pass', { clock: net.clock });
  const api = await startApiServer({ agent, token: agent.apiToken() });
  const carla = { dir, agent, api, endpoint: { url: api.url, token: agent.apiToken(), pid: process.pid } };
  writeApiEndpoint(dir, carla.endpoint);
  parties.push(carla);
  agent.addContact(bob.agent.cardUri());
  net.blackhole = true;
  const { id } = await agent.send({ to: 'bob', subject: 'into the void', body: 'lost' });
  await net.advance(6000);
  await waitFor(() => agent.sent()[0].status === 'failed', 'the failure');
  const listed = await client(carla, 'sent');
  assert.match(listed.stdout, /\[failed\]  into the void\n {4}no acknowledgement after 1 copy .*`umbra client resend 1` sends it again/);

  const resent = await client(carla, 'resend', '1');
  assert.equal(resent.code, 0, resent.stderr);
  assert.match(resent.stdout, /^queued as sent #1 to bob \(\d+ packets\) in the running agent\n$/);
  assert.equal(agent.sent()[0].id, id);
  assert.equal(agent.sent()[0].status, 'queued');
  net.blackhole = false;
  await net.advance(2000);
  await waitFor(() => net.count('deliver') >= 2, 'the resent copy');

  for (const [args, pattern] of [
    [['resend', '1'], /sent mail #1 is (queued|sending), not failed: only a failed mail is sent again/],
    [['resend', '999'], /no sent mail #999/],
    [['resend', 'abc'], /client resend: the mail's number is one from `client sent`, not 'abc'/],
    [['resend'], /client resend: give the mail's number/],
    [['read', '--sent', '2'], /no sent mail #2/],
    [['inbox', '--sent'], /--sent goes with `read N`/],
  ] as const) {
    const result = await client(carla, ...args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    assert.match(result.stderr, pattern);
  }
});
