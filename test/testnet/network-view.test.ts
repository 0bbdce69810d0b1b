import * as assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { NetMetrics } from '../../src/net/metrics.js';
import { CONTENT_SECURITY_POLICY } from '../../src/net/static-page.js';
import { Metrics } from '../../src/node/metrics.js';
import { NodeMetrics } from '../../src/node/runtime/metrics.js';
import { startNetworkView, type NetworkSnapshot, type NetworkViewServer } from '../../src/testnet/network-view.js';
import { byLabel, histogram, parsePrometheus, total } from '../../src/testnet/prometheus.js';
import type { NetworkFile } from '../../src/testnet/up.js';

/**
 * The network view's server (src/testnet/network-view.ts) on a node's real metrics: its JSON, a
 * node that does not answer, its page headers and its Host check; and the Prometheus reader.
 */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the Prometheus reader', () => {
  test('reads back what the nodes print', () => {
    const metrics = new NodeMetrics(new NetMetrics());
    metrics.count('node_packets_in_total', {}, 41);
    metrics.drop('bad-mac', 3);
    metrics.drop('replay');
    metrics.unwrapSeconds(0.00007);
    metrics.unwrapSeconds(0.003);
    metrics.gauge('node_schedule_depth', 'held', () => 5);
    const samples = parsePrometheus(metrics.text());
    assert.equal(total(samples, 'umbra_node_packets_in_total'), 41);
    assert.deepEqual(byLabel(samples, 'umbra_node_packets_dropped_total', 'reason'), { 'bad-mac': 3, replay: 1 });
    assert.equal(total(samples, 'umbra_node_schedule_depth'), 5);
    const h = histogram(samples, 'umbra_node_unwrap_seconds');
    assert.equal(h.count, 2);
    assert.deepEqual(h.buckets.find(([le]) => le === 0.0001), [0.0001, 1]);
    assert.deepEqual(h.buckets.at(-1), [Infinity, 2]);
  });

  test('any counter values round-trip, and any text parses without throwing', () => {
    fc.assert(fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,12}$/), fc.nat({ max: 2 ** 40 })), (values) => {
      const metrics = new Metrics('umbra');
      for (const [reason, value] of Object.entries(values)) metrics.inc('dropped_total', 'help', { reason }, value);
      assert.deepEqual(byLabel(parsePrometheus(metrics.toPrometheus()), 'umbra_dropped_total', 'reason'), { ...values });
    }), { seed: 14, numRuns: 200 });
    fc.assert(fc.property(fc.string({ maxLength: 2000 }), (text) => {
      for (const sample of parsePrometheus(text)) assert.ok(!Number.isNaN(sample.value));
    }), { seed: 15, numRuns: 500 });
  });
});

describe('the network view server', () => {
  let metricsServer: Server;
  let view: NetworkViewServer;
  const metrics = new NodeMetrics(new NetMetrics());

  before(async () => {
    metrics.count('node_packets_in_total', {}, 7);
    metrics.gauge('node_schedule_depth', 'held', () => 2);
    metricsServer = createServer((req, res) => res.end(req.url === '/metrics' ? metrics.text() : ''));
    await new Promise<void>((resolve) => metricsServer.listen(0, '127.0.0.1', resolve));
    const port = (metricsServer.address() as AddressInfo).port;
    const node = { family: 'f', linkPort: 1, metricsPort: port };
    const file: NetworkFile = {
      dir: '/nonexistent', genesisMs: 0, epochMs: 1000, authority: { url: 'https://127.0.0.1:1', publicKey: '' },
      nodes: [
        { ...node, name: 'mix-1-1', role: 'mix', layer: 1, metricsUrl: `http://127.0.0.1:${port}/metrics` },
        // Port 1 on loopback: nothing listens there, so this node does not answer.
        { ...node, name: 'mix-1-2', role: 'mix', layer: 1, metricsUrl: 'http://127.0.0.1:1/metrics' },
      ] as unknown as NetworkFile['nodes'],
      users: [{ name: 'alice', provider: 'provider-1', dir: '/nonexistent/alice' }],
    };
    view = await startNetworkView(file);
  });

  after(async () => {
    await view?.close();
    await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
  });

  test('answers each node\'s counters, and marks a node that does not answer', async () => {
    const res = await get(`${view.url}network.json`);
    assert.equal(res.status, 200);
    const snapshot = JSON.parse(res.body) as NetworkSnapshot;
    const [up, down] = snapshot.nodes;
    assert.equal(up.up, true);
    assert.equal(up.packetsIn, 7);
    assert.equal(up.queueDepth, 2);
    assert.equal(down.up, false);
    assert.equal(down.packetsIn, 0);
    assert.deepEqual(snapshot.loops, []);
  });

  test('serves its page with the strict CSP, and nothing to another Host', async () => {
    const page = await get(view.url);
    assert.ok(page.status === 200 || page.status === 503, `status ${page.status}`);
    assert.equal(page.headers['content-security-policy'], CONTENT_SECURITY_POLICY);
    assert.equal((await get(`${view.url}network.json`, { host: 'rebound.example:80' })).status, 421);
    assert.equal((await get(`${view.url}nothing`)).status, 404);
  });
});
