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
  assert.match(sent.stdout, /queued #1 to bob .* in the running agent/);
  const listed = await client(alice, 'sent');
  assert.match(listed.stdout, /#1 .* to bob +\[(queued|sending)\]/);

  await net.advance(2000);
  await waitFor(() => net.count('deliver') >= 1, 'the fragment');
  await bob.agent.poll();
  const inbox = await client(bob, 'inbox', '--json');
  assert.equal(inbox.code, 0, inbox.stderr);
  const mails = JSON.parse(inbox.stdout) as { id: number; subject: string }[];
  assert.deepEqual(mails.map((m) => m.subject), ['through the agent']);
  const read = await client(bob, 'read', String(mails[0].id));
  assert.match(read.stdout, /hello/);

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
