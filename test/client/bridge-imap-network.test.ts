import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { initClient, startBridge, startClient, type Bridge, type BridgeCredentials, type ClientAgent } from '../../src/client/index.js';
import { FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';

/**
 * The whole bridge across the (simulated) network: Alice submits a mail with UTF-8 headers by SMTP,
 * Bob's mail program is in IMAP IDLE on INBOX and sees it arrive, and Alice's Sent folder holds her
 * copy. Both agents run their bridges as `umbra client run` does.
 */
let net: SimNet;
let alice: ClientAgent;
let bob: ClientAgent;
const bridges: Bridge[] = [];

async function user(name: string): Promise<{ agent: ClientAgent; card: string }> {
  const dir = join(tempDir(), name);
  const init = await initClient(dir, { name, passphrase: 'pass', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  return { agent: await startClient(dir, 'pass', { clock: net.clock }), card: init.cardUri };
}

function imap(bridge: Bridge, login: BridgeCredentials): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: bridge.endpoints.imap.port, secure: false, doSTARTTLS: true, tls: { ca: [login.tls.cert] }, auth: { user: login.username, pass: login.password }, logger: false });
}

/** The Message-ID the mail program gives its submission (as Thunderbird does: a UUID at the sender's domain). */
const PROGRAM_MESSAGE_ID = '<697d7d33-f286-4173-adae-c15522dd1782@umbra>';

async function count(client: ImapFlow, folder: string): Promise<number | undefined> {
  const status = await client.status(folder, { messages: true });
  return status === false ? undefined : status.messages;
}

/** The copy a mail program appends to Sent after submitting: the message as it sent it. */
function programCopy(messageId: string): Buffer {
  return Buffer.from(`Message-ID: ${messageId}\r\nDate: Sat, 5 Dec 2026 19:12:00 +0100\r\nFrom: alice <alice@umbra>\r\nTo: bob <bob@umbra>\r\n` +
    `Subject: =?UTF-8?Q?=C3=9Cber_die_Br=C3=BCcke?=\r\nUser-Agent: Mozilla Thunderbird\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nHallo Bob\r\n`);
}

before(async () => {
  net = await SimNet.start({ label: 'bridge-imap', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
  const a = await user('alice');
  const b = await user('bob');
  alice = a.agent;
  bob = b.agent;
  alice.addContact(b.card);
  bridges.push(await startBridge({ agent: alice, smtpPort: 0, imapPort: 0 }), await startBridge({ agent: bob, smtpPort: 0, imapPort: 0 }));
});

after(async () => {
  for (const bridge of bridges) await bridge.close();
  await alice?.close();
  await bob?.close();
  await net?.close();
  removeTempDirs();
});

test('SMTP from Alice, IMAP IDLE at Bob sees the mail arrive, Alice\'s Sent holds the copy', async () => {
  const [aliceBridge, bobBridge] = bridges;
  const aliceLogin = await alice.bridgeCredentials();
  const bobLogin = await bob.bridgeCredentials();
  const reader = imap(bobBridge, bobLogin);
  await reader.connect();
  try {
    await reader.mailboxOpen('INBOX');
    assert.equal(reader.mailbox && reader.mailbox.exists, 0);
    const arrived = new Promise<number>((resolve) => reader.once('exists', (data: { count: number }) => resolve(data.count)));
    const idling = reader.idle();
    const mailer = nodemailer.createTransport({ host: '127.0.0.1', port: aliceBridge.endpoints.smtp.port, secure: false, requireTLS: true, tls: { ca: aliceLogin.tls.cert }, auth: { user: aliceLogin.username, pass: aliceLogin.password } });
    await mailer.sendMail({ from: 'alice@umbra', to: 'bob@umbra', subject: 'Über die Brücke — ça marche', text: 'Hallo Bob\n', messageId: PROGRAM_MESSAGE_ID });
    await net.advance(2000);
    await waitFor(() => net.count('deliver') >= alice.sent()[0].fragments, 'the fragments');
    await bob.poll();
    assert.equal(await arrived, 1);
    const message = await reader.fetchOne('1', { envelope: true, flags: true }, { uid: true });
    assert.ok(message !== false);
    assert.equal(message.envelope?.subject, 'Über die Brücke — ça marche');
    assert.ok(!message.flags?.has('\\Seen'), 'new mail is unseen');
    await idling;

    const writer = imap(aliceBridge, aliceLogin);
    await writer.connect();
    const sent = await writer.mailboxOpen('Sent');
    assert.equal(sent.exists, 1);
    const copy = await writer.fetchOne('1', { envelope: true, flags: true }, { uid: true });
    assert.ok(copy !== false);
    assert.equal(copy.envelope?.subject, 'Über die Brücke — ça marche');
    assert.deepEqual([...copy.flags!], ['\\Seen']);

    // The mail program saves its own copy in Sent, as Thunderbird does right after sending: it is
    // the mail already there (its UID, its flags added), not a second copy. Another message, or the
    // same one appended elsewhere, is stored as usual.
    const own = await writer.append('Sent', programCopy(PROGRAM_MESSAGE_ID), ['\\Seen', '\\Flagged']);
    assert.ok(own !== false);
    assert.equal(own.uid, copy.uid, 'APPENDUID names the filed mail');
    assert.equal(await count(writer, 'Sent'), 1, 'one copy in Sent');
    const flagged = await writer.fetchOne(String(copy.uid), { flags: true }, { uid: true });
    assert.ok(flagged !== false && flagged.flags?.has('\\Flagged'), 'the appended flags are added');
    await writer.append('Sent', programCopy('<another@umbra>'), ['\\Seen']);
    assert.equal(await count(writer, 'Sent'), 2, 'another message is stored');
    await writer.append('Drafts', programCopy(PROGRAM_MESSAGE_ID), ['\\Draft']);
    assert.equal(await count(writer, 'Drafts'), 1, 'Drafts keeps what it is given');
    await writer.logout();
  } finally {
    await reader.logout().catch(() => undefined);
  }
});
