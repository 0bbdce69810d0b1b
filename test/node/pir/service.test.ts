/**
 * The provider's PIR service on its own (src/node/provider/pir-service.ts): two services, the
 * partner behind a real WebSocket listener, an in-memory store and a fake clock. Overflowing items
 * come in later snapshots (none is dropped, the row says how many there are); a failing store
 * answers every waiting request with its own id; no partner means pir-unavailable.
 */
import * as assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { getCrypto } from '../../../src/crypto/index.js';
import { NetMetrics } from '../../../src/net/metrics.js';
import { listenWebSocket, type WebSocketListener } from '../../../src/net/websocket.js';
import { decodePirRequest, decodePirResponse, encodePirInfo, encodePirQuery, type PirSnapshotInfo } from '../../../src/wire/pir-messages.js';
import { defaultMaxSnapshotBytes, PirService, type PirServiceDeps } from '../../../src/node/provider/pir-service.js';
import { openRow } from '../../../src/pir/snapshot.js';
import { encodeErrorResponse, RETRIEVAL_ERRORS, RetrievalRequestError } from '../../../src/wire/retrieval-errors.js';
import { NodeMetrics } from '../../../src/node/runtime/metrics.js';
import { DEFAULT_NETWORK_PARAMETERS, type ConsensusDocument } from '../../../src/pki/index.js';
import { jsScanKernel, pirDecode, pirQuery } from '../../../src/pir/index.js';
import { StoreError } from '../../../src/store/errors.js';
import type { MailboxStore, StoredMessage } from '../../../src/store/mailbox.js';
import { bucketOf } from '../../../src/store/mailbox.js';
import { FakeClock } from '../authority/fake-clock.js';
import { ensureScanKernel } from '../../../src/codec/pir-scan/build-kernel.js';
import { loadWasmScanKernel } from '../../../src/codec/pir-scan/wasm-kernel.js';

const crypto = getCrypto('sodium');
const timing = { genesisMs: 1_000_000, epochMs: 60_000 };
const clock = new FakeClock(timing.genesisMs + 1000);
const listeners: WebSocketListener[] = [];

class MemoryStore implements MailboxStore {
  readonly maxCiphertextBytes = 4096;
  readonly messages: (StoredMessage & { epoch: number })[] = [];
  failing = false;
  fetches = 0;
  async deliver(address: Uint8Array, epoch: number, ciphertext: Uint8Array): Promise<void> {
    this.messages.push({ id: this.messages.length + 1, address, ciphertext, epoch });
  }
  async fetchBucket(): Promise<StoredMessage[]> {
    return [];
  }
  async fetchEpoch(epoch: number): Promise<StoredMessage[]> {
    this.fetches++;
    await new Promise((resolve) => setImmediate(resolve));
    if (this.failing) throw new StoreError('io', 'disk gone');
    return this.messages.filter((m) => m.epoch === epoch);
  }
  async deleteBefore(): Promise<number> {
    return 0;
  }
  async stats() {
    return { messages: this.messages.length, bytes: 0, epochs: 1 };
  }
  async close(): Promise<void> {}
}

/** Rows of 4 KiB: 10 slots of 336 bytes (capacity 300) a page. */
const ROW_BYTES = 4096;

function seed(label: string): Uint8Array {
  return crypto.blake2b(32, new TextEncoder().encode(`pir service test ${label}`));
}

function makeService(label: string, store: MailboxStore, doc: () => ConsensusDocument | undefined, options = {}, log: (line: string) => void = () => undefined): PirService {
  const identitySeed = seed(label);
  const deps: PirServiceDeps = {
    crypto, clock, timing, identitySeed, store,
    nodeId: crypto.ed25519PublicKey(identitySeed),
    capacity: 300,
    maxResponseBytes: 1 << 20,
    consensus: { held: () => (doc() === undefined ? [] : [doc()!]), active: doc },
    metrics: new NodeMetrics(new NetMetrics()),
    log,
    checkEpoch: () => undefined,
    storeFailed: (error) => (error instanceof StoreError && error.kind === 'io' ? 'store-io' : 'internal'),
    storeRecovered: () => undefined,
  };
  return new PirService(deps, { kernel: jsScanKernel, refreshMs: 1000, ...options });
}

/** A provider's link seed here (its TLS certificate on the client listener). */
const linkSeed = (label: string): Uint8Array => crypto.blake2b(32, new TextEncoder().encode(`pir service test ${label} link`));

