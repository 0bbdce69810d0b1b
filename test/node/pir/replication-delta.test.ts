/**
 * Incremental replication of PIR snapshots between two real providers (docs/pir.md, "Snapshot
 * lifecycle (provider)"): the first snapshot of an epoch goes whole, a later one with a few more
 * mails as a delta from it, far smaller, and the partner's answers over it are right; a delta the
 * partner refuses is followed by the snapshot whole; the partner refuses deltas from a base it
 * does not hold, from another origin's snapshot, or more than half their snapshot.
 */
import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RequestChannel, type WebSocketConnector } from '../../../src/net/request-channel.js';
import { connectWebSocket } from '../../../src/net/websocket.js';
import type { ProviderHandle } from '../../../src/node/provider/index.js';
import { openRow, type OpenedRow } from '../../../src/pir/snapshot.js';
import { rowOfPage } from '../../../src/pir/snapshot-pages.js';
import { pirDecode, pirQuery } from '../../../src/pir/index.js';
import { bucketOf } from '../../../src/store/mailbox.js';
import { decodePirResponse, encodePirDelta, encodePirQuery, pirOfferSignedBytes, type PirResponse, type PirSnapshotInfo } from '../../../src/wire/pir-messages.js';
import { RETRIEVAL_ERRORS } from '../../../src/wire/retrieval-errors.js';
import { crypto, TestNetwork } from './support.js';
import { interceptedConnection } from '../../support/intercepted-connection.js';
import { info, refusal } from './requests.js';

const GENESIS = 1_910_000_000_000;
const REFRESH_MS = 500;
let net: TestNetwork;
let a: ProviderHandle;
let b: ProviderHandle;
const links: RequestChannel<PirResponse>[] = [];

/** Flips the last byte of the first pir-chunk of the next delta A sends to B (set by a test). */
let tamperNextDelta = false;
const deltaIds = new Set<string>();

/** Makes every pir-delta A sends an unknown request, as to a partner of a version before deltas (set by a test). */
let olderPartner = false;
let deltaOffers = 0;

function tamperOutgoing(bytes: Uint8Array): Uint8Array {
  if (bytes[0] === 0x07) deltaOffers++;
  if (bytes[0] === 0x07 && olderPartner) return Uint8Array.of(0x7f, ...bytes.subarray(1));
  if (!tamperNextDelta) return bytes;
  if (bytes[0] === 0x07) deltaIds.add(Buffer.from(bytes.subarray(13, 45)).toString('hex'));
  if (bytes[0] !== 0x06 || !deltaIds.has(Buffer.from(bytes.subarray(5, 37)).toString('hex'))) return bytes;
  tamperNextDelta = false;
  const out = bytes.slice();
  out[out.length - 1] ^= 1;
  return out;
}

/** The replication link's connector: what A sends to B goes through tamperOutgoing. */
const partnerConnect: WebSocketConnector = async (target, options) => {
  const conn = await connectWebSocket(target, options);
  if (target.url !== b?.wsUrl) return conn;
  return interceptedConnection(conn, { outgoing: tamperOutgoing });
};

function link(provider: ProviderHandle): RequestChannel<PirResponse> {
  const made = new RequestChannel({ target: { url: provider.wsUrl, linkKey: provider.linkKey }, name: provider.name, timeoutMs: 10_000, maxMessageBytes: 1 << 20, decode: decodePirResponse });
  links.push(made);
  return made;
}

function address(user: number): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`pir delta test user ${user}`));
}

function stored(label: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let at = 0; at < length; at += 64) out.set(crypto.blake2b(64, new TextEncoder().encode(`${label} ${at}`)).subarray(0, Math.min(64, length - at)), at);
  out[0] = 0x01;
  return out;
}


let readers: RequestChannel<PirResponse>[] | undefined;

/** One row by PIR (key 0 to A, key 1 to B), checked against the snapshot id. */
async function readRow(snapshot: PirSnapshotInfo, index: number): Promise<OpenedRow> {
  const { keys } = pirQuery(crypto, (n) => crypto.randomBytes(n), index, snapshot.rows);
  readers ??= [link(a), link(b)];
  const answers = await Promise.all(readers.map(async (l, i) => {
    const response = await l.request((id) => encodePirQuery(id, snapshot.snapshotId, keys[i]));
    assert.equal(response.type, 'pir-answer');
    return (response as { answer: Uint8Array }).answer;
  }));
  return openRow(crypto, a.nodeId, snapshot, index, pirDecode(answers[0], answers[1]));
}

