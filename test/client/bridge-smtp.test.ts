import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { initClient, startBridge, startClient, type Bridge, type BridgeCredentials, type ClientAgent } from '../../src/client/index.js';
import { FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';

/**
 * The bridge's SMTP submission with real mail clients: nodemailer and Python's smtplib submit over
 * STARTTLS with the bridge password; the mail reaches Bob through the (simulated) network with the
 * mail program's identifying headers gone; unknown recipients, ordinary addresses, a wrong password
 * and AUTH before STARTTLS are refused with clear SMTP replies, and the bridge keeps serving.
 */
let net: SimNet;
let alice: ClientAgent;
let bob: ClientAgent;
let bridge: Bridge;
let credentials: BridgeCredentials;
const run = promisify(execFile);

async function user(name: string, settings: Record<string, number> = {}): Promise<{ agent: ClientAgent; card: string }> {
  const dir = join(tempDir(), name);
  const init = await initClient(dir, { name, passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY, ...settings });
  return { agent: await startClient(dir, 'pass', { clock: net.clock }), card: init.cardUri };
}

function transport(auth: { user: string; pass: string } = { user: credentials.username, pass: credentials.password }) {
  return nodemailer.createTransport({ host: '127.0.0.1', port: bridge.endpoints.smtp.port, secure: false, requireTLS: true, tls: { ca: credentials.tls.cert }, auth });
}

before(async () => {
  net = await SimNet.start({ label: 'bridge', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
  const a = await user('alice');
  const b = await user('Bob Smith');
  alice = a.agent;
  bob = b.agent;
  alice.addContact(b.card);
  bridge = await startBridge({ agent: alice, smtpPort: 0 });
  credentials = await alice.bridgeCredentials();
});

after(async () => {
  await bridge?.close();
  await alice?.close();
  await bob?.close();
  await net?.close();
  removeTempDirs();
});

async function bobReceives(count: number): Promise<void> {
  await net.advance(2000);
  await waitFor(() => net.count('deliver') >= count, 'the fragments');
  await bob.poll();
}

describe('the bridge: SMTP submission', () => {
  test('nodemailer submits over STARTTLS; the mail arrives without the mail program\'s headers', async () => {
    const info = await transport().sendMail({
      from: 'alice@umbra', to: 'bob-smith@umbra', subject: 'Grüße über SMTP',
      text: 'Hallo Bob, über die Brücke.',
      headers: { 'User-Agent': 'Thunderbird/128.0', 'X-Mailer': 'SecretMailer 1.0', Received: 'from laptop.home.example (192.168.1.20)' },
      messageId: '<1234@laptop.home.example>',
      date: new Date('2026-12-05T09:00:00+05:30'),
      attachments: [{ filename: 'notes.txt', content: 'a note\n' }],
    });
    assert.match(info.response, /^250 .*queued as sent #\d+/);
    assert.equal(alice.sent().length, 1);
    await bobReceives(alice.sent()[0].fragments);
    const [mail] = bob.inbox();
    assert.equal(mail.subject, 'Grüße über SMTP');
    const view = bob.read(mail.id);
    const raw = new TextDecoder().decode(view.raw);
    assert.match(view.parsed.text, /über die Brücke/);
    assert.equal(view.parsed.attachments[0].filename, 'notes.txt');
    for (const leak of [/Thunderbird/, /SecretMailer/, /laptop\.home\.example/, /192\.168/, /\+0530/]) assert.doesNotMatch(raw, leak);
  });

  test('Python\'s smtplib submits too (a second, independent client)', async () => {
    const script = [
      'import smtplib, ssl, sys',
      'from email.message import EmailMessage',
      'ctx = ssl.create_default_context(cadata=sys.argv[2])',
      'm = EmailMessage(); m["From"] = "alice@umbra"; m["To"] = "bob-smith@umbra"; m["Subject"] = "from python"; m.set_content("sent by smtplib")',
      's = smtplib.SMTP("127.0.0.1", int(sys.argv[1])); s.starttls(context=ctx); s.login(sys.argv[3], sys.argv[4]); s.send_message(m); s.quit()',
    ].join('\n');
    await run('python3', ['-c', script, String(bridge.endpoints.smtp.port), credentials.tls.cert, credentials.username, credentials.password], { timeout: 60_000 });
    assert.equal(alice.sent().length, 2);
    assert.equal(alice.sent()[1].subject, 'from python');
  });

  test('refusals: unknown contact, ordinary address, wrong password, AUTH before STARTTLS', async () => {
    await assert.rejects(transport().sendMail({ from: 'alice@umbra', to: 'carol@umbra', subject: 's', text: 't' }), /550.*no contact carol@umbra/);
    await assert.rejects(transport().sendMail({ from: 'alice@umbra', to: 'bob@example.com', subject: 's', text: 't' }), /550.*example\.com is not an Umbra address/);
    await assert.rejects(transport({ user: credentials.username, pass: 'wrong' }).sendMail({ from: 'alice@umbra', to: 'bob-smith@umbra', subject: 's', text: 't' }), /535/);
    const plain = nodemailer.createTransport({ host: '127.0.0.1', port: bridge.endpoints.smtp.port, secure: false, ignoreTLS: true, auth: { user: credentials.username, pass: credentials.password } });
    await assert.rejects(plain.sendMail({ from: 'alice@umbra', to: 'bob-smith@umbra', subject: 's', text: 't' }), /538|530|STARTTLS|TLS/i);
    assert.equal(alice.sent().length, 2, 'nothing refused was sent');
    const info = await transport().sendMail({ from: 'alice@umbra', to: 'bob-smith@umbra', subject: 'still serving', text: 'ok' });
    assert.match(info.response, /^250/);
  });

  test('a mail that fails after it was accepted comes back as a bounce in the INBOX', async () => {
    // Carla's agent gives up fast: one copy, an ACK timeout of 3 s of the 60 s test epoch.
    const carla = await user('carla', { ackTimeoutEpochs: 0.05, maxResends: 0, pollsPerEpoch: 60 });
    const bobCard = bob.cardUri();
    carla.agent.addContact(bobCard);
    const carlaBridge = await startBridge({ agent: carla.agent, smtpPort: 0 });
    try {
      const login = await carla.agent.bridgeCredentials();
      const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: carlaBridge.endpoints.smtp.port, secure: false, requireTLS: true, tls: { ca: login.tls.cert }, auth: { user: login.username, pass: login.password } });
      net.blackhole = true; // the network loses everything from here on
      const info = await mailer.sendMail({ from: 'carla@umbra', to: 'bob-smith@umbra', subject: 'into the void', text: 'lost' });
      assert.match(info.response, /^250/);
      await net.advance(2000);
      await net.advance(10_000);
      await waitFor(() => carla.agent.sent()[0]?.status === 'failed', 'the failure');
      await waitFor(() => carla.agent.inbox().length === 1, 'the bounce');
      const [bounce] = carla.agent.inbox();
      assert.equal(bounce.subject, 'Undelivered: into the void');
      assert.equal(bounce.fromName, 'Umbra');
      assert.match(carla.agent.read(bounce.id).parsed.text, /could not be delivered[\s\S]*Reason: no acknowledgement/);
    } finally {
      net.blackhole = false;
      await carlaBridge.close();
      await carla.agent.close();
    }
  });
});