/** The connection of requests served in process. */
const LOCAL = {};

/** Serves a PirService on a real WebSocket (TLS with `label`'s link key), as the provider does. */
async function serveOverWebSocket(service: PirService, label: string): Promise<string> {
  const listener = await listenWebSocket({
    seed: linkSeed(label),
    maxMessageBytes: 64 * 1024,
    onConnection: (conn) => {
      conn.onClose(() => service.connectionClosed(conn));
      conn.onMessage((bytes) => {
        let requestId = 0;
        Promise.resolve()
          .then(() => {
            const request = decodePirRequest(bytes);
            requestId = request.requestId;
            return service.serve(request, conn);
          })
          .then(
            (response) => conn.send(response),
            (error: unknown) => {
              if (error instanceof RetrievalRequestError) conn.send(encodeErrorResponse(error.requestId, RETRIEVAL_ERRORS[error.code], error.message));
              else conn.send(encodeErrorResponse(requestId, RETRIEVAL_ERRORS.internal, String(error)));
            },
          );
      });
    },
  });
  listeners.push(listener);
  return `127.0.0.1:${listener.port}`;
}

function provider(label: string, ws: string) {
  return { nodeId: crypto.ed25519PublicKey(seed(label)), name: label, family: `operator-${label}`, layer: 4, addresses: { link: 'x:1', ws }, linkPublicKey: crypto.ed25519PublicKey(linkSeed(label)) };
}

function docOf(...nodes: ReturnType<typeof provider>[]): ConsensusDocument {
  const sorted = [...nodes].sort((x, y) => Buffer.compare(x.nodeId, y.nodeId));
  return { epoch: 0, nodes: sorted, pir: { ...DEFAULT_NETWORK_PARAMETERS.pir, rowBytes: ROW_BYTES } } as unknown as ConsensusDocument;
}

async function info(service: PirService, requestId: number, epoch = 0): Promise<PirSnapshotInfo> {
  const response = decodePirResponse(await service.serve(decodePirRequest(encodePirInfo(requestId, epoch)), LOCAL));
  assert.equal(response.type, 'pir-info');
  return (response as { info: PirSnapshotInfo }).info;
}

async function answer(service: PirService, snapshotId: Uint8Array, key: Uint8Array): Promise<Uint8Array> {
  const response = decodePirResponse(await service.serve(decodePirRequest(encodePirQuery(1, snapshotId, key)), LOCAL));
  assert.equal(response.type, 'pir-answer');
  return (response as { answer: Uint8Array }).answer;
}

after(async () => {
  for (const listener of listeners) await listener.close();
});

