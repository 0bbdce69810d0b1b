import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { initClient, OPENAPI_DOCUMENT, startApiServer, startClient, type ApiServer, type ClientAgent } from '../../src/client/index.js';
import { FAST_KDF, removeTempDirs, SimNet, tempDir, TEST_NETWORK_POLICY, waitFor } from './support.js';

/**
 * The agent's local REST API against a real agent on the simulated network: every route of the
 * OpenAPI document is called (and the test checks it called them all), refusals are RFC 9457
 * problem details with stable codes, and the agent keeps running through every bad request.
 */
interface Party {
  agent: ClientAgent;
  api: ApiServer;
  token: string;
  card: string;
}

let net: SimNet;
const parties: Party[] = [];
/** "METHOD path-template" of every call the test made, to check the document is covered. */
const called = new Set<string>();

async function party(name: string): Promise<Party> {
  const dir = join(tempDir(), name);
  const init = await initClient(dir, { name, passphrase: `${name} pass`, authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  const agent = await startClient(dir, `${name} pass`, { clock: net.clock });
  const token = agent.apiToken();
  const api = await startApiServer({ agent, token });
  const p = { agent, api, token, card: init.cardUri };
  parties.push(p);
  return p;
}

async function call(p: Party, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; type: string }> {
  const template = path.split('?')[0].replace(/\/messages\/[^/]+(\/resend)?$/, '/messages/{id}$1');
  called.add(`${method} ${template}`);
  const response = await fetch(`${p.api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${p.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text), type: response.headers.get('content-type') ?? '' };
}

function assertProblem(result: { status: number; json: any; type: string }, status: number, code: string): void {
  assert.equal(result.status, status, JSON.stringify(result.json));
  assert.equal(result.type, 'application/problem+json');
  assert.equal(result.json.code, code);
  assert.equal(result.json.type, `urn:umbra:problem:${code}`);
  assert.equal(result.json.status, status);
  assert.equal(typeof result.json.detail, 'string');
}

before(async () => {
  net = await SimNet.start({ label: 'api', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
});

after(async () => {
  for (const p of parties) {
    await p.api.close();
    await p.agent.close().catch(() => undefined);
  }
  await net?.close();
  removeTempDirs();
});

describe('the agent\'s REST API', () => {
  test('contacts, send, retrieve, the mailbox database, messages, status and events', async () => {
    const alice = await party('alice');
    const bob = await party('bob');
    assert.equal(bob.agent.apiToken(), bob.token, 'the token is kept');

    const added = await call(alice, 'POST', '/api/v1/contacts', { card_uri: bob.card });
    assert.equal(added.status, 201);
    assert.equal(added.json.name, 'bob');
    assert.match(added.json.safety_number, /^\d/);
    assert.deepEqual((await call(alice, 'GET', '/api/v1/contacts')).json.map((c: { name: string }) => c.name), ['bob']);
    assert.equal((await call(bob, 'GET', '/api/v1/card')).json.card_uri, bob.card);

    // Bob listens for events before the mail comes.
    const events = await fetch(`${bob.api.url}/api/v1/events`, { headers: { authorization: `Bearer ${bob.token}` } });
    called.add('GET /api/v1/events');
    assert.equal(events.headers.get('content-type'), 'text/event-stream');
    const reader = events.body!.getReader();

    const attachment = Buffer.from('a,b\n1,2\n').toString('base64');
    const sent = await call(alice, 'POST', '/api/v1/zk-send', { to: 'bob', subject: 'Grüße', body: 'Hallo Bob!', attachments: [{ filename: 'x.csv', content_type: 'text/csv', data: attachment }] });
    assert.equal(sent.status, 202);
    assert.equal(sent.json.status, 'queued');
    assert.ok(Number.isInteger(sent.json.id) && sent.json.fragments >= 1);
    assert.equal(sent.json.number, 1, 'Alice\'s first sent mail is sent #1');
    assert.ok(!Number.isNaN(Date.parse(sent.json.estimated_delivery)));

    await net.advance(2000);
    await waitFor(() => net.count('deliver') >= sent.json.fragments, 'the fragments');
    // zk-retrieve never makes the agent fetch: before Bob's scheduled poll there is nothing.
    assert.deepEqual((await call(bob, 'POST', '/api/v1/zk-retrieve', {})).json.messages, []);
    await bob.agent.poll();
    const retrieved = await call(bob, 'POST', '/api/v1/zk-retrieve', { since_id: 0 });
    assert.equal(retrieved.json.messages.length, 1);
    assert.equal(retrieved.json.messages[0].subject, 'Grüße');
    const id = retrieved.json.messages[0].id as number;

    let stream = '';
    while (!stream.includes('event: received')) stream += new TextDecoder().decode((await reader.read()).value);
    assert.match(stream, /"subject":"Grüße"/);
    assert.match(stream, /"number":1/);
    await reader.cancel();

    const page = await call(bob, 'GET', '/api/v1/zk-mailbox-db?folder=inbox&offset=0&limit=10');
    assert.equal(page.json.total, 1);
    assert.equal(page.json.items[0].read, false);
    assert.equal(page.json.items[0].number, 1);
    assert.deepEqual((await call(bob, 'GET', '/api/v1/zk-mailbox-db?folder=inbox&number=1')).json.items.map((m: { id: number }) => m.id), [id]);
    assert.deepEqual((await call(bob, 'GET', '/api/v1/zk-mailbox-db?folder=sent&number=1')).json.items, []);
    assertProblem(await call(bob, 'GET', '/api/v1/zk-mailbox-db?number=0'), 400, 'invalid-request');
    const inboxFolder = bob.agent.folders().find('INBOX')!;
    const seen = () => bob.agent.folders().messages(inboxFolder.id).map((m) => m.flags.includes('\\Seen'));
    assert.deepEqual(seen(), [false]);
    const message = await call(bob, 'GET', `/api/v1/messages/${id}`);
    assert.deepEqual(seen(), [true], 'read through the API: IMAP shows it \\Seen');
    assert.equal(message.json.number, 1);
    assert.equal(message.json.text, 'Hallo Bob!\n');
    assert.equal(message.json.attachments[0].filename, 'x.csv');
    assert.match(Buffer.from(message.json.raw, 'base64').toString('utf8'), /^From: /m);
    assert.equal((await call(alice, 'GET', '/api/v1/zk-mailbox-db?folder=sent')).json.items[0].subject, 'Grüße');

    // The mail bridge is not started with this API (umbra client run starts both).
    assertProblem(await call(alice, 'GET', '/api/v1/bridge'), 404, 'no-bridge');
    const status = await call(alice, 'GET', '/api/v1/status');
    assert.equal(typeof status.json.epoch, 'number');
    assert.equal(typeof status.json.rates.sendPerSecond, 'number');

    assert.equal((await call(bob, 'DELETE', `/api/v1/messages/${id}`)).status, 204);
    assertProblem(await call(bob, 'GET', `/api/v1/messages/${id}`), 404, 'unknown-mail');

    const doc = await fetch(`${bob.api.url}/api/v1/openapi.json`);
    called.add('GET /api/v1/openapi.json');
    assert.deepEqual(await doc.json(), JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)));
  });

  test('bad requests are problem details with stable codes, and the agent keeps serving', async () => {
    const [alice] = parties;
    const noToken = await fetch(`${alice.api.url}/api/v1/status`);
    assert.equal(noToken.status, 401);
    assert.equal(((await noToken.json()) as { code: string }).code, 'unauthorized');
    assertProblem(await call(alice, 'GET', '/api/v1/status', undefined, { authorization: 'Bearer wrong' }), 401, 'unauthorized');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', '{"to": "bob", '), 400, 'malformed-json');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', { to: 'bob', subject: 's' }), 400, 'invalid-request');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', { to: 'bob', subject: 's', body: 'b', extra: 1 }), 400, 'invalid-request');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', { to: 'nobody', subject: 's', body: 'b' }), 422, 'unknown-contact');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', { to: ['bob', 'carol'], subject: 's', body: 'b' }), 422, 'unknown-contact');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', { to: 'bob', subject: 's', body: 'b', attachments: [{ filename: 'f', data: '***' }] }), 400, 'invalid-request');
    assertProblem(await call(alice, 'POST', '/api/v1/zk-send', 'to=bob', { 'content-type': 'text/plain' }), 415, 'bad-content-type');
    assertProblem(await call(alice, 'POST', '/api/v1/contacts', { card_uri: 'umbra:card:AAAA' }), 422, 'bad-card');
    assertProblem(await call(alice, 'GET', '/api/v1/messages/abc'), 400, 'invalid-request');
    // Only a failed sent mail is sent again (the success: test/cli/client-through-agent.test.ts).
    const sentId = (await call(alice, 'GET', '/api/v1/zk-mailbox-db?folder=sent')).json.items[0].id as number;
    assertProblem(await call(alice, 'POST', `/api/v1/messages/${sentId}/resend`), 409, 'not-failed');
    assertProblem(await call(alice, 'POST', '/api/v1/messages/9999/resend'), 404, 'unknown-mail');
    assertProblem(await call(alice, 'POST', '/api/v1/messages/abc/resend'), 400, 'invalid-request');
    assertProblem(await call(alice, 'GET', `/api/v1/messages/${sentId}/resend`), 405, 'method-not-allowed');
    assertProblem(await call(alice, 'GET', '/api/v1/zk-mailbox-db?limit=100000'), 400, 'invalid-request');
    assertProblem(await call(alice, 'PUT', '/api/v1/status'), 405, 'method-not-allowed');
    assertProblem(await call(alice, 'GET', '/api/v1/nope'), 404, 'not-found');
    // A body over the limit is refused unread (declared length), with the agent still serving.
    const big = await fetch(`${alice.api.url}/api/v1/zk-send`, {
      method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: 'x'.repeat(25 * 2 ** 20),
    }).catch(() => undefined);
    assert.ok(big === undefined || big.status === 413);
    assert.equal((await call(alice, 'GET', '/api/v1/status')).status, 200);
  });

  test('the OpenAPI document covers every route the tests call, and docs/api/openapi.json is the served document', () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(OPENAPI_DOCUMENT.paths)) {
      for (const method of Object.keys(item)) if (['get', 'post', 'delete', 'put'].includes(method)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    for (const route of documented) assert.ok(called.has(route), `${route} was not exercised`);
    const committed = readFileSync(fileURLToPath(new URL('../../../docs/api/openapi.json', import.meta.url)), 'utf8');
    assert.deepEqual(JSON.parse(committed), JSON.parse(JSON.stringify(OPENAPI_DOCUMENT)), 'regenerate it: npm run docs:openapi');
  });
});
