import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { AuthorityConfigError, DEFAULT_EPOCH_MS, startAuthority, validateAuthorityConfig } from '../../../src/node/authority/index.js';
import { DEFAULT_NETWORK_PARAMETERS } from '../../../src/pki/index.js';
import { testSeed } from '../../pki/network-fixture.js';

const crypto = getCrypto('sodium');
const seed = testSeed(crypto, 'config authority');
const key = crypto.ed25519PublicKey(seed);
const minimal = { identitySeed: toBase64Url(seed), authorities: [toBase64Url(key)], genesisMs: 1_000, dataDir: '/tmp/umbra-authority', openAdmission: true };

function problemsOf(json: unknown): readonly string[] {
  try {
    validateAuthorityConfig(json);
  } catch (error) {
    assert.ok(error instanceof AuthorityConfigError);
    for (const problem of error.problems) assert.ok(error.message.includes(problem));
    return error.problems;
  }
  assert.fail('the configuration was accepted');
}

test('a minimal configuration gets the defaults', () => {
  const config = validateAuthorityConfig(minimal);
  assert.deepEqual(config.listen, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(config.identitySeed, seed);
  assert.deepEqual(config.authorities, [key]);
  assert.equal(config.epochMs, DEFAULT_EPOCH_MS);
  assert.equal(config.graceMs, DEFAULT_EPOCH_MS / 4);
  assert.equal(config.publishLeadMs, DEFAULT_EPOCH_MS / 4);
  assert.deepEqual(config.network, DEFAULT_NETWORK_PARAMETERS);
  assert.equal(config.retainEpochs, 16);
  assert.equal(config.probeIntervalMs, 60_000); // a 16th of 20 minutes is 75 s: capped
  assert.equal(config.probeTimeoutMs, 5000);
  assert.equal(validateAuthorityConfig({ ...minimal, epochMs: 2000 }).probeIntervalMs, 250);
  assert.equal(config.allowedNodes, undefined);
  assert.deepEqual(validateAuthorityConfig(JSON.stringify(minimal)), config);
});

test('an allow-list is required unless openAdmission is true', () => {
  const { openAdmission: _open, ...closed } = minimal;
  assert.ok(problemsOf(closed).some((problem) => problem.includes('allowedNodes is required')));
  assert.ok(problemsOf({ ...closed, openAdmission: 'yes' }).some((problem) => problem.includes('openAdmission must be true or false')));
  assert.ok(problemsOf({ ...closed, openAdmission: false }).some((problem) => problem.includes('allowedNodes is required')));
  assert.deepEqual(validateAuthorityConfig({ ...closed, allowedNodes: [toBase64Url(key)] }).allowedNodes, [key]);
  assert.equal(validateAuthorityConfig({ ...closed, allowedNodes: [] }).allowedNodes?.length, 0);
});

test('given values are kept and network fields merge into the defaults', () => {
  const config = validateAuthorityConfig({
    ...minimal,
    listen: '[::1]:7000',
    epochMs: 2000,
    graceMs: 100,
    publishLeadMs: 1000,
    network: { retrieval: 'bucket', traffic: { loopRate: 0 }, geometry: { hops: 6 } },
  });
  assert.deepEqual(config.listen, { host: '::1', port: 7000 });
  assert.equal(config.graceMs, 100);
  assert.equal(config.publishLeadMs, 1000);
  assert.equal(config.network.retrieval, 'bucket');
  assert.deepEqual(config.network.traffic, { ...DEFAULT_NETWORK_PARAMETERS.traffic, loopRate: 0 });
  assert.deepEqual(config.network.geometry, { ...DEFAULT_NETWORK_PARAMETERS.geometry, hops: 6 });
});

test('every problem is listed at once', () => {
  const problems = problemsOf({
    listen: 'localhost',
    identitySeed: 'not base64!',
    authorities: ['AAAA'],
    epochMs: 'soon',
    graceMs: 1.5,
    network: { suite: 'rot13', traffic: { clientSendRate: 0, bogus: 1 }, mixing: 'fast' },
    colour: 'blue',
  });
  const expected = [/^unknown field "colour"$/, /^listen/, /^identitySeed/, /^authorities\[0\]/, /^genesisMs is required/, /^epochMs/, /^graceMs/, /^dataDir/, /network\.traffic\.bogus/, /network\.mixing must be an object/, /network: suite/, /network: traffic\.clientSendRate/];
  for (const pattern of expected) assert.ok(problems.some((problem) => pattern.test(problem)), `${pattern} not in ${JSON.stringify(problems)}`);
});

test("the authority's own key must be listed; bad JSON and non-objects are refused", () => {
  const otherKey = crypto.ed25519PublicKey(testSeed(crypto, 'someone'));
  assert.ok(problemsOf({ ...minimal, authorities: [toBase64Url(otherKey)] }).some((p) => p.includes('own public key')));
  assert.ok(problemsOf({ ...minimal, authorities: [toBase64Url(key), toBase64Url(key)] }).some((p) => p.includes('twice')));
  assert.ok(problemsOf({ ...minimal, publishLeadMs: DEFAULT_EPOCH_MS }).some((p) => p.startsWith('publishLeadMs')));
  assert.ok(problemsOf({ ...minimal, probeIntervalMs: 50 }).some((p) => p.startsWith('probeIntervalMs')));
  assert.ok(problemsOf({ ...minimal, probeTimeoutMs: 0 }).some((p) => p.startsWith('probeTimeoutMs')));
  assert.equal(validateAuthorityConfig({ ...minimal, probeIntervalMs: 0 }).probeIntervalMs, 0);
  assert.deepEqual(problemsOf('{'), ['the configuration is not valid JSON']);
  assert.deepEqual(problemsOf([]), ['the configuration must be a JSON object']);
});

test('startAuthority refuses a typed configuration that breaks a rule', async () => {
  const config = validateAuthorityConfig(minimal);
  await assert.rejects(startAuthority({ ...config, epochMs: 0 }), AuthorityConfigError);
});

test('several authorities: every other one needs a peer URL, and peers must be listed authorities', () => {
  const other = toBase64Url(crypto.ed25519PublicKey(testSeed(crypto, 'config peer')));
  const stranger = toBase64Url(crypto.ed25519PublicKey(testSeed(crypto, 'config stranger')));
  const several = { ...minimal, authorities: [toBase64Url(key), other] };
  assert.ok(problemsOf(several).some((problem) => /peers must give a URL for every other authority/.test(problem)));
  const config = validateAuthorityConfig({ ...several, peers: [{ publicKey: other, url: 'https://127.0.0.1:7001/' }] });
  assert.deepEqual(config.peers.map((peer) => peer.url), ['https://127.0.0.1:7001']);
  const problems = problemsOf({ ...several, peers: [{ publicKey: other, url: 'ftp://x' }, { publicKey: stranger, url: 'http://127.0.0.1:7002' }, { publicKey: toBase64Url(key), url: 'http://127.0.0.1:7003' }] });
  for (const pattern of [/peers\[0\]\.url/, /peers\[1\]\.url must be an https:\/\/ URL.*cleartext http:\/\/ is refused/, /peers\[1\]\.publicKey is not among the authorities/, /peers\[2\] is this authority itself/]) {
    assert.ok(problems.some((problem) => pattern.test(problem)), `${pattern} not in ${JSON.stringify(problems)}`);
  }
  assert.ok(problemsOf({ ...minimal, threshold: 1 }).some((problem) => /majority/.test(problem)));
});