describe('PIR service', () => {
  test('row limit: a flooded bucket turns its window of extra pages with each snapshot; the client sees them all; rows keep their size', async () => {
    const storeA = new MemoryStore();
    let doc: ConsensusDocument | undefined;
    // Room for the 16 first pages and one extra page.
    const a = makeService('a', storeA, () => doc, { maxSnapshotBytes: 17 * ROW_BYTES });
    const b = makeService('b', new MemoryStore(), () => doc);
    doc = docOf(provider('a', '127.0.0.1:1'), provider('b', await serveOverWebSocket(b, 'b')));
    const hot = crypto.blake2b(32, Uint8Array.of(7));
    const count = 45; // 10 slots a page: 5 pages, 4 of them extra
    for (let i = 0; i < count; i++) await storeA.deliver(hot, 0, Uint8Array.of(0x01, i, ...new Uint8Array(50)));
    await storeA.deliver(crypto.blake2b(32, Uint8Array.of(8)), 0, Uint8Array.of(0x01, 99));
    const seen = new Set<number>();
    const ids = new Set<string>();
    const origin = crypto.ed25519PublicKey(seed('a'));
    const read = async (snapshot: PirSnapshotInfo, index: number) => {
      const { keys } = pirQuery(crypto, (n) => crypto.randomBytes(n), index, snapshot.rows);
      const [x, y] = [await answer(a, snapshot.snapshotId, keys[0]), await answer(b, snapshot.snapshotId, keys[1])];
      assert.equal(x.length, ROW_BYTES, 'the answer is one row of the consensus\'s size');
      return openRow(crypto, origin, snapshot, index, pirDecode(x, y));
    };
    let snapshot = await info(a, 10);
    for (let round = 0; round < 4; round++) {
      ids.add(Buffer.from(snapshot.snapshotId).toString('hex'));
      assert.equal(snapshot.rows, 17);
      assert.equal(snapshot.rowBytes, ROW_BYTES);
      const first = await read(snapshot, bucketOf(hot, 0, snapshot.buckets));
      assert.equal(first.total, count, 'the first page says how many the bucket holds');
      assert.equal(first.extra.count, 1);
      for (const item of first.items) seen.add(item.ciphertext[1]);
      const extra = await read(snapshot, first.extra.row);
      assert.equal(extra.page, first.extra.first);
      for (const item of extra.items) seen.add(item.ciphertext[1]);
      clock.advance(1000); // the refresh interval: an epoch at its row limit is rebuilt even with no new mail
      const previous = snapshot.snapshotId;
      // pir-info names the replicated snapshot; the rebuild runs behind it and is named once replicated.
      for (let tries = 0; tries < 500 && Buffer.from(snapshot.snapshotId).equals(previous); tries++) {
        snapshot = await info(a, 20 + tries);
        if (Buffer.from(snapshot.snapshotId).equals(previous)) await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
    assert.equal(ids.size, 4, 'four snapshots');
    assert.deepEqual([...seen].sort((x, y) => x - y), Array.from({ length: count }, (_, i) => i), 'no item dropped');
    assert.ok(b.status().received >= 4);
    a.close();
    b.close();
  });

  test('concurrent pir-info requests share one build; a store failure answers each with its own id', async () => {
    const store = new MemoryStore();
    store.failing = true;
    const doc = docOf(provider('c', '127.0.0.1:1'), provider('d', '127.0.0.1:2'));
    const c = makeService('c', store, () => doc);
    const results = await Promise.allSettled([21, 22, 23].map((id) => c.serve(decodePirRequest(encodePirInfo(id, 0)), LOCAL)));
    assert.equal(store.fetches, 1, 'one read for all three');
    assert.deepEqual(
      results.map((r) => (r.status === 'rejected' && r.reason instanceof RetrievalRequestError ? [r.reason.code, r.reason.requestId] : r.status)),
      [['store-io', 21], ['store-io', 22], ['store-io', 23]],
    );
    c.close();
  });

  test('no partner in the consensus (a single provider, or none yet): pir-unavailable', async () => {
    const lonely = makeService('e', new MemoryStore(), () => docOf(provider('e', '127.0.0.1:1')));
    await assert.rejects(lonely.serve(decodePirRequest(encodePirInfo(31, 0)), LOCAL), (e: unknown) => e instanceof RetrievalRequestError && e.code === 'pir-unavailable' && e.requestId === 31);
    const early = makeService('f', new MemoryStore(), () => undefined);
    await assert.rejects(early.serve(decodePirRequest(encodePirInfo(32, 0)), LOCAL), (e: unknown) => e instanceof RetrievalRequestError && e.code === 'pir-unavailable');
    // Unreachable partner: refused too, and a later request tries again.
    const doc = docOf(provider('g', '127.0.0.1:1'), provider('h', '127.0.0.1:9'));
    const cut = makeService('g', new MemoryStore(), () => doc, { requestTimeoutMs: 500 });
    await assert.rejects(cut.serve(decodePirRequest(encodePirInfo(33, 0)), LOCAL), (e: unknown) => e instanceof RetrievalRequestError && e.code === 'pir-unavailable');
    await assert.rejects(cut.serve(decodePirRequest(encodePirInfo(34, 0)), LOCAL), (e: unknown) => e instanceof RetrievalRequestError && e.code === 'pir-unavailable' && e.requestId === 34);
    for (const s of [lonely, early, cut]) s.close();
  });

  test('replication to a partner whose TLS key is not the one its descriptor publishes is refused (LinkKeyMismatchError)', async () => {
    // The server at partner j's address is the impostor's: it presents its own link key, not j's.
    const impostor = makeService('impostor', new MemoryStore(), () => undefined);
    const doc = docOf(provider('i', '127.0.0.1:1'), provider('j', await serveOverWebSocket(impostor, 'impostor')));
    const lines: string[] = [];
    const origin = makeService('i', new MemoryStore(), () => doc, { requestTimeoutMs: 2000 }, (line) => lines.push(line));
    await assert.rejects(origin.serve(decodePirRequest(encodePirInfo(41, 0)), LOCAL), (e: unknown) => e instanceof RetrievalRequestError && e.code === 'pir-unavailable');
    assert.match(lines.join('\n'), /replication to j failed: .*presented link key .* but the consensus pins .*connection refused/);
    assert.equal(impostor.status().received, 0, 'nothing of the snapshot reached the impostor');
    // With j's own key at that address, the same push goes through.
    const honest = makeService('j', new MemoryStore(), () => doc);
    const docHonest = docOf(provider('i', '127.0.0.1:1'), provider('j', await serveOverWebSocket(honest, 'j')));
    const origin2 = makeService('i', new MemoryStore(), () => docHonest);
    assert.equal((await info(origin2, 42)).epoch, 0);
    assert.equal(honest.status().received, 1);
    for (const s of [impostor, origin, honest, origin2]) s.close();
  });
  test('concurrent pir-query requests share batched passes; each answer is what it is alone, a bad key fails alone', async () => {
    const storeK = new MemoryStore();
    const l = makeService('l', new MemoryStore(), () => doc);
    const doc: ConsensusDocument = docOf(provider('k', '127.0.0.1:1'), provider('l', await serveOverWebSocket(l, 'l')));
    // k scans with the WebAssembly kernel on two threads (shards of 8 rows), l with the JavaScript kernel.
    await ensureScanKernel();
    const k = makeService('k', storeK, () => doc, { kernel: loadWasmScanKernel(), scanThreads: 2, shardBytes: 8 * ROW_BYTES });
    for (let i = 0; i < 60; i++) await storeK.deliver(crypto.blake2b(32, Uint8Array.of(i)), 0, Uint8Array.of(0x01, i, ...new Uint8Array(40)));
    const snapshot = await info(k, 50);
    const origin = crypto.ed25519PublicKey(seed('k'));
    const indices = Array.from({ length: 40 }, (_, q) => (q * 7) % snapshot.rows);
    const queries = indices.map((index) => pirQuery(crypto, (n) => crypto.randomBytes(n), index, snapshot.rows));
    const bad = new Uint8Array(queries[0].keys[0].length); // version 0: malformed
    const ask = (service: PirService, id: number, key: Uint8Array) => service.serve(decodePirRequest(encodePirQuery(id, snapshot.snapshotId, key)), LOCAL);
    const [fromK, fromL, refused] = await Promise.all([
      Promise.all(queries.map((query, q) => ask(k, 100 + q, query.keys[0]))),
      Promise.all(queries.map((query, q) => ask(l, 200 + q, query.keys[1]))),
      ask(k, 300, bad).then(() => undefined, (error: unknown) => error),
    ]);
    assert.ok(refused instanceof RetrievalRequestError && refused.code === 'bad-key' && refused.requestId === 300);
    queries.forEach((_, q) => {
      const x = decodePirResponse(fromK[q]) as { requestId: number; answer: Uint8Array };
      const y = decodePirResponse(fromL[q]) as { requestId: number; answer: Uint8Array };
      assert.equal(x.requestId, 100 + q);
      // openRow checks the decoded row's Merkle path from row indices[q] to the snapshot id.
      const row = openRow(crypto, origin, snapshot, indices[q], pirDecode(x.answer, y.answer));
      if (indices[q] < snapshot.buckets) assert.equal(row.bucket, indices[q]);
    });
    assert.equal(k.status().answered, 40);
    // Under OFF_THREAD_MIN_BYTES: scanned on the event loop (test/node/pir/off-thread.test.ts covers the threads).
    assert.equal(k.status().threadedSnapshots, 0, 'a small snapshot starts no scan threads');
    assert.ok(k.status().passes < 40, `${k.status().passes} passes for 40 concurrent queries`);
    // Alone, a query gives the same bytes as in its batch.
    const again = decodePirResponse(await ask(k, 400, queries[3].keys[0])) as { answer: Uint8Array };
    assert.deepEqual(again.answer, (decodePirResponse(fromK[3]) as { answer: Uint8Array }).answer);
    k.close();
    l.close();
  });
  test('the default snapshot limit follows the memory: 3/4 of it over 6 x keep + 2 snapshots, within 256 MiB .. 4 GiB', () => {
    const GiB = 2 ** 30;
    assert.equal(defaultMaxSnapshotBytes(24 * GiB, 3), Math.floor((0.75 * 24 * GiB) / 20));
    assert.equal(defaultMaxSnapshotBytes(24 * GiB, 1), 2.25 * GiB);
    assert.equal(defaultMaxSnapshotBytes(1 * GiB, 3), 256 * 2 ** 20);
    assert.equal(defaultMaxSnapshotBytes(256 * GiB, 1), 4 * GiB);
  });
});
