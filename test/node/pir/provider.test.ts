/**
 * PIR retrieval at the providers, over real WebSockets: two real providers in a whole network on a
 * fake clock. The delivering provider builds a snapshot, replicates it to its partner, both answer
 * DPF queries over the same snapshot id, and the decoded row carries the mail. Malformed, oversized
 * and misdirected requests get their typed errors; forged replication is refused; a server that
 * flips a bit of its answer is caught by the client's check.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PirRetrieval } from '../../../src/client/pir-retrieval.js';
import { fetchCurrentConsensus } from '../../../src/net/authority-client.js';
import { RequestChannel, RequestRefusal } from '../../../src/net/request-channel.js';
import { connectWebSocket } from '../../../src/net/websocket.js';
import type { ProviderHandle } from '../../../src/node/provider/index.js';
import { buildSnapshot, openRow, type OpenedRow } from '../../../src/pir/snapshot.js';
import { rowOfPage } from '../../../src/pir/snapshot-pages.js';
import {
  decodePirResponse,
  encodePirChunk,
  encodePirInfo,
  encodePirOffer,
  encodePirQuery,
  pirOfferSignedBytes,
  type PirResponse,
  type PirSnapshotInfo,
} from '../../../src/wire/pir-messages.js';
import { encodeFetchBucket } from '../../../src/wire/retrieval.js';
import { RETRIEVAL_ERRORS } from '../../../src/wire/retrieval-errors.js';
import { DEFAULT_NETWORK_PARAMETERS, epochAt, findNode, type ConsensusDocument, type NodeDescriptor } from '../../../src/pki/index.js';
import { dpfGen, dpfKeyLength, MAX_KEY_BYTES, pirDecode, pirQuery } from '../../../src/pir/index.js';
import { bucketOf } from '../../../src/store/mailbox.js';
import { crypto, EPOCH_MS, flipAnswerBit, tamperingConnector, TestNetwork } from './support.js';
import { info, refusal } from './requests.js';

const GENESIS = 1_900_000_000_000;
const REFRESH_MS = 500;
let net: TestNetwork;
let a: ProviderHandle;
let b: ProviderHandle;
let doc: ConsensusDocument;
const links: RequestChannel<PirResponse>[] = [];

function link(provider: ProviderHandle): RequestChannel<PirResponse> {
  const made = new RequestChannel({ target: { url: provider.wsUrl, linkKey: provider.linkKey }, name: provider.name, timeoutMs: 5000, maxMessageBytes: 64 * 2 ** 20, decode: decodePirResponse });
  links.push(made);
  return made;
}

function address(label: string): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`pir provider test ${label}`));
}

function stored(label: string): Uint8Array {
  const out = new Uint8Array(200);
  out.set(crypto.blake2b(64, new TextEncoder().encode(label)), 1);
  out[0] = 0x01;
  return out;
}


/** One row by PIR: key 0 to the own provider, key 1 to the partner; the XOR, checked. */
async function readRow(toA: RequestChannel<PirResponse>, toB: RequestChannel<PirResponse>, snapshot: PirSnapshotInfo, index: number): Promise<OpenedRow> {
  const { keys } = pirQuery(crypto, (n) => crypto.randomBytes(n), index, snapshot.rows);
  const [fromA, fromB] = await Promise.all([toA, toB].map((l, i) => l.request((id) => encodePirQuery(id, snapshot.snapshotId, keys[i]))));
  assert.equal(fromA.type, 'pir-answer');
  assert.equal(fromB.type, 'pir-answer');
  const answers = [fromA, fromB].map((r) => (r as { answer: Uint8Array }).answer);
  assert.equal(answers[0].length, snapshot.rowBytes, 'every answer is one row of the consensus\'s size');
  assert.notDeepEqual(answers[0], answers[1]);
  return openRow(crypto, a.nodeId, snapshot, index, pirDecode(answers[0], answers[1]));
}

