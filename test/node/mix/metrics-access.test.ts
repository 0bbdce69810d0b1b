/**
 * Who may read /metrics: by default the listener binds to 127.0.0.1 (whatever `host` the node's
 * other listeners use); bound elsewhere it needs a bearer token from the configuration, and answers
 * 401 without it. Bind the status server to `host` again, or drop the token check in http.ts, and
 * these tests fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { startMix } from '../../../src/node/mix/index.js';
import { NodeConfigError, validateNodeConfig } from '../../../src/node/runtime/index.js';
import { FakeClock } from '../authority/fake-clock.js';

const crypto = getCrypto('sodium');
const GENESIS = 1_700_000_000_000;
const TOKEN = 'metrics-token-0123456789abcdef';
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function config(extra: Record<string, unknown>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-metrics-'));
  dirs.push(dataDir);
  return validateNodeConfig({
    role: 'mix', name: 'mix-1', layer: 1, dataDir, authorityUrls: ['https://127.0.0.1:1'], authorities: [toBase64Url(new Uint8Array(32).fill(7))],
    genesisMs: GENESIS, epochMs: 4000, replayFilterLog2Bits: 12, ...extra,
  });
}

/** True when a TCP connection to host:port is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

test('the metrics listener is on 127.0.0.1 by default, even when the node binds every interface', async () => {
  const cfg = config({ host: '0.0.0.0', advertiseHost: '127.0.0.1' });
  assert.equal(cfg.metricsHost, '127.0.0.1');
  const node = await startMix(cfg, { crypto, clock: new FakeClock(GENESIS + 10), log: () => undefined });
  try {
    assert.equal(new URL(node.metricsUrl).hostname, '127.0.0.1');
    assert.equal((await fetch(node.metricsUrl)).status, 200, 'no token needed on loopback');
    const outside = Object.values(networkInterfaces()).flat().find((info) => info !== undefined && info.family === 'IPv4' && !info.internal);
    if (outside !== undefined) assert.equal(await accepts(outside.address, node.metricsPort), false, `not reachable on ${outside.address}`);
  } finally {
    await node.close();
  }
});

test('bound elsewhere, /metrics needs the bearer token from the configuration', async () => {
  assert.throws(() => config({ metricsHost: '0.0.0.0' }), (error: unknown) => error instanceof NodeConfigError && /metricsToken is required/.test(error.message));
  assert.throws(() => config({ metricsHost: '0.0.0.0', metricsToken: 'short' }), /metricsToken must be 16\.\.256/);
  const node = await startMix(config({ metricsHost: '0.0.0.0', metricsToken: TOKEN }), { crypto, clock: new FakeClock(GENESIS + 10), log: () => undefined });
  try {
    const refused = await fetch(node.metricsUrl);
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('www-authenticate'), 'Bearer');
    assert.doesNotMatch(await refused.text(), /umbra_node/);
    assert.equal((await fetch(node.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
    assert.equal((await fetch(node.metricsUrl, { headers: { authorization: TOKEN } })).status, 401);
    const allowed = await fetch(node.metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(allowed.status, 200);
    assert.match(await allowed.text(), /umbra_node_http_errors_total\{code="unauthorized"\} 3/);
    assert.equal((await fetch(node.healthUrl)).status, 200, '/healthz and the mirror stay open');
  } finally {
    await node.close();
  }
});
