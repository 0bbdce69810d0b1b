import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_NETWORK_PARAMETERS, networkParametersProblems, type NetworkParameters } from '../../src/pki/index.js';
import { consensusBelowMinimums, DEFAULT_CONSENSUS_MINIMUMS, minimumsProblems } from '../../src/traffic/consensus-minimums.js';
import { chooseMirrors, judgeMirrors } from '../../src/traffic/mirror-check.js';

const OPEN = { allowModeChange: false };

function withParams(change: (p: NetworkParameters) => NetworkParameters): NetworkParameters {
  return change(DEFAULT_NETWORK_PARAMETERS);
}

test('the network defaults meet the default minimums', () => {
  assert.deepEqual(consensusBelowMinimums(DEFAULT_NETWORK_PARAMETERS, DEFAULT_CONSENSUS_MINIMUMS, OPEN), []);
  assert.deepEqual(minimumsProblems(DEFAULT_CONSENSUS_MINIMUMS), []);
});

test('each lowered parameter is refused, naming the parameter', () => {
  const lowered: [string, NetworkParameters][] = [
    ['traffic.clientSendRate', withParams((p) => ({ ...p, traffic: { ...p.traffic, clientSendRate: 0.01 } }))],
    ['traffic.loopRate', withParams((p) => ({ ...p, traffic: { ...p.traffic, loopRate: 0 } }))],
    ['traffic.dropRate', withParams((p) => ({ ...p, traffic: { ...p.traffic, dropRate: 0 } }))],
    ['mixing.meanDelayMs', withParams((p) => ({ ...p, mixing: { ...p.mixing, meanDelayMs: 0 } }))],
    ["retrieval 'bucket'", withParams((p) => ({ ...p, retrieval: 'bucket' }))],
    ["retrieval 'download'", withParams((p) => ({ ...p, retrieval: 'download' }))],
  ];
  for (const [name, params] of lowered) {
    const problems = consensusBelowMinimums(params, DEFAULT_CONSENSUS_MINIMUMS, OPEN);
    assert.equal(problems.length, 1, name);
    assert.ok(problems[0].startsWith(name), problems[0]);
  }
});

test('a NaN rate is refused, not waved through', () => {
  const params = withParams((p) => ({ ...p, traffic: { ...p.traffic, loopRate: Number.NaN } }));
  assert.equal(consensusBelowMinimums(params, DEFAULT_CONSENSUS_MINIMUMS, OPEN).length, 1);
});

test('the retrieval mode never changes from the one the client started with, unless the user allows it', () => {
  const all = { ...DEFAULT_CONSENSUS_MINIMUMS, retrieval: ['bucket', 'download', 'pir'] as const };
  const bucket = withParams((p) => ({ ...p, retrieval: 'bucket' }));
  assert.match(consensusBelowMinimums(bucket, all, { startMode: 'pir', allowModeChange: false })[0], /differs from 'pir'/);
  assert.deepEqual(consensusBelowMinimums(bucket, all, { startMode: 'pir', allowModeChange: true }), []);
  assert.deepEqual(consensusBelowMinimums(bucket, all, { startMode: 'bucket', allowModeChange: false }), []);
});

test('bad minimums are listed', () => {
  const problems = minimumsProblems({ clientSendRate: -1, loopRate: Number.NaN, dropRate: 0, meanDelayMs: 0, retrieval: [] });
  assert.equal(problems.length, 3);
});

test('mirrors: agreement, a differing mirror, too few answers', () => {
  const digest = new Uint8Array(32).fill(7);
  const other = new Uint8Array(32).fill(8);
  assert.deepEqual(judgeMirrors(digest, [{ mirror: 'a', digest }, { mirror: 'b', digest }], 2), { ok: true, agreed: 2 });
  const mismatch = judgeMirrors(digest, [{ mirror: 'a', digest }, { mirror: 'b', digest: other }], 2);
  assert.ok(!mismatch.ok && mismatch.kind === 'mismatch' && mismatch.message.includes('b'));
  const few = judgeMirrors(digest, [{ mirror: 'a', digest }, { mirror: 'b', failure: 'unreachable' }], 2);
  assert.ok(!few.ok && few.kind === 'too-few' && few.message.includes('b: unreachable'));
  assert.deepEqual(judgeMirrors(digest, [], 0), { ok: true, agreed: 0 });
});

test('chooseMirrors shuffles every candidate once', () => {
  const order = chooseMirrors(['a', 'b', 'c', 'd'], (n) => n - 1);
  assert.deepEqual([...order].sort(), ['a', 'b', 'c', 'd']);
});

test('PIR sizes: too few queries per poll, rows too small to hold an item or too large to download are refused', () => {
  const pir = (rowBytes: number, queriesPerPoll: number) => ({ ...DEFAULT_NETWORK_PARAMETERS, pir: { rowBytes, queriesPerPoll } });
  const policy = { allowModeChange: false };
  assert.deepEqual(consensusBelowMinimums(DEFAULT_NETWORK_PARAMETERS, DEFAULT_CONSENSUS_MINIMUMS, policy), []);
  assert.match(consensusBelowMinimums(pir(16_384, 4), DEFAULT_CONSENSUS_MINIMUMS, policy).join(), /pir.queriesPerPoll 4 is below the minimum 8/);
  assert.match(consensusBelowMinimums(pir(4096, 8), DEFAULT_CONSENSUS_MINIMUMS, policy).join(), /pir.rowBytes 4096 bytes is below/);
  assert.match(consensusBelowMinimums(pir(4 << 20, 8), DEFAULT_CONSENSUS_MINIMUMS, policy).join(), /above the maximum/);
  assert.deepEqual(consensusBelowMinimums(pir(4096, 4), { ...DEFAULT_CONSENSUS_MINIMUMS, pirQueriesPerPoll: 4, pirRowBytes: 4096 }, policy), []);
  assert.deepEqual(networkParametersProblems(pir(5000, 0)).length, 2, 'rowBytes must be a multiple of 64, queriesPerPoll at least 1');
});