/** Every item of an address's bucket: its first page, then the extra pages the first page names. */
async function readBucket(toA: RequestChannel<PirResponse>, toB: RequestChannel<PirResponse>, snapshot: PirSnapshotInfo, target: Uint8Array) {
  const first = await readRow(toA, toB, snapshot, bucketOf(target, snapshot.epoch, snapshot.buckets));
  const items = [...first.items];
  for (let page = 1; page < first.pages; page++) {
    const row = rowOfPage(first.extra, first.pages, page);
    assert.ok(row !== undefined, 'every page is in the snapshot');
    const opened = await readRow(toA, toB, snapshot, row);
    assert.equal(opened.page, page);
    items.push(...opened.items);
  }
  return items;
}

function descriptor(provider: ProviderHandle): NodeDescriptor {
  return findNode(doc, provider.nodeId)!;
}

const delivered = new Map<string, Uint8Array>();

before(async () => {
  net = await TestNetwork.start({ label: 'pirprov', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: REFRESH_MS } });
  [a, b] = net.providers;
  doc = await fetchCurrentConsensus(crypto, { url: net.authority.url, publicKeys: [net.authorityKey] }, net.clock.now());
  for (let i = 0; i < 12; i++) {
    const label = `user ${i % 5} mail ${i}`;
    const ciphertext = stored(label);
    delivered.set(label, ciphertext);
    await a.store.deliver(address(`user ${i % 5}`), 0, ciphertext, net.clock.now());
  }
});

after(async () => {
  for (const l of links) l.close();
  await net?.close();
});

