import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { hexOf, toBase64Url } from '../../../src/codec/bytes.js';
import { getCrypto } from '../../../src/crypto/index.js';
import { uploadDescriptor } from '../../../src/net/authority-client.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../../../src/node/authority/index.js';
import {
  consensusDigest,
  consensusSignedBytes,
  encodeDescriptor,
  encodeSignatureShare,
  epochStart,
  makeVote,
  tallyVotes,
  verifyConsensus,
  type NodeDescriptor,
} from '../../../src/pki/index.js';
import { flipBit } from '../../support/bytes.js';
import { makeFixtureNetwork, testSeed } from '../../pki/network-fixture.js';
import { FakeClock } from './fake-clock.js';
import { httpsFetch } from '../../net/https-fetch.js';

/**
 * One authority of three over HTTP, its peers played by the test (docs/pki.md, "Voting", "Threat
 * model"): peers' votes are taken once; forged, unknown, wrong-epoch and replayed votes are refused
 * and counted; a peer voting twice is kept as evidence and counts for nothing; the authority votes,
 * tallies, and publishes once a second signature makes a majority; a restart serves the same bytes.
 */
const crypto = getCrypto();
const GENESIS = 1_700_000_000_000;
const EPOCH_MS = 2000;
const LEAD_MS = EPOCH_MS / 4;
const timing = { genesisMs: GENESIS, epochMs: EPOCH_MS };
const seeds = [0, 1, 2].map((i) => testSeed(crypto, `voting authority ${i}`));
const keys = seeds.map((seed) => crypto.ed25519PublicKey(seed));
const dirs: string[] = [];
const running = new Set<AuthorityHandle>();

