import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { NetMetrics } from '../../../src/net/metrics.js';
import { tlsIdentity } from '../../../src/net/tls-identity.js';
import { startStatusServer } from '../../../src/node/runtime/http.js';
import { NodeMetrics } from '../../../src/node/runtime/index.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../../src/node/authority/index.js';
import { testSeed } from '../../pki/network-fixture.js';
import { FakeClock } from './fake-clock.js';
import { httpsFetch } from '../../net/https-fetch.js';

/**
 * A client's mistakes over HTTP are 4xx and counted as such; "internal" stays 0 (it is kept for real
 * bugs). Bodies the server does not want are not read: the answer comes, and the connection closes.
 */
const crypto = getCrypto('sodium');
const GENESIS = 1_700_000_000_000;
const seed = testSeed(crypto, 'authority');
const dir = mkdtempSync(join(tmpdir(), 'umbra-authority-http-'));
let authority: AuthorityHandle;
after(async () => {
  await authority?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw connection: TLS (unverified: these tests look at HTTP, not at pinning) for https://, TCP otherwise. */
function connect(url: string, onConnect: () => void): Socket {
  const { hostname, port, protocol } = new URL(url);
  return protocol === 'https:' ? connectTls({ host: hostname, port: Number(port), rejectUnauthorized: false }, onConnect) : connectTcp(Number(port), hostname, onConnect);
}

/** Writes `head` (and then `body` chunks) on a raw socket; resolves with what came back when the server closes. */
function raw(url: string, head: string, body: Uint8Array[] = [], end = false): Promise<{ text: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(url, () => {
      socket.write(head);
      for (const chunk of body) socket.write(chunk);
      if (end) socket.end();
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, socket }));
  });
}

/**
 * Declares a `size`-byte body and sends it 64 KiB at a time, each chunk once the last has drained,
 * until the server closes the connection; resolves with the answer and the bytes of body sent.
 */
function uploadUntilClosed(url: string, head: string, size: number): Promise<{ text: string; sent: number }> {
  return new Promise((resolve) => {
    let text = '';
    let sent = 0;
    let closed = false;
    const socket = connect(url, () => {
      socket.write(`${head}content-length: ${size}\r\n\r\n`);
      const chunk = new Uint8Array(64 * 1024);
      const pump = (): void => {
        while (!closed && sent < size) {
          sent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => (text += data));
    socket.on('error', () => undefined); // the server closing under our writes
    socket.on('close', () => {
      closed = true;
      resolve({ text, sent });
    });
  });
}

const key = crypto.ed25519PublicKey(seed);
async function metricsText(url: string): Promise<string> {
  return (await httpsFetch(`${url}/metrics`, key)).text();
}

function metricValue(text: string, line: string): number {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

test('client mistakes over HTTP are 4xx, unwanted bodies are not read, and nothing counts as internal', async () => {
  authority = await startAuthority(validateAuthorityConfig({
    identitySeed: toBase64Url(seed), authorities: [toBase64Url(crypto.ed25519PublicKey(seed))], genesisMs: GENESIS, epochMs: 2000, dataDir: dir,
    openAdmission: true,
  }), { clock: new FakeClock(GENESIS + 100) });
  const { url } = authority;

  // An epoch far in the future (it would overflow the epoch arithmetic) is simply not there.
  const future = await httpsFetch(`${url}/v1/consensus/9007199254740991`, key);
  assert.equal(future.status, 404);
  assert.match(await future.text(), /"error":"not-found".*current epoch is 0/);

  const upload = 'POST /v1/descriptors HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\n';
  // A body shorter than declared, then the client goes away.
  await raw(url, `${upload}content-length: 500\r\n\r\n`, [new Uint8Array(100)], true);
  // A chunked body with a chunk size that is not hex.
  const badChunk = await raw(url, `${upload}transfer-encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n`);
  assert.match(badChunk.text, /^HTTP\/1\.1 400/);

  // 20 MiB declared to an endpoint that takes no body: answered at once, the connection closed, the
  // body never read (the socket closes while the client still has almost all of it to send).
  const refused = await uploadUntilClosed(url, 'POST /metrics HTTP/1.1\r\nhost: x\r\n', 20 * 1024 * 1024);
  assert.match(refused.text, /^HTTP\/1\.1 405/);
  assert.ok(refused.sent < 20 * 1024 * 1024, `the whole body went out (${refused.sent} bytes): the server read it`);

  const metrics = await metricsText(url);
  assert.equal(metricValue(metrics, 'umbra_authority_http_errors_total{code="internal"}'), 0);
  assert.equal(metricValue(metrics, 'umbra_authority_descriptors_rejected_total{reason="bad-body"}') >= 1, true, metrics);
  // Still serving.
  assert.equal((await httpsFetch(`${url}/healthz`, key)).status, 200);
});

test("a node's status listener does not read a body it does not want", async () => {
  const metrics = new NodeMetrics(new NetMetrics());
  const server = await startStatusServer({ host: '127.0.0.1', port: 0, metrics, health: () => ({ status: 'ok' }), log: () => undefined });
  try {
    const url = `http://127.0.0.1:${server.port}`;
    const refused = await uploadUntilClosed(url, 'POST /metrics HTTP/1.1\r\nhost: x\r\n', 20 * 1024 * 1024);
    assert.match(refused.text, /^HTTP\/1\.1 405/);
    assert.ok(refused.sent < 20 * 1024 * 1024, `the whole body went out (${refused.sent} bytes): the server read it`);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
  } finally {
    await server.close();
  }
});

test("a node's status port: the mirror over TLS with the link certificate, refused in the clear; close() does not wait for silent connections", async () => {
  const metrics = new NodeMetrics(new NetMetrics());
  const linkSeed = testSeed(crypto, 'status link');
  const documentBytes = new Uint8Array(300).fill(0x5a);
  const server = await startStatusServer({
    host: '127.0.0.1', port: 0, metrics, health: () => ({ status: 'ok' }), consensus: () => documentBytes, tls: tlsIdentity(linkSeed), log: () => undefined,
  });
  const tlsUrl = `https://127.0.0.1:${server.port}`;
  const cleartextUrl = `http://127.0.0.1:${server.port}`;
  const mirrored = await httpsFetch(`${tlsUrl}/v1/consensus/current`, crypto.ed25519PublicKey(linkSeed));
  assert.deepEqual(new Uint8Array(await mirrored.arrayBuffer()), documentBytes);
  const refused = await fetch(`${cleartextUrl}/v1/consensus/current`);
  assert.equal(refused.status, 403);
  assert.match(await refused.text(), /"error":"tls-required"/);
  assert.equal((await fetch(`${cleartextUrl}/healthz`)).status, 200);
  // A connection that never sends its first byte, and one stuck before its TLS handshake ends.
  const silent = connectTcp(server.port, '127.0.0.1');
  const halfTls = connectTcp(server.port, '127.0.0.1', () => halfTls.write(Uint8Array.of(0x16, 0x03, 0x01)));
  for (const socket of [silent, halfTls]) socket.on('error', () => undefined);
  await new Promise<void>((resolve) => halfTls.once('connect', () => resolve()));
  await server.close();
});
