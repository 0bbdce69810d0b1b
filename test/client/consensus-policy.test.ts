/**
 * The client's minimums against a real authority (on a fake clock) and real WebSocket listeners: a
 * consensus that lowers privacy is refused at start with a typed error, and a provider that keeps
 * answering "too large" cannot push bucket fetches beyond maxBuckets. Without the checks (remove
 * the consensusBelowMinimums call in NetworkView.fetch, or the maxBuckets test in BucketRetrieval)
 * the agent starts and the bucket count climbs to 2^20: these tests fail.
 */
import * as assert from 'node:assert/strict';
import type { Server } from 'node:https';
import { createPinnedServer, httpsFetch } from '../net/https-fetch.js';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClientError, initClient, startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { getCrypto } from '../../src/crypto/index.js';
import { decodeConsensusUnverified, encodeConsensus } from '../../src/pki/index.js';
import { DEFAULT_CONSENSUS_MINIMUMS } from '../../src/traffic/consensus-minimums.js';
import { FAST_KDF, removeTempDirs, SimNet, TEST_NETWORK_POLICY, tempDir } from './support.js';

const nets: SimNet[] = [];
const agents: ClientAgent[] = [];
const servers: Server[] = [];
after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  for (const server of servers) await new Promise((resolve) => server.close(resolve));
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

/**
 * A consensus mirror in front of `authorityUrl`, over TLS with its own key (`url` is its mirror entry,
 * the key after '#'); once `lying` is set it serves each document with one parameter changed.
 */
async function proxyMirror(authorityUrl: string, authorityKey: Uint8Array): Promise<{ url: string; lying: boolean }> {
  const crypto = getCrypto('sodium');
  const mirror = { url: '', lying: false };
  const { server, mirrorEntry } = createPinnedServer(crypto.randomBytes(32), (req, res) => {
    void (async () => {
      const upstream = await httpsFetch(`${authorityUrl}${req.url ?? '/'}`, authorityKey);
      if (!upstream.ok) return void res.writeHead(upstream.status).end();
      let bytes: Uint8Array = new Uint8Array(await upstream.arrayBuffer());
      if (mirror.lying) {
        const { doc } = decodeConsensusUnverified(crypto, bytes, false);
        bytes = encodeConsensus({ ...doc, mixing: { ...doc.mixing, maxDelayMs: doc.mixing.maxDelayMs + 1 } });
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
    })();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  mirror.url = mirrorEntry();
  return mirror;
}

describe('a refusal after the start', () => {
  test('a later consensus a mirror contradicts is refused: the previous one stays, an event and status report it', async () => {
    const net = await network({ label: 'later', traffic: { clientSendRate: 2, loopRate: 0, dropRate: 0 } });
    const honest = await proxyMirror(net.authority.url, net.authorityKey);
    const liar = await proxyMirror(net.authority.url, net.authorityKey);
    const dir = await initUser(net, 'erin', { mirrors: [honest.url, liar.url], mirrorsRequired: 2 });
    const events: ClientEvent[] = [];
    const agent = await startClient(dir, 'pw', { clock: net.clock, onEvent: (event) => events.push(event) });
    agents.push(agent);
    const startEpoch = agent.status().consensusEpoch;
    assert.equal(agent.status().consensusRefused, undefined);
    liar.lying = true;
    await net.advance(net.epochMs);
    await agent.poll(); // a poll in the new epoch asks for its consensus
    const refused = events.filter((event) => event.type === 'consensus-refused');
    assert.ok(refused.length > 0, 'reported as an event');
    assert.ok(refused.every((event) => event.type === 'consensus-refused' && event.code === 'consensus-mismatch' && event.message.includes(liar.url.split('#')[0])));
    const status = agent.status();
    assert.equal(status.consensusEpoch, startEpoch, 'the previous consensus stays in use');
    assert.equal(status.consensusRefused?.code, 'consensus-mismatch');
    liar.lying = false;
    await agent.poll();
    assert.equal(agent.status().consensusEpoch, startEpoch + 1, 'an agreed document is taken');
    assert.equal(agent.status().consensusRefused, undefined);
  });
});
