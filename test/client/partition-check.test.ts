/**
 * The partition check against real nodes: every node mirrors the signed consensus on its status
 * listener, and the client compares the digest of its authority's document with what two mirrors
 * serve. A mirror serving another document (here one the authority signed too: the partition an
 * authority would show one victim) is a 'consensus-mismatch'; too few answers are 'no-consensus'.
 * Without the check (return at once from NetworkView.checkMirrors) the lying mirror goes unnoticed
 * and the second test fails.
 */
import * as assert from 'node:assert/strict';
import type { Server } from 'node:https';
import { createPinnedServer, httpsFetch } from '../net/https-fetch.js';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ClientError, initClient, startClient, type ClientAgent } from '../../src/client/index.js';
import { decodeConsensusUnverified, encodeConsensus, signConsensus } from '../../src/pki/index.js';
import { mirrorUrlOf } from '../../src/node/runtime/index.js';
import { crypto, TestNetwork } from '../node/pir/support.js';
import { FAST_KDF, TEST_NETWORK_POLICY } from './support.js';

let net: TestNetwork;
let liar: Server;
let liarUrl: string;
const agents: ClientAgent[] = [];

before(async () => {
  net = await TestNetwork.start({ label: 'mirrors', retrieval: 'download', genesisMs: 2_200_000_000_000 });
  // A mirror that serves, for every epoch, a document the authority signed with one parameter changed.
  const pinned = createPinnedServer(crypto.randomBytes(32), (req, res) => {
    void (async () => {
      const upstream = await httpsFetch(`${net.authority.url}${req.url ?? '/'}`, net.authorityKey);
      if (!upstream.ok) return void res.writeHead(upstream.status).end();
      const { doc } = decodeConsensusUnverified(crypto, new Uint8Array(await upstream.arrayBuffer()), false);
      const other = signConsensus(crypto, { ...doc, mixing: { ...doc.mixing, maxDelayMs: doc.mixing.maxDelayMs + 1 } }, net.authoritySeed);
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(encodeConsensus(other));
    })();
  });
  liar = pinned.server;
  await new Promise<void>((resolve) => liar.listen(0, '127.0.0.1', resolve));
  liarUrl = pinned.mirrorEntry();
});

after(async () => {
  for (const agent of agents) await agent.close().catch(() => undefined);
  await new Promise<void>((resolve) => liar.close(() => resolve()));
  await net?.close();
});

function mirrorOf(index: number): string {
  return mirrorUrlOf(net.nodes[index]);
}

async function start(name: string, mirrors: string[]): Promise<ClientAgent> {
  const dir = join(net.tempDir('umbra-mirror-client-'), name);
  await initClient(dir, {
    name, passphrase: 'pw', authority: { url: net.authority.url, publicKeys: [net.authorityKey] },
    servers: [net.server(net.providers[0])], kdf: FAST_KDF, clock: net.clock,
    ...TEST_NETWORK_POLICY, mirrors, mirrorsRequired: 2,
  });
  const agent = await startClient(dir, 'pw', { clock: net.clock });
  agents.push(agent);
  return agent;
}

test('two nodes mirroring the same document confirm it', async () => {
  const agent = await start('alice', [mirrorOf(0), mirrorOf(1)]);
  assert.equal(agent.status().consensusRefused, undefined);
});

test('a mirror serving a different document is detected: consensus-mismatch, the agent does not start', async () => {
  await assert.rejects(start('bob', [mirrorOf(2), liarUrl]), (error: unknown) =>
    error instanceof ClientError && error.code === 'consensus-mismatch' && error.message.includes(liarUrl.split('#')[0]));
});

test('fewer confirming mirrors than required: no-consensus', async () => {
  await assert.rejects(start('carol', [mirrorOf(3), 'https://127.0.0.1:9']), (error: unknown) =>
    error instanceof ClientError && error.code === 'no-consensus' && /only 1 of the 2 mirrors/.test(error.message));
});
