import * as assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { initClient, startApiServer, startBridge, startClient, type ApiServer, type Bridge, type ClientAgent } from '../../src/client/index.js';
import { relayProblems } from '../../src/client/relay.js';
import { FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY } from './support.js';

/**
 * Ordinary email through a relay (the hybrid mode), with a local SMTP sink as the relay: off by
 * default (the bridge refuses ordinary addresses at RCPT, the API with no-relay); once set, used
 * only for a message that asks for it (X-Umbra-Deliver: external, or "external": true), and the
 * Sent copy says it was not private.
 */
interface Received {
  readonly from: string;
  readonly to: string[];
  readonly user: string | undefined;
  readonly raw: string;
}

let net: SimNet;
let alice: ClientAgent;
let api: ApiServer;
let bridge: Bridge;
let sink: SMTPServer;
let sinkPort: number;
const received: Received[] = [];

before(async () => {
  net = await SimNet.start({ label: 'relay', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
  const dir = join(tempDir(), 'alice');
  await initClient(dir, { name: 'alice', passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  alice = await startClient(dir, 'pass', { clock: net.clock });
  api = await startApiServer({ agent: alice, token: alice.apiToken() });
  bridge = await startBridge({ agent: alice, smtpPort: 0 });
  sink = new SMTPServer({
    secure: false, disabledCommands: ['STARTTLS'], allowInsecureAuth: true, logger: false,
    onAuth: (auth, _session, callback) => (auth.username === 'relay-user' && auth.password === 'relay-secret' ? callback(null, { user: auth.username }) : callback(new Error('bad login'))),
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push({ from: String(session.envelope.mailFrom && session.envelope.mailFrom.address), to: session.envelope.rcptTo.map((r) => r.address), user: session.user as string | undefined, raw: Buffer.concat(chunks).toString('utf8') });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', () => resolve()));
  sinkPort = (sink.server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((resolve) => sink.close(() => resolve()));
  await bridge.close();
  await api.close();
  await alice.close();
  await net.close();
  removeTempDirs();
});

async function zkSend(body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  const response = await fetch(`${api.url}/api/v1/zk-send`, { method: 'POST', headers: { authorization: `Bearer ${alice.apiToken()}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

async function submit(message: Record<string, unknown>): Promise<string> {
  const credentials = await alice.bridgeCredentials();
  const mailer = nodemailer.createTransport({
    host: '127.0.0.1', port: bridge.endpoints.smtp.port, secure: false, requireTLS: true, tls: { ca: credentials.tls.cert },
    auth: { user: credentials.username, pass: credentials.password },
  });
  const info = await mailer.sendMail({ from: 'alice@umbra', subject: 'hello out there', text: 'ordinary mail', ...message });
  return info.response;
}

test('off by default: ordinary addresses are refused at RCPT and by the API, saying why', async () => {
  assert.equal(alice.relay(), undefined);
  await assert.rejects(submit({ to: 'zoe@example.com', headers: { 'X-Umbra-Deliver': 'external' } }), /550 5\.7\.1 example\.com is not an Umbra address.*relay you set.*X-Umbra-Deliver: external.*not private/);
  const refused = await zkSend({ to: ['zoe@example.com'], subject: 's', body: 'b', external: true });
  assert.equal(refused.status, 422);
  assert.equal(refused.json.code, 'no-relay');
  const plain = await zkSend({ to: ['zoe@example.com'], subject: 's', body: 'b' });
  assert.equal(plain.status, 422);
  assert.match(plain.json.detail, /not an Umbra contact.*external.*not private/);
  assert.equal(received.length, 0);
  assert.equal(alice.sent().length, 0);
});

test('a relay setting is checked: no clear text off this machine, both user and password', () => {
  const base = { host: 'smtp.example.com', port: 587, tls: 'starttls' as const, from: 'alice@example.com' };
  assert.deepEqual(relayProblems(base), []);
  assert.match(relayProblems({ ...base, tls: 'none' }).join(), /without TLS is allowed on this machine/);
  assert.match(relayProblems({ ...base, username: 'u' }).join(), /both a relay user and a password/);
  assert.match(relayProblems({ ...base, from: 'alice' }).join(), /ordinary address/);
  assert.match(relayProblems({ ...base, host: 'bad host\r\n' }).join(), /host name/);
  assert.throws(() => alice.setRelay({ ...base, tls: 'none' }), (e: unknown) => (e as { code?: string }).code === 'bad-options');
});

test('with a relay set: sent only when asked for that mail, and the Sent copy says it was not private', async () => {
  const view = alice.setRelay({ host: '127.0.0.1', port: sinkPort, tls: 'none', username: 'relay-user', password: 'relay-secret', from: 'alice@example.com' });
  assert.equal(view.hasPassword, true);
  assert.equal((view as { password?: string }).password, undefined, 'the view never shows the password');

  // Without the header: taken at RCPT (a relay is set), refused after DATA, saying how to ask.
  await assert.rejects(submit({ to: 'zoe@example.com' }), /550 5\.7\.1 not sent: zoe@example\.com is not an Umbra contact.*X-Umbra-Deliver: external/);
  assert.equal(received.length, 0);

  const response = await submit({ to: 'Zoe <zoe@example.com>', cc: 'yan@example.org', bcc: 'xu@example.net', headers: { 'X-Umbra-Deliver': 'external' } });
  assert.match(response, /^250 .*through your relay as ordinary email: NOT private/);
  assert.equal(received.length, 1);
  const [mail] = received;
  assert.equal(mail.user, 'relay-user', 'the relay login was used');
  assert.equal(mail.from, 'alice@example.com');
  assert.deepEqual(mail.to.sort(), ['xu@example.net', 'yan@example.org', 'zoe@example.com']);
  assert.match(mail.raw, /^To: zoe@example\.com$/m);
  assert.match(mail.raw, /^Cc: yan@example\.org$/m);
  assert.doesNotMatch(mail.raw, /xu@example|X-Umbra|umbra/i, 'no Bcc, no Umbra header, nothing of Umbra in what left');

  const [row] = alice.sent();
  assert.match(row.warning ?? '', /^NOT PRIVATE: sent as ordinary email through 127\.0\.0\.1/);
  assert.deepEqual(row.recipients?.map((r) => `${r.field}:${r.name}:${r.status}`), ['to:zoe@example.com:delivered', 'cc:yan@example.org:delivered', 'bcc:xu@example.net:delivered']);
  const copy = new TextDecoder().decode(alice.read(row.id).raw);
  assert.match(copy, /^X-Umbra-Warning: NOT PRIVATE/);

  // The REST flag does the same; the listing and the message say it was not private.
  const sent = await zkSend({ to: ['zoe@example.com'], subject: 'via api', body: 'b', external: true });
  assert.equal(sent.status, 200, JSON.stringify(sent.json));
  assert.equal(sent.json.private, false);
  assert.match(sent.json.warning, /NOT PRIVATE/);
  assert.equal(received.length, 2);
  const message = await (await fetch(`${api.url}/api/v1/messages/${sent.json.id}`, { headers: { authorization: `Bearer ${alice.apiToken()}` } })).json() as { warning?: string; private?: boolean };
  assert.equal(message.private, false);
  assert.match(message.warning ?? '', /NOT PRIVATE/);

  // Umbra contacts and ordinary addresses in one message are refused: private and not private never mix.
  const bob = await initClient(join(tempDir(), 'bob'), { name: 'bob', passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, ...TEST_NETWORK_POLICY });
  alice.addContact(bob.cardUri);
  await assert.rejects(submit({ to: 'bob@umbra, zoe@example.com', headers: { 'X-Umbra-Deliver': 'external' } }), /550 5\.7\.1 .*never both/);
  assert.equal(received.length, 2);

  assert.equal(alice.clearRelay(), true);
  const unreachable = await zkSend({ to: ['zoe@example.com'], subject: 's', body: 'b', external: true });
  assert.equal(unreachable.json.code, 'no-relay', 'cleared: off again');
});