describe('PIR at two real providers', () => {
  test('pir-info builds and replicates a snapshot; both servers answer over the same id; the XOR is the row', async () => {
    const toA = link(a);
    const toB = link(b);
    const snapshot = await info(toA, 0);
    assert.ok(snapshot.rows >= 16);
    assert.equal(a.pirStatus().built, 1);
    assert.equal(a.pirStatus().replicated, 1, 'pushed to the partner before the answer');
    assert.equal(b.pirStatus().received, 1);
    assert.equal(b.pirStatus().partner, 1);
    assert.ok(a.metrics.value('node_retrieval_requests_total', { type: 'pir-info' }) >= 1);
    assert.ok(b.metrics.value('node_retrieval_requests_total', { type: 'pir-offer' }) >= 1);
    // Asking again within the refresh interval gives the same snapshot, pushed once.
    assert.deepEqual((await info(toA, 0)).snapshotId, snapshot.snapshotId);
    assert.equal(a.pirStatus().replicated, 1);

    for (let user = 0; user < 5; user++) {
      const items = await readBucket(toA, toB, snapshot, address(`user ${user}`));
      const mine = items.filter((item) => Buffer.from(item.address).equals(address(`user ${user}`)));
      const expected = [...delivered].filter(([label]) => label.startsWith(`user ${user} `)).map(([, c]) => Buffer.from(c).toString('hex'));
      assert.deepEqual(mine.map((item) => Buffer.from(item.ciphertext).toString('hex')).sort(), expected.sort());
    }
  });

  test('a new delivery makes a new snapshot after the refresh interval; the old one stays answerable', async () => {
    const toA = link(a);
    const first = await info(toA, 0);
    await a.store.deliver(address('late'), 0, stored('late mail'), net.clock.now());
    assert.deepEqual((await info(toA, 0)).snapshotId, first.snapshotId, 'within the refresh interval');
    net.clock.advance(REFRESH_MS);
    // pir-info answers from what the partner already holds: the first answer after the interval is
    // still the old snapshot (so its timing does not show the new mail); the refresh runs behind it.
    let second = await info(toA, 0);
    assert.deepEqual(second.snapshotId, first.snapshotId, 'served from the replicated snapshot');
    await net.until('the refreshed snapshot to be served', async () => {
      second = await info(toA, 0);
      return !Buffer.from(second.snapshotId).equals(first.snapshotId);
    });
    assert.equal(b.pirStatus().received, 2);
    const toB = link(b);
    const items = await readBucket(toA, toB, second, address('late'));
    assert.ok(items.some((item) => Buffer.from(item.ciphertext).equals(stored('late mail'))));
    // The previous snapshot is still held by both.
    const old = pirQuery(crypto, (n) => crypto.randomBytes(n), 0, first.rows);
    assert.equal((await toB.request((id) => encodePirQuery(id, first.snapshotId, old.keys[1]))).type, 'pir-answer');
    // An unchanged store makes no new snapshot, even after the interval.
    net.clock.advance(REFRESH_MS);
    assert.deepEqual((await info(toA, 0)).snapshotId, second.snapshotId);
  });

  test('typed errors: unknown snapshot, malformed key, key for another size, oversized key, bad requests', async () => {
    const toA = link(a);
    const snapshot = await info(toA, 0);
    const errors = (code: string) => a.metrics.value('node_retrieval_errors_total', { code });
    const before = errors('bad-key');
    const good = pirQuery(crypto, (n) => crypto.randomBytes(n), 0, snapshot.rows).keys[0];
    assert.equal(await refusal(toA.request((id) => encodePirQuery(id, crypto.randomBytes(32), good))), RETRIEVAL_ERRORS['unknown-snapshot']);
    const garbage = crypto.randomBytes(dpfKeyLength(snapshot.rows));
    assert.equal(await refusal(toA.request((id) => encodePirQuery(id, snapshot.snapshotId, garbage))), RETRIEVAL_ERRORS['bad-key']);
    const otherSize = dpfGen(crypto, (n) => crypto.randomBytes(n), 3, snapshot.rows * 4)[0];
    assert.equal(await refusal(toA.request((id) => encodePirQuery(id, snapshot.snapshotId, otherSize))), RETRIEVAL_ERRORS['bad-key']);
    assert.equal(await refusal(toA.request((id) => encodePirQuery(id, snapshot.snapshotId, new Uint8Array(MAX_KEY_BYTES + 1)))), RETRIEVAL_ERRORS['key-too-large']);
    assert.equal(await refusal(toA.request((id) => encodePirQuery(id, snapshot.snapshotId, new Uint8Array(20)))), RETRIEVAL_ERRORS['bad-key']);
    assert.equal(await refusal(toA.request((id) => encodePirInfo(id, 0).subarray(0, 12))), RETRIEVAL_ERRORS.malformed);
    assert.equal(await refusal(toA.request((id) => encodePirInfo(id, 99))), RETRIEVAL_ERRORS['epoch-not-held']);
    assert.equal(errors('bad-key'), before + 3);
    assert.ok(errors('unknown-snapshot') >= 1 && errors('key-too-large') >= 1);
    // The connection survives every refusal.
    assert.equal((await toA.request((id) => encodePirQuery(id, snapshot.snapshotId, good))).type, 'pir-answer');
    // A request beyond the largest message still closes the WebSocket (1009).
    const raw = await connectWebSocket({ url: a.wsUrl, linkKey: a.linkKey }, { maxMessageBytes: 1024 });
    const closed = new Promise<number>((resolve) => raw.onClose(resolve));
    raw.send(new Uint8Array(64 * 1024 + 1));
    assert.equal(await closed, 1009);
  });

  test('replication is refused unless offered by the partner, signed, and hashing to the id', async () => {
    const toB = link(b);
    const received = (result: string) => b.metrics.registry.value('node_pir_received_total', { result });
    const snapshot = buildSnapshot({ crypto, origin: a.nodeId, epoch: 0, items: [{ address: address('forged'), ciphertext: stored('forged') }], capacity: 2637, rowBytes: DEFAULT_NETWORK_PARAMETERS.pir.rowBytes, sequence: 99 });
    const shape = { epoch: 0, snapshotId: snapshot.snapshotId, rows: snapshot.rows, buckets: snapshot.buckets, slots: snapshot.slots, slotBytes: snapshot.slotBytes, rowBytes: snapshot.rowBytes };
    // A stranger's offer (not a provider of the consensus).
    const strangerSeed = crypto.randomBytes(32);
    const stranger = crypto.ed25519PublicKey(strangerSeed);
    const strangerOffer = { ...shape, origin: stranger, signature: crypto.ed25519Sign(strangerSeed, pirOfferSignedBytes({ ...shape, origin: stranger }, b.nodeId)) };
    assert.equal(await refusal(toB.request((id) => encodePirOffer(id, strangerOffer))), RETRIEVAL_ERRORS['bad-snapshot']);
    assert.equal(received('not-partner'), 1);
    // The partner's identity with a signature that does not verify.
    const forgedOffer = { ...shape, origin: a.nodeId, signature: crypto.ed25519Sign(strangerSeed, pirOfferSignedBytes({ ...shape, origin: a.nodeId }, b.nodeId)) };
    assert.equal(await refusal(toB.request((id) => encodePirOffer(id, forgedOffer))), RETRIEVAL_ERRORS['bad-snapshot']);
    assert.equal(received('bad-signature'), 1);
    // A chunk nobody offered.
    assert.equal(await refusal(toB.request((id) => encodePirChunk(id, crypto.randomBytes(32), 0, Uint8Array.of(1)))), RETRIEVAL_ERRORS['unknown-snapshot']);
    // A genuine offer (signed with A's key) whose data was altered on the way: refused at the end.
    const seed = net.providerSeed(a.name);
    const genuine = { ...shape, origin: a.nodeId, signature: crypto.ed25519Sign(seed, pirOfferSignedBytes({ ...shape, origin: a.nodeId }, b.nodeId)) };
    const ack = await toB.request((id) => encodePirOffer(id, genuine));
    assert.deepEqual(ack.type === 'pir-ack' && ack.complete, false);
    const data = snapshot.data.slice();
    data[100] ^= 1;
    const chunks: Promise<unknown>[] = [];
    for (let offset = 0; offset < data.length; offset += 60 * 1024) {
      chunks.push(toB.request((id) => encodePirChunk(id, snapshot.snapshotId, offset, data.subarray(offset, Math.min(data.length, offset + 60 * 1024)))).catch((e: unknown) => e));
    }
    const results = await Promise.all(chunks);
    const last = results[results.length - 1];
    assert.ok(last instanceof RequestRefusal && last.code === RETRIEVAL_ERRORS['bad-snapshot'], String(last));
    assert.equal(received('bad-data'), 1);
    const probe = pirQuery(crypto, (n) => crypto.randomBytes(n), 0, snapshot.rows).keys[1];
    assert.equal(await refusal(toB.request((id) => encodePirQuery(id, snapshot.snapshotId, probe))), RETRIEVAL_ERRORS['unknown-snapshot'], 'never served');
  });

  // Without the binding (an offer replayed on any connection restarting the transfer, a chunk from
  // any connection feeding or aborting it) the replay below is acknowledged and the owner's next
  // chunk is refused out of order.
  test('a replayed offer and chunks from another connection leave the transfer alone; its owner completes it', async () => {
    const owner = link(b);
    const replayer = link(b);
    const received = (result: string) => b.metrics.registry.value('node_pir_received_total', { result }) ?? 0;
    const items = Array.from({ length: 6 }, (_, i) => ({ address: address(`bound ${i}`), ciphertext: stored(`bound ${i}`) }));
    const snapshot = buildSnapshot({ crypto, origin: a.nodeId, epoch: 0, items, capacity: 2637, rowBytes: DEFAULT_NETWORK_PARAMETERS.pir.rowBytes, sequence: 100 });
    const shape = { epoch: 0, snapshotId: snapshot.snapshotId, rows: snapshot.rows, buckets: snapshot.buckets, slots: snapshot.slots, slotBytes: snapshot.slotBytes, rowBytes: snapshot.rowBytes };
    const offer = { ...shape, origin: a.nodeId, signature: crypto.ed25519Sign(net.providerSeed(a.name), pirOfferSignedBytes({ ...shape, origin: a.nodeId }, b.nodeId)) };
    const size = 16 * 1024;
    const chunk = (l: RequestChannel<PirResponse>, offset: number) =>
      l.request((id) => encodePirChunk(id, snapshot.snapshotId, offset, snapshot.data.subarray(offset, Math.min(snapshot.data.length, offset + size))));
    assert.ok(snapshot.data.length > 2 * size, 'several chunks');
    const okBefore = received('ok');

    const started = await owner.request((id) => encodePirOffer(id, offer));
    assert.deepEqual(started.type === 'pir-ack' && started.complete, false);
    await chunk(owner, 0);
    // The same signed offer replayed on another connection: refused, the transfer goes on.
    assert.equal(await refusal(replayer.request((id) => encodePirOffer(id, offer))), RETRIEVAL_ERRORS.busy);
    // The next chunk (right offset, right bytes) and a wrong one from the other connection: refused, nothing changes.
    assert.equal(await refusal(chunk(replayer, size)), RETRIEVAL_ERRORS['unknown-snapshot']);
    assert.equal(await refusal(replayer.request((id) => encodePirChunk(id, snapshot.snapshotId, 0, Uint8Array.of(1)))), RETRIEVAL_ERRORS['unknown-snapshot']);
    assert.equal(received('other-connection'), 3);
    let last: PirResponse | undefined;
    for (let offset = size; offset < snapshot.data.length; offset += size) last = await chunk(owner, offset);
    assert.deepEqual(last?.type === 'pir-ack' && last.complete, true, 'the owner completes the transfer');
    assert.equal(received('ok'), okBefore + 1);

    // Replayed once held: acknowledged as complete, nothing restarts, the snapshot is served.
    const replayed = await replayer.request((id) => encodePirOffer(id, offer));
    assert.deepEqual(replayed.type === 'pir-ack' && replayed.complete, true);
    const probe = pirQuery(crypto, (n) => crypto.randomBytes(n), 0, snapshot.rows).keys[1];
    const answered = await replayer.request((id) => encodePirQuery(id, snapshot.snapshotId, probe));
    assert.equal(answered.type, 'pir-answer');
  });

  test('a transfer whose connection closes is dropped; the origin starts it over on a new one', async () => {
    const first = link(b);
    const items = [{ address: address('dropped'), ciphertext: stored('dropped') }];
    const snapshot = buildSnapshot({ crypto, origin: a.nodeId, epoch: 0, items, capacity: 2637, rowBytes: DEFAULT_NETWORK_PARAMETERS.pir.rowBytes, sequence: 101 });
    const shape = { epoch: 0, snapshotId: snapshot.snapshotId, rows: snapshot.rows, buckets: snapshot.buckets, slots: snapshot.slots, slotBytes: snapshot.slotBytes, rowBytes: snapshot.rowBytes };
    const offer = { ...shape, origin: a.nodeId, signature: crypto.ed25519Sign(net.providerSeed(a.name), pirOfferSignedBytes({ ...shape, origin: a.nodeId }, b.nodeId)) };
    await first.request((id) => encodePirOffer(id, offer));
    first.close();
    const second = link(b);
    // Until the server has seen the close the offer is still bound to the first connection.
    await net.until('the closed connection to be forgotten', async () => {
      const response = await second.request((id) => encodePirOffer(id, offer)).catch((error: unknown) => error);
      return !(response instanceof RequestRefusal);
    });
    let done: PirResponse | undefined;
    for (let offset = 0; offset < snapshot.data.length; offset += 16 * 1024) {
      const bytes = snapshot.data.subarray(offset, Math.min(snapshot.data.length, offset + 16 * 1024));
      done = await second.request((id) => encodePirChunk(id, snapshot.snapshotId, offset, bytes));
    }
    assert.deepEqual(done?.type === 'pir-ack' && done.complete, true);
  });

  test('a server flipping one bit of its answer is detected by the client: reported, nothing read', async () => {
    for (const [liar, offset] of [[b, 40], [b, 1 << 20], [a, 7]] as const) {
      let lying = true;
      const retrieval = new PirRetrieval({
        crypto,
        provider: descriptor(a),
        partner: descriptor(b),
        timeoutMs: 5000,
        pir: DEFAULT_NETWORK_PARAMETERS.pir,
        connect: tamperingConnector(() => liar.wsUrl, flipAnswerBit(offset, 3), () => lying),
      });
      try {
        const pairs = [0, 1, 2, 3].map((user) => [0, address(`user ${user}`)] as const);
        const bad = await retrieval.fetch(pairs);
        assert.equal(bad.queries, DEFAULT_NETWORK_PARAMETERS.pir.queriesPerPoll, 'the budget, every poll');
        // One query per distinct bucket of the pairs (two pairs in one bucket share it).
        const { buckets } = await info(link(a), 0);
        const distinct = new Set(pairs.map(([epoch, addr]) => bucketOf(addr, epoch, buckets))).size;
        assert.equal(bad.mismatches.length, distinct, `every row through ${liar.name} is refused`);
        assert.deepEqual(bad.results, [[], [], [], []]);
        assert.equal(bad.mismatches[0].provider, a.name);
        assert.equal(bad.mismatches[0].partner, b.name);
        lying = false;
        const good = await retrieval.fetch(pairs);
        assert.equal(good.mismatches.length, 0);
        for (let user = 0; user < 4; user++) {
          assert.ok(good.results[user].some((item) => Buffer.from(item.address).equals(address(`user ${user}`))));
        }
      } finally {
        retrieval.close();
      }
    }
  });

  // Before: the origin counted a snapshot as replicated for good, so once the partner had dropped a
  // past epoch's copy (nobody read it for its grace) the origin kept naming it and every query at
  // the partner was refused: a client catching up could read nothing of that epoch, ever.
  test('a past epoch read again after the partner dropped its copy: the origin offers it again before naming it (catch-up)', async () => {
    const toA = link(a);
    const toB = link(b);
    const past = epochAt(net.clock.now(), doc);
    await a.store.deliver(address('catch-up'), past, stored('read much later'), net.clock.now());
    net.clock.advance(REFRESH_MS);
    const holdsMail = async (snapshot: PirSnapshotInfo): Promise<boolean> =>
      (await readBucket(toA, toB, snapshot, address('catch-up'))).some((item) => Buffer.from(item.ciphertext).equals(stored('read much later')));
    let named = await info(toA, past);
    await net.until('a snapshot with the mail, read at both', async () => {
      net.clock.advance(REFRESH_MS);
      named = await info(toA, past);
      return holdsMail(named);
    });
    // Three epochs on, in steps of 5 s: a client keeps asking the origin about the past epoch (the
    // origin keeps it), mail keeps coming (the partner holds newer snapshots, and prunes), but
    // nobody queries the partner for the past epoch, so its grace there runs out.
    for (let elapsed = 0; elapsed < 3 * EPOCH_MS + 20_000; elapsed += 5000) {
      net.clock.advance(5000);
      const now = epochAt(net.clock.now(), doc);
      if (now > past) await a.store.deliver(address('now'), now, stored(`now ${net.clock.now()}`), net.clock.now());
      await info(toA, now);
      await info(toA, past);
    }
    const again = await info(toA, past);
    assert.deepEqual(again.snapshotId, named.snapshotId, 'the same snapshot: nothing new in a past epoch');
    assert.ok(await holdsMail(again), 'the partner answers for it again');
  });

  test('with the partner gone, pir-info still names the snapshot the partner holds (no refresh shows); an epoch with none is refused pir-unavailable; a bucket fetch in the clear stays refused pir-only', async () => {
    const toA = link(a);
    const held = await info(toA, 0);
    await a.store.deliver(address('after'), 0, stored('after partner left'), net.clock.now());
    net.clock.advance(REFRESH_MS);
    await b.close();
    assert.deepEqual((await info(toA, 0)).snapshotId, held.snapshotId, 'the replicated snapshot, not a new one');
    net.clock.advance(EPOCH_MS);
    assert.equal(await refusal(toA.request((id) => encodePirInfo(id, epochAt(net.clock.now(), doc)))), RETRIEVAL_ERRORS['pir-unavailable']);
    const raw = await connectWebSocket({ url: a.wsUrl, linkKey: a.linkKey }, { maxMessageBytes: 1 << 24 });
    const answer = new Promise<Uint8Array>((resolve) => raw.onMessage(resolve));
    raw.send(encodeFetchBucket(77, 0, 0, 1));
    const refused = await answer;
    assert.equal(refused[0], 0xe0);
    assert.equal((refused[5] << 8) | refused[6], RETRIEVAL_ERRORS['pir-only']);
    raw.close();
  });
});