/** The ciphertexts (hex) stored under `target` in the snapshot, read by PIR from both providers. */
async function readMail(snapshot: PirSnapshotInfo, target: Uint8Array): Promise<string[]> {
  const first = await readRow(snapshot, bucketOf(target, snapshot.epoch, snapshot.buckets));
  const items = [...first.items];
  for (let page = 1; page < first.pages; page++) items.push(...(await readRow(snapshot, rowOfPage(first.extra, first.pages, page)!)).items);
  return items.filter((item) => Buffer.from(item.address).equals(target)).map((item) => Buffer.from(item.ciphertext).toString('hex')).sort();
}

const mail = new Map<number, string[]>();

async function deliver(user: number, label: string, length: number): Promise<void> {
  const ciphertext = stored(label, length);
  await a.store.deliver(address(user), 0, ciphertext, net.clock.now());
  mail.set(user, [...(mail.get(user) ?? []), Buffer.from(ciphertext).toString('hex')].sort());
}

/** Advances past the refresh interval until pir-info names a snapshot other than `previous`. */
async function nextSnapshot(previous: PirSnapshotInfo): Promise<PirSnapshotInfo> {
  const toA = readers?.[0] ?? link(a);
  net.clock.advance(REFRESH_MS);
  let named = previous;
  await net.until('the refreshed snapshot to be named', async () => {
    named = await info(toA, 0);
    return !Buffer.from(named.snapshotId).equals(previous.snapshotId);
  }, 60_000);
  return named;
}

const sent = (kind: string) => a.metrics.registry.value('node_pir_replicated_bytes_total', { kind }) ?? 0;
const pushes = (kind: string) => a.metrics.registry.value('node_pir_replications_sent_total', { kind }) ?? 0;
const received = (result: string) => b.metrics.registry.value('node_pir_received_total', { result }) ?? 0;

before(async () => {
  net = await TestNetwork.start({ label: 'pirdelta', retrieval: 'pir', genesisMs: GENESIS, pir: { refreshMs: REFRESH_MS, partnerConnect } });
  [a, b] = net.providers;
  // 1 000 mails of 1 500 … 2 499 bytes to 500 addresses.
  for (let i = 0; i < 1000; i++) await deliver(i % 500, `mail ${i}`, 1500 + ((i * 7919) % 1000));
});

after(async () => {
  for (const l of links) l.close();
  await net?.close();
});

