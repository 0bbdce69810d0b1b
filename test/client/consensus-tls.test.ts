/**
 * The client's consensus fetch on the wire (docs/links.md, "Authority API"): it goes over TLS 1.3 to
 * a server whose certificate carries a trusted authority key. An observer on the path (a recording
 * TCP relay) sees none of the document's bytes nor the request path, while the same relay in front of
 * a cleartext server of the same bytes sees them (the control: the observer's reading works). A
 * server presenting another key is refused before any request is written, with an error naming the
 * mismatch; an http:// authority URL is refused outright.
 *
 * Without the change (fetch over http://), the capture holds the document and the impostor answers.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ClientError, fetchCurrentConsensus, initClient } from '../../src/client/index.js';
import { settingsFromJson } from '../../src/client/settings.js';
import { toBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { uploadDescriptor } from '../../src/net/authority-client.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../src/node/authority/index.js';
import { encodeDescriptor } from '../../src/pki/index.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import { makeFixtureNetwork, testSeed } from '../pki/network-fixture.js';
import { createPinnedServer } from '../net/https-fetch.js';
import { RecordingRelay } from './recording-relay.js';
import { FAST_KDF } from './support.js';

const crypto = getCrypto('sodium');
const GENESIS = 1_700_000_000_000;
const seed = testSeed(crypto, 'consensus tls authority');
const key = crypto.ed25519PublicKey(seed);
const clock = new FakeClock(GENESIS + 100);
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
let authority: AuthorityHandle;
let documentBytes: Uint8Array;

const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-consensus-tls-'));
  dirs.push(dir);
  return dir;
};

before(async () => {
  authority = await startAuthority(validateAuthorityConfig({
    identitySeed: toBase64Url(seed), authorities: [toBase64Url(key)], genesisMs: GENESIS, epochMs: 2000, dataDir: tempDir(), openAdmission: true,
  }), { clock });
  closers.push(() => authority.close());
  for (const node of makeFixtureNetwork(crypto, { epoch: 0 })) await uploadDescriptor({ url: authority.url, keys: [key] }, encodeDescriptor(node.descriptor));
  await fetchCurrentConsensus(crypto, { url: authority.url, publicKeys: [key] }, clock.now()); // makes epoch 0's document
  documentBytes = authority.documentBytes(0)!;
  assert.ok(documentBytes.length > 1000);
});

after(async () => {
  for (const close of closers.reverse()) await close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Whether `capture` holds any of a few 32-byte windows of the document (start, middle, signature). */
function holdsDocument(capture: Buffer): boolean {
  const n = documentBytes.length;
  return [0, Math.floor(n / 2), n - 32].some((at) => capture.includes(Buffer.from(documentBytes.subarray(at, at + 32))));
}

test('the client fetches the consensus over TLS 1.3: an observer of the link sees neither the document nor the request', async () => {
  const relay = await RecordingRelay.start(authority.port);
  closers.push(() => relay.close());
  // Pinned by key, not by address: through the relay the same authority answers.
  const doc = await fetchCurrentConsensus(crypto, { url: `https://127.0.0.1:${relay.port}`, publicKeys: [key] }, clock.now());
  assert.equal(doc.epoch, 0);
  const toClient = Buffer.concat(relay.toClient);
  const toServer = Buffer.concat(relay.toServer);
  assert.ok(toClient.length > documentBytes.length, 'the document went through the relay');
  assert.equal(holdsDocument(toClient), false, 'consensus bytes in the clear');
  assert.equal(toServer.includes(Buffer.from('/v1/consensus')), false, 'the request path in the clear');
  assert.equal(toServer[0], 0x16, 'the connection opens with a TLS handshake');

  // Control: the same relay in front of a cleartext server of the same bytes sees them.
  const cleartext: Server = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(documentBytes));
  await new Promise<void>((resolve) => cleartext.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => cleartext.close(() => resolve())));
  const control = await RecordingRelay.start((cleartext.address() as AddressInfo).port);
  closers.push(() => control.close());
  assert.equal((await (await fetch(`http://127.0.0.1:${control.port}/v1/consensus/current`)).arrayBuffer()).byteLength, documentBytes.length);
  assert.equal(holdsDocument(Buffer.concat(control.toClient)), true, 'the observer reads a cleartext document');
  assert.equal(Buffer.concat(control.toServer).includes(Buffer.from('/v1/consensus')), true);
});

test('a server whose TLS key is not a trusted authority key is refused before the request, with a clear error', async () => {
  let requests = 0;
  const impostor = createPinnedServer(testSeed(crypto, 'impostor'), (_req, res) => {
    requests++;
    res.writeHead(200).end(documentBytes);
  });
  await new Promise<void>((resolve) => impostor.server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => impostor.server.close(() => resolve())));
  const url = `https://127.0.0.1:${(impostor.server.address() as AddressInfo).port}`;
  await assert.rejects(fetchCurrentConsensus(crypto, { url, publicKeys: [key] }, clock.now()), (error: unknown) =>
    error instanceof ClientError && error.code === 'no-consensus' &&
    error.message.includes(`${url} presented TLS key ${Buffer.from(impostor.identity.linkKey).toString('hex').slice(0, 16)}…`) &&
    /not among the 1 key pinned for it \(the trusted authority keys\): connection refused/.test(error.message));
  assert.equal(requests, 0, 'no request reached the impostor');
});

test('an http:// authority is refused: at init, at a fetch; a stored one from before is read as https://', async () => {
  const cleartextUrl = `http://127.0.0.1:${authority.port}`;
  await assert.rejects(initClient(join(tempDir(), 'c'), { name: 'C', passphrase: 'p', authority: { url: cleartextUrl, publicKeys: [key] }, servers: ['127.0.0.1:1'], kdf: FAST_KDF }), (error: unknown) =>
    error instanceof ClientError && error.code === 'bad-options' && /authority\.url is http:.*cleartext http:\/\/ is refused.*TLS only \(https:\/\/\)/.test(error.message));
  await assert.rejects(initClient(join(tempDir(), 'c'), { name: 'C', passphrase: 'p', authority: { url: authority.url, publicKeys: [key] }, servers: ['127.0.0.1:1'], kdf: FAST_KDF, mirrors: ['http://127.0.0.1:9'] }), (error: unknown) =>
    error instanceof ClientError && /mirrors\[0\] is http:.*cleartext/.test(error.message));
  await assert.rejects(fetchCurrentConsensus(crypto, { url: cleartextUrl, publicKeys: [key] }, clock.now()), (error: unknown) =>
    error instanceof ClientError && error.code === 'no-consensus' && /cleartext http:\/\/ is refused/.test(error.message));
  const stored = settingsFromJson({
    authority: { url: cleartextUrl, publicKeys: [toBase64Url(key)] }, buckets: 16, pollsPerEpoch: 4, ackTimeoutEpochs: 3, verifyDescriptors: true,
    mirrors: [`http://127.0.0.1:9#${toBase64Url(key)}`],
  });
  assert.equal(stored.authority.url, `https://127.0.0.1:${authority.port}`);
  assert.deepEqual(stored.mirrors, [`https://127.0.0.1:9#${toBase64Url(key)}`]);
  assert.equal((await fetchCurrentConsensus(crypto, stored.authority, clock.now())).epoch, 0);
});