after(async () => {
  await Promise.all([...running].map((handle) => handle.close()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function configFor(dataDir: string) {
  return validateAuthorityConfig({
    identitySeed: toBase64Url(seeds[0]),
    authorities: keys.map(toBase64Url),
    // Nobody answers there: the test plays the peers.
    peers: [1, 2].map((i) => ({ publicKey: toBase64Url(keys[i]), url: 'https://127.0.0.1:1' })),
    genesisMs: GENESIS,
    epochMs: EPOCH_MS,
    dataDir,
    network: { mixing: { meanDelayMs: 5, maxDelayMs: 50 } },
    openAdmission: true,
  });
}

async function post(url: string, path: string, body: Uint8Array): Promise<{ status: number; code?: string }> {
  const response = await httpsFetch(`${url}${path}`, keys[0], { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
  const parsed = JSON.parse(await response.text()) as { error?: string };
  return { status: response.status, ...(parsed.error === undefined ? {} : { code: parsed.error }) };
}

async function metric(url: string, line: string): Promise<number> {
  const text = await (await httpsFetch(`${url}/metrics`, keys[0])).text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

test('one authority of three: refuses bad votes, detects equivocation, publishes with a majority, keeps it across a restart', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-voting-authority-'));
  dirs.push(dataDir);
  const config = configFor(dataDir);
  const clock = new FakeClock(GENESIS + 100); // epoch 0
  let authority = await startAuthority(config, { clock });
  running.add(authority);
  const nodes: NodeDescriptor[] = makeFixtureNetwork(crypto, { epoch: 1 }).map((node) => node.descriptor);
  for (const node of nodes) await uploadDescriptor({ url: authority.url, keys: [keys[0]] }, encodeDescriptor(node));
  const voteOf = (i: number, descriptors = nodes, epoch = 1, seed = seeds[i]) =>
    makeVote(crypto, seed, { ...timing, epoch, graceMs: config.graceMs, network: config.network, descriptors });

  const vote1 = voteOf(1);
  const vote2 = voteOf(2);
  assert.deepEqual(await post(authority.url, '/v1/votes', vote1.bytes), { status: 201 });
  assert.deepEqual(await post(authority.url, '/v1/votes', vote1.bytes), { status: 200 }); // the same vote again
  assert.deepEqual(await post(authority.url, '/v1/votes', vote2.bytes), { status: 201 });
  assert.equal((await post(authority.url, '/v1/votes', flipBit(vote2.bytes, (vote2.bytes.length - 3) * 8))).code, 'bad-signature');
  assert.equal((await post(authority.url, '/v1/votes', voteOf(0, nodes, 1, testSeed(crypto, 'stranger')).bytes)).code, 'unknown-authority');
  assert.equal((await post(authority.url, '/v1/votes', voteOf(0).bytes)).code, 'own-vote');
  const farNodes = makeFixtureNetwork(crypto, { epoch: 5 }).map((node) => node.descriptor);
  assert.equal((await post(authority.url, '/v1/votes', voteOf(1, farNodes, 5).bytes)).code, 'wrong-epoch');
  assert.equal((await post(authority.url, '/v1/votes', new Uint8Array(300))).code, 'malformed');
  // No tally yet: a signature is "send again later".
  const early = encodeSignatureShare({ epoch: 1, signer: keys[2], digest: new Uint8Array(32), signature: new Uint8Array(64) });
  assert.equal((await post(authority.url, '/v1/signatures', early)).code, 'not-ready');

  // Authority 1 votes again, differently: evidence, and its vote no longer counts.
  const second = voteOf(1, nodes.slice(1));
  assert.equal((await post(authority.url, '/v1/votes', second.bytes)).code, 'equivocation');
  assert.ok(existsSync(join(dataDir, 'evidence', '1', `${hexOf(keys[1])}-1.bin`)));
  assert.ok(existsSync(join(dataDir, 'evidence', '1', `${hexOf(keys[1])}-2.bin`)));
  assert.equal(await metric(authority.url, 'umbra_authority_equivocations_total'), 1);
  // Published as evidence: anyone can check both votes' signatures.
  const evidence = (await (await httpsFetch(`${authority.url}/v1/evidence/1`, keys[0])).json()) as { equivocations: { authorityId: string; votes: string[] }[] };
  assert.deepEqual(evidence.equivocations, [{ authorityId: toBase64Url(keys[1]), votes: [toBase64Url(vote1.bytes), toBase64Url(second.bytes)] }]);
  assert.deepEqual(((await (await httpsFetch(`${authority.url}/v1/evidence/0`, keys[0])).json()) as { equivocations: unknown[] }).equivocations, []);

  // At the vote time it votes; after the tally time it tallies its own and authority 2's votes (2 of 3).
  clock.advanceTo(epochStart(1, timing) - LEAD_MS);
  // (Each step waits the settle time, a quarter of the lead, for stragglers.)
  clock.advanceTo(epochStart(1, timing) - LEAD_MS / 2 + 10);
  clock.advance(LEAD_MS / 4 + 10);
  authority.tick();
  assert.equal(authority.documentBytes(1), undefined); // one signature of the two needed
  const expected = tallyVotes({ ...timing, epoch: 1, authorities: keys, votes: [voteOf(0).vote, vote2.vote] });
  assert.ok(expected.ok);
  const digest = consensusDigest(crypto, expected.doc);
  const signature = crypto.ed25519Sign(seeds[2], consensusSignedBytes(expected.doc));
  assert.equal((await post(authority.url, '/v1/signatures', encodeSignatureShare({ epoch: 1, signer: keys[2], digest, signature: signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }))).code, 'bad-signature');
  assert.equal((await post(authority.url, '/v1/signatures', encodeSignatureShare({ epoch: 1, signer: keys[2], digest: new Uint8Array(32), signature }))).code, 'different-document');
  assert.equal((await post(authority.url, '/v1/signatures', encodeSignatureShare({ epoch: 1, signer: keys[2], digest, signature }))).status, 201);
  const published = authority.documentBytes(1);
  assert.ok(published !== undefined);
  const doc = verifyConsensus(crypto, published, { authorities: keys, epoch: 1, nowMs: clock.now() });
  assert.equal(doc.signatures.length, 2);
  assert.equal(doc.nodes.length, nodes.length);

  // Two epochs on, authority 2's vote for epoch 1 is a replay.
  clock.advanceTo(epochStart(3, timing) + 10);
  assert.equal((await post(authority.url, '/v1/votes', vote2.bytes)).code, 'wrong-epoch');
  assert.equal(await metric(authority.url, 'umbra_authority_votes_rejected_total{reason="wrong-epoch"}'), 2);
  assert.equal(await metric(authority.url, 'umbra_authority_votes_rejected_total{reason="bad-signature"}'), 1);
  assert.equal(await metric(authority.url, 'umbra_authority_votes_rejected_total{reason="unknown-authority"}'), 1);
  assert.equal(await metric(authority.url, 'umbra_authority_votes_rejected_total{reason="equivocation"}'), 1);

  // A restart serves the same bytes.
  running.delete(authority);
  await authority.close();
  authority = await startAuthority(config, { clock });
  running.add(authority);
  assert.deepEqual(new Uint8Array(await (await httpsFetch(`${authority.url}/v1/consensus/1`, keys[0])).arrayBuffer()), published);
});
