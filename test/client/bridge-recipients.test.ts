import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import { initClient, startBridge, startClient, type Bridge, type BridgeCredentials, type ClientAgent } from '../../src/client/index.js';
import { FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';

/**
 * The bridge with several RCPT TO: a mail program's To, Cc and Bcc become one Umbra mail with an
 * envelope per recipient; the Bcc recipient (RCPT only, in no header) stays hidden from the others.
 */
let net: SimNet;
let bridge: Bridge;
let credentials: BridgeCredentials;
const agents: ClientAgent[] = [];

async function user(name: string): Promise<{ agent: ClientAgent; card: string }> {
  const dir = join(tempDir(), name);
  const init = await initClient(dir, { name, passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  const agent = await startClient(dir, 'pass', { clock: net.clock });
  agents.push(agent);
  return { agent, card: init.cardUri };
}

before(async () => {
  net = await SimNet.start({ label: 'bridge-rcpt', traffic: { clientSendRate: 50, loopRate: 0, dropRate: 0 } });
});

after(async () => {
  await bridge?.close();
  for (const agent of agents) await agent.close().catch(() => undefined);
  await net?.close();
  removeTempDirs();
});

test('several RCPT TO make one mail: To and Cc from the headers, the others Bcc, hidden from the rest', async () => {
  const alice = await user('alice');
  const [bob, carol, dave] = [await user('bob'), await user('carol'), await user('dave')];
  for (const u of [bob, carol, dave]) alice.agent.addContact(u.card);
  bridge = await startBridge({ agent: alice.agent, smtpPort: 0 });
  credentials = await alice.agent.bridgeCredentials();
  const mailer = nodemailer.createTransport({
    host: '127.0.0.1', port: bridge.endpoints.smtp.port, secure: false, requireTLS: true, tls: { ca: credentials.tls.cert },
    auth: { user: credentials.username, pass: credentials.password },
  });

  const info = await mailer.sendMail({ from: 'alice@umbra', to: 'Bob <bob@umbra>', cc: 'carol@umbra', bcc: 'dave@umbra', subject: 'Over SMTP to three', text: 'Hi all.' });
  assert.match(info.response, /^250 .*queued as sent #\d+ for 3 recipients/);
  assert.equal(alice.agent.sent().length, 1, 'one mail, not one per recipient');
  const [row] = alice.agent.sent();
  assert.deepEqual(row.recipients?.map((r) => `${r.field}:${r.name}`), ['to:bob', 'cc:carol', 'bcc:dave']);

  await net.advance(2000);
  await waitFor(() => net.count('deliver') >= row.fragments, 'every envelope');
  for (const u of [bob, carol, dave]) assert.equal((await u.agent.poll()).received, 1);
  for (const u of [bob, carol]) {
    const { parsed, raw } = u.agent.read(u.agent.inbox()[0].id);
    assert.equal(parsed.to, 'bob <bob@umbra>');
    assert.equal(parsed.cc, 'carol <carol@umbra>');
    assert.doesNotMatch(new TextDecoder().decode(raw), /dave/i);
  }
  const forDave = dave.agent.read(dave.agent.inbox()[0].id).parsed;
  assert.equal(forDave.bcc, 'dave <dave@umbra>');
  assert.equal(forDave.to, 'bob <bob@umbra>');

  // More than the recipient limit in one transaction: the 101st RCPT is refused (nodemailer sends
  // to the ones taken). 101 distinct addresses: key prefixes of 8 to 64 digits name one contact.
  const keys = alice.agent.contacts().map((c) => c.key);
  const many = keys.flatMap((key) => Array.from({ length: 57 }, (_, i) => `${key.slice(0, 8 + i)}@umbra`)).slice(0, 101);
  const capped = await mailer.sendMail({ envelope: { from: 'alice@umbra', to: many }, from: 'alice@umbra', to: 'bob@umbra', subject: 's', text: 't' });
  assert.equal(capped.rejected.length, 1);
  assert.match(String(capped.rejectedErrors?.[0]), /452.*at most 100 recipients/);
  assert.equal(alice.agent.sent().length, 2);
  assert.equal(alice.agent.sent()[1].recipients?.length, 2, 'one envelope per contact, however many addresses name it');
});
