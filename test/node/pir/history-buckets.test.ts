/**
 * A poll's `unfinished` epochs at two real providers: an epoch whose pairs fall in more buckets
 * than its share of first pages is read in turn over several polls, and stays unfinished until
 * every one of those buckets was read. Before, the buckets not picked were not counted, so a
 * catching-up client (a user with several contacts: a history epoch with many addresses) passed the
 * epoch after one poll and never read the others' mail.
 */
import * as assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PirRetrieval } from '../../../src/client/pir-retrieval.js';
import { fetchCurrentConsensus } from '../../../src/net/authority-client.js';
import { RequestChannel } from '../../../src/net/request-channel.js';
import type { ProviderHandle } from '../../../src/node/provider/index.js';
import { DEFAULT_NETWORK_PARAMETERS, findNode, type ConsensusDocument } from '../../../src/pki/index.js';
import { firstRoundQueries } from '../../../src/traffic/poll-schedule.js';
import { bucketOf } from '../../../src/store/mailbox.js';
import { decodePirResponse } from '../../../src/wire/pir-messages.js';
import { crypto, TestNetwork } from './support.js';
import { info } from './requests.js';

const GENESIS = 1_900_000_000_000;
let net: TestNetwork;
let a: ProviderHandle;
let b: ProviderHandle;
let doc: ConsensusDocument;

before(async () => {
  net = await TestNetwork.start({ label: 'pirhist', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: 500 } });
  [a, b] = net.providers;
  doc = await fetchCurrentConsensus(crypto, { url: net.authority.url, publicKeys: [net.authorityKey] }, net.clock.now());
});

after(async () => {
  await net?.close();
});

function address(i: number): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`history buckets ${i}`));
}

test('an epoch with more buckets than its share stays unfinished until every bucket was read; then all its mail is read', async () => {
  // A small budget: the snapshot of a quiet test network has few buckets (a busy one has many more).
  const pir = { ...DEFAULT_NETWORK_PARAMETERS.pir, queriesPerPoll: 12 };
  const share = firstRoundQueries(pir.queriesPerPoll); // one epoch polled: the whole first round is its share
  // Mail under addresses in more distinct buckets than the share, in epoch 0.
  const channel = new RequestChannel({ target: { url: a.wsUrl, linkKey: a.linkKey }, name: a.name, timeoutMs: 5000, maxMessageBytes: 64 * 2 ** 20, decode: decodePirResponse });
  const { buckets } = await info(channel, 0);
  channel.close();
  const byBucket = new Map<number, Uint8Array>();
  for (let i = 0; byBucket.size < share + 4 && i < 10_000; i++) {
    const bucket = bucketOf(address(i), 0, buckets);
    if (!byBucket.has(bucket)) byBucket.set(bucket, address(i));
  }
  assert.ok(byBucket.size > share, `${byBucket.size} buckets against a share of ${share}`);
  const addresses = [...byBucket.values()];
  for (const [i, target] of addresses.entries()) {
    const item = new Uint8Array(200);
    item[0] = 0x01;
    item.set(crypto.blake2b(64, new TextEncoder().encode(`mail ${i}`)), 1);
    await a.store.deliver(target, 0, item, net.clock.now());
  }
  net.clock.advance(600); // past the snapshot refresh: the next pir-info names a snapshot with all of it

  const retrieval = new PirRetrieval({
    crypto,
    provider: findNode(doc, a.nodeId)!,
    partner: findNode(doc, b.nodeId)!,
    timeoutMs: 5000,
    pir,
  });
  try {
    const pairs = addresses.map((target) => [0, target] as const);
    const read = new Set<number>();
    const first = await retrieval.fetch(pairs);
    first.results.forEach((items, i) => items.length > 0 && read.add(i));
    assert.ok(read.size < addresses.length, 'one poll reads at most its share of buckets');
    assert.deepEqual(first.unfinished, [0], 'buckets not read yet: the epoch is unfinished');
    let polls = 1;
    let last = first;
    while ((last.unfinished ?? []).length > 0 && polls < 10) {
      last = await retrieval.fetch(pairs);
      last.results.forEach((items, i) => items.length > 0 && read.add(i));
      polls++;
    }
    assert.deepEqual(last.unfinished, [], `read whole after ${polls} polls`);
    assert.equal(read.size, addresses.length, 'every address\'s mail was read by then');
  } finally {
    retrieval.close();
  }
});
