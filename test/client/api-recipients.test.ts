import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { initClient, startApiServer, startClient, type ApiServer, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { endpointOf, FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';

/**
 * A mail to three recipients (To, Cc, Bcc) through the agent's REST API on the simulated network:
 * each recipient gets its own envelope and reads the same To and Cc; only the Bcc recipient's copy
 * has a Bcc header (naming itself); the sender's Sent row tracks each recipient's ACK.
 */
interface Party {
  readonly name: string;
  readonly agent: ClientAgent;
  readonly api: ApiServer;
  readonly token: string;
  readonly card: string;
  readonly events: ClientEvent[];
}

let net: SimNet;
const parties: Party[] = [];

async function party(name: string): Promise<Party> {
  const dir = join(tempDir(), name);
  const passphrase = `${name} pass`;
  const init = await initClient(dir, { name, passphrase, authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  const events: ClientEvent[] = [];
  const agent = await startClient(dir, passphrase, { clock: net.clock, onEvent: (event) => events.push(event) });
  const own = await endpointOf({ dir, passphrase });
  net.watchOwnAddress((epoch) => own.ownAddress(epoch));
  const token = agent.apiToken();
  const p = { name, agent, api: await startApiServer({ agent, token }), token, card: init.cardUri, events };
  parties.push(p);
  return p;
}

async function call(p: Party, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${p.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${p.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

function rawOf(message: { raw: string }): string {
  return Buffer.from(message.raw, 'base64').toString('utf8');
}

/** The header block of a mail. */
function headersOf(raw: string): string {
  return raw.slice(0, raw.indexOf('\r\n\r\n'));
}

before(async () => {
  net = await SimNet.start({ label: 'rcpt', traffic: { clientSendRate: 50, loopRate: 0, dropRate: 0 } });
});

after(async () => {
  for (const p of parties) {
    await p.api.close();
    await p.agent.close().catch(() => undefined);
  }
  await net?.close();
  removeTempDirs();
});

test('POST zk-send to To, Cc and Bcc: one envelope each, Bcc hidden, an ACK status per recipient', async () => {
  const alice = await party('alice');
  const [bob, carol, dave] = [await party('bob'), await party('carol'), await party('dave')];
  for (const p of [bob, carol, dave]) assert.equal((await call(alice, 'POST', '/api/v1/contacts', { card_uri: p.card })).status, 201);

  const sent = await call(alice, 'POST', '/api/v1/zk-send', { to: ['bob'], cc: ['carol'], bcc: ['dave'], subject: 'Plans', body: 'Three of you.' });
  assert.equal(sent.status, 202, JSON.stringify(sent.json));
  assert.deepEqual(sent.json.recipients.map((r: { name: string; field: string }) => `${r.field}:${r.name}`), ['to:bob', 'cc:carol', 'bcc:dave']);
  const envelopes = new Set(sent.json.recipients.map((r: { message_id: string }) => r.message_id));
  assert.equal(envelopes.size, 3, 'each recipient has an envelope of its own');
  assert.equal(sent.json.fragments, sent.json.recipients.reduce((sum: number, r: { fragments: number }) => sum + r.fragments, 0));

  await net.advance(2000);
  await waitFor(() => net.count('deliver') === sent.json.fragments, 'every envelope\'s fragments');
  // Each envelope went to its own recipient's mailbox (first contact: the address of the card).
  const recipientsOfPackets = new Set(net.arrivals.filter((a) => a.outcome === 'deliver').map((a) => Buffer.from(a.recipient!).toString('hex')));
  assert.equal(recipientsOfPackets.size, 3);

  // Bob (To) and Carol (Cc) read first; Dave (Bcc) later.
  const copies = new Map<string, string>();
  for (const p of [bob, carol]) {
    assert.equal((await p.agent.poll()).received, 1);
    const [summary] = (await call(p, 'POST', '/api/v1/zk-retrieve', {})).json.messages;
    const message = (await call(p, 'GET', `/api/v1/messages/${summary.id}`)).json;
    assert.equal(message.to, 'bob <bob@umbra>');
    assert.equal(message.cc, 'carol <carol@umbra>');
    assert.equal(message.bcc, undefined, `${p.name}'s copy has no Bcc header`);
    assert.doesNotMatch(rawOf(message), /dave/i, `nothing in ${p.name}'s copy names dave`);
    copies.set(p.name, rawOf(message));
  }
  assert.equal(copies.get('bob'), copies.get('carol'), 'To and Cc recipients read the same message');

  await net.advance(1000);
  await waitFor(() => net.count('surb-reply') === 2, 'bob\'s and carol\'s ACKs');
  assert.equal((await alice.agent.poll()).acks, 2);
  let row = (await call(alice, 'GET', '/api/v1/zk-mailbox-db?folder=sent')).json.items[0];
  assert.equal(row.to, 'bob, carol (cc), dave (bcc)');
  assert.equal(row.status, 'sending', 'the mail is on its way while one recipient has not acknowledged');
  assert.deepEqual(row.recipients.map((r: { name: string; status: string }) => `${r.name}:${r.status}`), ['bob:delivered', 'carol:delivered', 'dave:sending']);
  const bobEvent = alice.events.find((e) => e.type === 'status' && e.recipient?.name === 'bob' && e.recipient.status === 'delivered');
  assert.ok(bobEvent !== undefined && bobEvent.type === 'status' && bobEvent.status === 'sending', 'the event carries the envelope\'s and the mail\'s status');

  assert.equal((await dave.agent.poll()).received, 1);
  const [daveSummary] = dave.agent.inbox();
  const daveMessage = (await call(dave, 'GET', `/api/v1/messages/${daveSummary.id}`)).json;
  assert.equal(daveMessage.to, 'bob <bob@umbra>');
  assert.equal(daveMessage.cc, 'carol <carol@umbra>');
  assert.equal(daveMessage.bcc, 'dave <dave@umbra>', 'the Bcc recipient sees itself as Bcc');
  assert.equal(headersOf(rawOf(daveMessage)).replace(/\r\nBcc: dave <dave@umbra>/, ''), headersOf(copies.get('bob')!), 'otherwise the same message');

  await net.advance(1000);
  await waitFor(() => net.count('surb-reply') === 3, 'dave\'s ACK');
  assert.equal((await alice.agent.poll()).acks, 1);
  row = (await call(alice, 'GET', '/api/v1/zk-mailbox-db?folder=sent')).json.items[0];
  assert.equal(row.status, 'delivered');
  assert.deepEqual(row.recipients.map((r: { status: string }) => r.status), ['delivered', 'delivered', 'delivered']);
  assert.equal(alice.agent.status().awaitingAck, 0);
  // The sender's own copy lists the Bcc recipient.
  const own = (await call(alice, 'GET', `/api/v1/messages/${sent.json.id}`)).json;
  assert.equal(own.bcc, 'dave <dave@umbra>');
  assert.equal(own.recipients.length, 3);
});

test('recipient lists: duplicates collapse, unknown names and too many are refused before anything is sent', async () => {
  const [alice] = parties;
  const before = alice.agent.sent().length;
  const refused = async (body: Record<string, unknown>, status: number, code: string) => {
    const result = await call(alice, 'POST', '/api/v1/zk-send', { subject: 's', body: 'b', ...body });
    assert.equal(result.status, status, JSON.stringify(result.json));
    assert.equal(result.json.code, code);
  };
  await refused({ to: ['bob'], cc: ['nobody'] }, 422, 'unknown-contact');
  await refused({ to: [], cc: [], bcc: [] }, 422, 'bad-options');
  const many = Array.from({ length: 60 }, () => 'bob');
  await refused({ to: many, cc: many }, 422, 'bad-options');
  await refused({ to: Array.from({ length: 10_000 }, () => 'bob') }, 400, 'invalid-request');
  assert.equal(alice.agent.sent().length, before, 'nothing was sent');

  const twice = await call(alice, 'POST', '/api/v1/zk-send', { to: ['bob', 'Bob'], cc: ['bob', 'carol'], bcc: ['carol'], subject: 's', body: 'b' });
  assert.equal(twice.status, 202);
  assert.deepEqual(twice.json.recipients.map((r: { name: string; field: string }) => `${r.field}:${r.name}`), ['to:bob', 'cc:carol']);

  const bccOnly = await call(alice, 'POST', '/api/v1/zk-send', { to: [], bcc: ['dave'], subject: 'quiet', body: 'b' });
  assert.equal(bccOnly.status, 202);
  const own = (await call(alice, 'GET', `/api/v1/messages/${bccOnly.json.id}`)).json;
  assert.equal(own.to, 'undisclosed-recipients:;');
});
