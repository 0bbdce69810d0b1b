/**
 * The client's minimums against a real authority (on a fake clock) and real WebSocket listeners: a
 * consensus that lowers privacy is refused at start with a typed error, and a provider that keeps
 * answering "too large" cannot push bucket fetches beyond maxBuckets. Without the checks (remove
 * the consensusBelowMinimums call in NetworkView.fetch, or the maxBuckets test in BucketRetrieval)
 * the agent starts and the bucket count climbs to 2^20: these tests fail.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClientError, initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { DEFAULT_CONSENSUS_MINIMUMS } from '../../src/traffic/consensus-minimums.js';
import { FAST_KDF, removeTempDirs, SimNet, TEST_NETWORK_POLICY, tempDir } from './support.js';

const nets: SimNet[] = [];
const agents: ClientAgent[] = [];
after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  for (const net of nets) await net.close();
  removeTempDirs();
});

async function network(options: Parameters<typeof SimNet.start>[0]): Promise<SimNet> {
  const net = await SimNet.start(options);
  nets.push(net);
  return net;
}

async function initUser(net: SimNet, name: string, extra: Partial<Parameters<typeof initClient>[1]> = {}): Promise<string> {
  const dir = join(tempDir(), name);
  await initClient(dir, { name, passphrase: 'pw', authority: net.authoritySettings, servers: [net.providerWs()], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY, ...extra });
  return dir;
}

function refusal(pattern: RegExp): (error: unknown) => boolean {
  return (error) => error instanceof ClientError && error.code === 'consensus-refused' && pattern.test(error.message);
}

describe('consensus minimums', () => {
  test('an authority that publishes loopRate 0 makes startClient fail with consensus-refused', async () => {
    const net = await network({ label: 'loop-zero', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 1 } });
    const dir = await initUser(net, 'alice', { minimums: { ...TEST_NETWORK_POLICY.minimums, loopRate: 0.1 } });
    await assert.rejects(startClient(dir, 'pw', { clock: net.clock }), refusal(/traffic\.loopRate 0\/s is below the minimum 0\.1\/s/));
    // The same client with the minimum lowered by its user starts.
    const lowered = await initUser(net, 'bob');
    agents.push(await startClient(lowered, 'pw', { clock: net.clock }));
  });

  test('the default minimums refuse a bucket-mode network with a 5 ms mean delay and list every reason', async () => {
    const net = await network({ label: 'defaults', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const dir = await initUser(net, 'carol', { minimums: DEFAULT_CONSENSUS_MINIMUMS });
    await assert.rejects(startClient(dir, 'pw', { clock: net.clock }), (error: unknown) => {
      assert.ok(error instanceof ClientError && error.code === 'consensus-refused');
      for (const part of [/loopRate/, /dropRate/, /meanDelayMs 5 ms/, /retrieval 'bucket'/]) assert.match(error.message, part);
      return true;
    });
  });
});

describe('bucket bound', () => {
  test('a provider answering "too large" cannot push the bucket count beyond maxBuckets', async () => {
    const net = await network({ label: 'too-large', traffic: { clientSendRate: 20, loopRate: 0, dropRate: 0 } });
    const dir = await initUser(net, 'dave', { maxBuckets: 256 });
    const agent = await startClient(dir, 'pw', { clock: net.clock });
    agents.push(agent);
    net.minBuckets = 1 << 20; // the provider refuses anything coarser than single addresses
    const poll = await agent.poll();
    assert.match(poll.error ?? '', /maxBuckets \(256\)/);
    assert.equal(Math.max(...net.bucketCounts), 256, `asked with ${[...new Set(net.bucketCounts)].join(', ')} buckets`);
  });
});
