import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetMetrics, toPrometheus } from '../../src/net/metrics.js';

test('NetMetrics counts by name and reason and prints Prometheus text', () => {
  const metrics = new NetMetrics();
  assert.equal(toPrometheus(metrics), '');
  metrics.inc('packets_received');
  metrics.inc('packets_received', '', 2);
  metrics.inc('peers_disconnected', 'oversized');
  metrics.inc('peers_disconnected', 'unknown-type');
  metrics.inc('peers_disconnected', 'oversized');
  assert.equal(metrics.get('packets_received'), 3);
  assert.equal(metrics.get('peers_disconnected', 'oversized'), 2);
  assert.equal(metrics.get('peers_disconnected'), 3);
  assert.equal(metrics.get('nothing'), 0);
  assert.deepEqual(metrics.snapshot(), { packets_received: 3, 'peers_disconnected{oversized}': 2, 'peers_disconnected{unknown-type}': 1 });
  assert.equal(toPrometheus(metrics, 'umbra_mix_link'), [
    '# TYPE umbra_mix_link_packets_received_total counter',
    'umbra_mix_link_packets_received_total 3',
    '# TYPE umbra_mix_link_peers_disconnected_total counter',
    'umbra_mix_link_peers_disconnected_total{reason="oversized"} 2',
    'umbra_mix_link_peers_disconnected_total{reason="unknown-type"} 1',
    '',
  ].join('\n'));
  metrics.inc('odd', 'a"b\\c\nd');
  assert.match(toPrometheus(metrics), /umbra_link_odd_total\{reason="a\\"b\\\\c\\nd"\} 1/);
  assert.throws(() => metrics.inc('bad name'), RangeError);
  assert.throws(() => toPrometheus(metrics, 'bad-prefix'), RangeError);
});
