import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as netConnect } from 'node:net';
import { connect } from 'node:tls';
import { fromBase64Url, hexOf, toBase64Url } from '../../src/codec/bytes.js';
import { up } from '../../src/testnet/up.js';

/**
 * The nodes' logs under `umbra up` (docs/nodes.md, "Logs"), with real processes: every line of
 * `<dir>/logs/<node>.log` is a JSON object with a level; state changes are there; a refusal
 * provoked from the address 127.0.0.7 (a garbage descriptor at the authority, a link handshake
 * without a certificate at a mix) is logged, and that address, and every secret seed of the
 * network in hex or base64url, appear in no log.
 */
const CLIENT_ADDRESS = '127.0.0.7';

function postGarbageDescriptor(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // An anonymous sender: it does not pin the authority's key (the refusal is the server's).
    const req = request(`${url}/v1/descriptors`, { method: 'POST', localAddress: CLIENT_ADDRESS, rejectUnauthorized: false, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(Buffer.from('not a descriptor'));
  });
}

function handshakeWithoutCertificate(port: number): Promise<void> {
  return new Promise((resolve) => {
    const tcp = netConnect({ host: '127.0.0.1', port, localAddress: CLIENT_ADDRESS });
    const socket = connect({ socket: tcp, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
  });
}

type Line = Record<string, unknown>;

function readLog(dir: string, name: string): { text: string; lines: Line[] } {
  const path = join(dir, 'logs', `${name}.log`);
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const lines = text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Line);
  return { text, lines };
}

async function waitForLine(dir: string, name: string, match: (line: Line) => boolean, limitMs = 20_000): Promise<Line> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const found = readLog(dir, name).lines.find(match);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`no such line in ${name}.log within ${limitMs} ms:\n${readLog(dir, name).text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('umbra up keeps JSON logs per node, with state changes and refusals, and no secrets or client addresses', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-logs-'));
  const net = await up({ dir, epochMs: 2_000, parameters: 'fast', minimalNodes: true, readyTimeoutMs: 60_000 });
  t.after(async () => {
    await net.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });
  const mix = net.plan.nodes.find((node) => node.name === 'mix-1-1')!;

  const status = await postGarbageDescriptor(net.authorityUrl);
  assert.ok(status >= 400 && status < 500, `status ${status}`);
  await handshakeWithoutCertificate(mix.linkPort);
  // Ours (a node's own upload may be refused too, e.g. one that arrives after its epoch's vote).
  const refusedDescriptor = await waitForLine(dir, net.authorities[0].name, (line) => line.msg === 'refused a descriptor' && line.status === status);
  assert.equal(refusedDescriptor.level, 'warn');
  const refusedLink = await waitForLine(dir, 'mix-1-1', (line) => line.msg === 'refused a link connection');
  assert.equal(refusedLink.level, 'warn');
  assert.match(String(refusedLink.reason), /^(handshake-failed|no-certificate)$/);
  // State changes: the authority's document, the mix's consensus and epochs.
  await waitForLine(dir, net.authorities[0].name, (line) => line.level === 'info' && /^published the document for epoch \d+/.test(String(line.msg)));
  await waitForLine(dir, 'mix-1-1', (line) => line.level === 'info' && /^holding the consensus for epoch \d+/.test(String(line.msg)));
  await waitForLine(dir, 'mix-1-1', (line) => line.level === 'info' && /^epoch \d+ begins$/.test(String(line.msg)));

  const seeds = [...net.plan.authorities.map((authority) => authority.seed), ...net.plan.nodes.map((node) => node.identitySeed)];
  for (const node of net.plan.nodes) {
    // The identity seed comes from the config (the plan); the link seed is made at the first start.
    seeds.push(readFileSync(join(dir, node.name, 'data', 'link.seed'), 'utf8').trim());
  }
  const secrets = seeds.flatMap((seed) => {
    const bytes = /^[0-9a-f]{64}$/.test(seed) ? Uint8Array.from(Buffer.from(seed, 'hex')) : fromBase64Url(seed, 'seed', 32);
    return [hexOf(bytes), toBase64Url(bytes), Buffer.from(bytes).toString('base64')];
  });
  for (const name of [...net.plan.authorities.map((a) => a.name), ...net.plan.nodes.map((n) => n.name)]) {
    const path = join(dir, 'logs', `${name}.log`);
    assert.equal(statSync(path).mode & 0o777, 0o600, `${name}.log mode`);
    const { text, lines } = readLog(dir, name);
    assert.ok(lines.length > 0, `${name}.log is empty`);
    for (const line of lines) {
      assert.match(String(line.level), /^(debug|info|warn|error)$/, `${name}: ${JSON.stringify(line)}`);
      assert.equal(typeof line.msg, 'string');
      assert.equal(typeof line.time, 'string');
    }
    assert.ok(lines.some((line) => line.msg === 'ready'), `${name} logged no ready line`);
    assert.ok(!text.includes(CLIENT_ADDRESS), `${name}.log holds the client's address`);
    for (const secret of secrets) assert.ok(!text.includes(secret), `${name}.log holds a secret seed`);
  }
});