describe('incremental PIR replication at two real providers', () => {
  test('a snapshot of 1 000 mails goes whole; the next, with 10 mails more, as a delta of a small fraction of it; the partner answers right', async (t) => {
    const toA = link(a);
    const first = await info(toA, 0);
    const whole = first.rows * first.rowBytes;
    assert.equal(sent('whole'), whole, 'the first snapshot of the epoch goes whole');
    assert.equal(sent('delta'), 0);
    // Ten more: five to addresses that have mail, five to new ones.
    for (let i = 0; i < 10; i++) await deliver(i < 5 ? i * 37 : 1000 + i, `late mail ${i}`, 2000 + i);
    const second = await nextSnapshot(first);
    assert.equal(pushes('delta'), 1, 'sent as a delta');
    assert.equal(sent('whole'), whole, 'nothing more sent whole');
    const delta = sent('delta');
    assert.equal(b.metrics.registry.value('node_pir_received_bytes_total', { kind: 'delta' }), delta);
    assert.ok(delta > 10 * 2000 && delta * 100 < second.rows * second.rowBytes, `${delta} bytes of delta for ${second.rows * second.rowBytes} bytes of snapshot`);
    t.diagnostic(`whole ${whole} bytes (${first.rows} rows), delta ${delta} bytes (${second.rows} rows): ${((100 * delta) / (second.rows * second.rowBytes)).toFixed(2)} %`);
    // Both servers answer over the new id (each row checked against it): every late mail and a sample of the others.
    for (const user of [0, 37, 74, 111, 148, 1005, 1006, 1007, 1008, 1009, 1, 250, 499]) assert.deepEqual(await readMail(second, address(user)), mail.get(user), `user ${user}`);
  });

  test('a delta the partner refuses (a byte changed on the way) is followed by the snapshot whole', async () => {
    const toA = link(a);
    const before = await info(toA, 0);
    const [wholeBefore, refusedBefore, badBefore] = [sent('whole'), a.metrics.registry.value('node_pir_delta_fallbacks_total', { reason: 'refused' }) ?? 0, received('bad-data') + received('bad-delta')];
    for (let i = 0; i < 3; i++) await deliver(2000 + i, `refused delta ${i}`, 1800);
    tamperNextDelta = true;
    const after = await nextSnapshot(before);
    assert.equal(tamperNextDelta, false, 'a delta was sent and changed');
    assert.equal(received('bad-data') + received('bad-delta'), badBefore + 1, 'the partner refused it');
    assert.equal(a.metrics.registry.value('node_pir_delta_fallbacks_total', { reason: 'refused' }), refusedBefore + 1);
    assert.equal(sent('whole'), wholeBefore + after.rows * after.rowBytes, 'then sent whole');
    for (const user of [2000, 2001, 2002, 3]) assert.deepEqual(await readMail(after, address(user)), mail.get(user), `user ${user}`);
    // The next one goes as a delta again, from the snapshot sent whole.
    const deltas = pushes('delta');
    await deliver(2003, 'after the refusal', 1700);
    const next = await nextSnapshot(after);
    assert.equal(pushes('delta'), deltas + 1);
    assert.deepEqual(await readMail(next, address(2003)), mail.get(2003));
  });

  test('the partner refuses a delta from a base it does not hold, from another origin\'s snapshot, or more than half its snapshot', async () => {
    const toB = link(b);
    const current = await info(link(a), 0);
    const ownOfB = await info(toB, 0); // B's own snapshot of the epoch (its origin is B)
    const { epoch, rows, buckets, slots, slotBytes, rowBytes } = current;
    // A new snapshot id: B holds none with it, so the offer goes as far as the base.
    const shape = { epoch, snapshotId: crypto.randomBytes(32), rows, buckets, slots, slotBytes, rowBytes, origin: a.nodeId };
    const offer = { ...shape, signature: crypto.ed25519Sign(net.providerSeed(a.name), pirOfferSignedBytes(shape, b.nodeId)) };
    const noBase = received('no-base');
    assert.equal(await refusal(toB.request((id) => encodePirDelta(id, offer, crypto.randomBytes(32), 1000))), RETRIEVAL_ERRORS['unknown-snapshot']);
    assert.equal(received('no-base'), noBase + 1);
    const badDelta = received('bad-delta');
    assert.equal(await refusal(toB.request((id) => encodePirDelta(id, offer, ownOfB.snapshotId, 1000))), RETRIEVAL_ERRORS['bad-snapshot']);
    assert.equal(received('bad-delta'), badDelta + 1);
    assert.equal(await refusal(toB.request((id) => encodePirDelta(id, offer, current.snapshotId, Math.floor((rows * rowBytes) / 2) + 1))), RETRIEVAL_ERRORS['bad-snapshot']);
    // Every check of a whole offer holds for a delta: a signature by another key is refused.
    const forged = { ...offer, signature: crypto.ed25519Sign(crypto.randomBytes(32), pirOfferSignedBytes(shape, b.nodeId)) };
    assert.equal(await refusal(toB.request((id) => encodePirDelta(id, forged, current.snapshotId, 1000))), RETRIEVAL_ERRORS['bad-snapshot']);
    // The genuine base and a fitting length: accepted, the chunks would follow.
    const started = await toB.request((id) => encodePirDelta(id, offer, current.snapshotId, 1000));
    assert.deepEqual(started.type === 'pir-ack' && started.complete, false);
  });

  test('a partner of a version before deltas answers pir-delta unknown-command: the snapshot goes whole, and no more deltas are offered on that connection', async () => {
    const toA = readers?.[0] ?? link(a);
    let named = await info(toA, 0);
    olderPartner = true;
    const [offersBefore, refusedBefore, wholeBefore] = [deltaOffers, a.metrics.registry.value('node_pir_delta_fallbacks_total', { reason: 'refused' }) ?? 0, pushes('whole')];
    for (let round = 0; round < 2; round++) {
      await deliver(3000 + round, `to an older partner ${round}`, 1600);
      named = await nextSnapshot(named);
      assert.deepEqual(await readMail(named, address(3000 + round)), mail.get(3000 + round));
    }
    assert.equal(deltaOffers, offersBefore + 1, 'one delta offered, none after the unknown-command');
    assert.equal(a.metrics.registry.value('node_pir_delta_fallbacks_total', { reason: 'refused' }), refusedBefore + 1);
    assert.equal(pushes('whole'), wholeBefore + 2);
  });
});
