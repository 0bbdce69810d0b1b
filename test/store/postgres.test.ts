import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { StoreError, type StoreErrorKind } from '../../src/store/errors.js';
import type { MailboxStore } from '../../src/store/mailbox.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/store/migrations.js';
import { PostgresMailboxStore, postgresStoreErrorFrom, type PostgresMailboxStoreConfig } from '../../src/store/postgres.js';
import { runMailboxStoreSuite, type MakeStore } from './suite.js';

/**
 * The suite and the PostgreSQL specifics against a live server: by default the machine's
 * `postgres://postgres@127.0.0.1:5432/test` (trust auth), or UMBRA_TEST_POSTGRES_URL. Every store
 * lives in a fresh schema named after this run, dropped when its test ends (and any left over when
 * the file ends). Where the server cannot be reached, the whole file is skipped with the reason.
 */
const URL_UNDER_TEST = process.env.UMBRA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `umbra_test_${process.pid}_${Date.now().toString(36)}`;
let schemas = 0;

function freshSchema(): string {
  return `${RUN}_${schemas++}`;
}

/** The URL with extra query parameters (e.g. an application_name to find a store's connections by). */
function urlWith(parameters: Record<string, string>): string {
  const url = new URL(URL_UNDER_TEST);
  for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
  return url.toString();
}

/** A connection of the test's own, to set up, inspect and drop schemas. */
const admin = new pg.Pool({ connectionString: URL_UNDER_TEST, max: 2, connectionTimeoutMillis: 5_000 });
admin.on('error', () => {});

async function query<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
  return (await admin.query<R>(text, values)).rows;
}

async function unreachable(): Promise<string | undefined> {
  try {
    await query('SELECT 1');
    return undefined;
  } catch (error) {
    const where = new URL(URL_UNDER_TEST).host || URL_UNDER_TEST;
    await admin.end().catch(() => {});
    const reason = error instanceof Error ? error.message || String((error as { code?: unknown }).code) : String(error);
    return `PostgreSQL is not reachable at ${where}: ${reason}`;
  }
}

async function dropSchema(schema: string): Promise<void> {
  await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

async function rejectsWith(promise: Promise<unknown>, kind: StoreErrorKind, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

/** A fresh schema per test; `dispose` closes every store and drops the schema. */
const makePostgresStore: MakeStore = async ({ maxCiphertextBytes }) => {
  const schema = freshSchema();
  const opened: MailboxStore[] = [];
  const open = async (extra: Partial<PostgresMailboxStoreConfig> = {}): Promise<MailboxStore> => {
    const store = await PostgresMailboxStore.open({ url: URL_UNDER_TEST, schema, maxCiphertextBytes, ...extra });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: () => open(),
    reopenReadOnly: () => open({ readOnly: true }),
    // No reopenNearlyFull: PostgreSQL has no per-schema size limit to fill (the suite skips that case).
    dispose: async () => {
      for (const store of opened) await store.close();
      await dropSchema(schema);
    },
  };
};

/** Opens a store in a fresh schema, runs `body`, closes it and drops the schema. */
async function withSchema(body: (schema: string) => Promise<void>): Promise<void> {
  const schema = freshSchema();
  try {
    await body(schema);
  } finally {
    await dropSchema(schema);
  }
}

function open(schema: string, extra: Partial<PostgresMailboxStoreConfig> = {}): Promise<PostgresMailboxStore> {
  return PostgresMailboxStore.open({ url: URL_UNDER_TEST, schema, maxCiphertextBytes: 100, ...extra });
}

/** A loopback port that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

/**
 * Schemas left by runs on this machine that were killed before their end (their process is gone).
 * Only for a server on loopback, where every run is this machine's.
 */
async function dropAbandonedSchemas(): Promise<void> {
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(URL_UNDER_TEST).hostname)) return;
  const schemas = await query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname ~ '^umbra_test_[0-9]+_'");
  for (const { nspname } of schemas) {
    const pid = Number(/^umbra_test_(\d+)_/.exec(nspname)![1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (error) {
      alive = (error as { code?: string }).code === 'EPERM';
    }
    if (!alive) await dropSchema(nspname);
  }
}

const skip = await unreachable();
if (skip === undefined) await dropAbandonedSchemas();

if (skip !== undefined) {
  test('PostgresMailboxStore', { skip }, () => {});
} else {
  after(async () => {
    const left = await query<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)', [RUN]);
    for (const { nspname } of left) await dropSchema(nspname);
    await admin.end();
  });

  runMailboxStoreSuite('PostgresMailboxStore', makePostgresStore);

  describe('PostgresMailboxStore specifics', () => {
    test('the schema through numbered migrations: the numbers, columns and indexes of the SQLite schema', () => withSchema(async (schema) => {
      const store = await open(schema);
      assert.equal(store.schema, schema);
      await store.close();

      const versions = await query<{ version: number }>(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(versions.map((row) => row.version), MIGRATIONS.map((m) => m.version));

      const columns = await query<{ column_name: string; data_type: string; is_nullable: string; is_identity: string; identity_generation: string | null }>(
        `SELECT column_name, data_type, is_nullable, is_identity, identity_generation FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'messages' ORDER BY ordinal_position`, [schema]);
      assert.deepEqual(columns.map((c) => [c.column_name, c.data_type]), [
        ['id', 'bigint'], ['epoch', 'bigint'], ['address', 'bytea'], ['bucket_hash', 'bigint'],
        ['digest', 'bytea'], ['ciphertext', 'bytea'], ['received_at_ms', 'bigint'],
      ]);
      assert.ok(columns.every((c) => c.is_nullable === 'NO'));
      assert.deepEqual(columns.filter((c) => c.is_identity === 'YES').map((c) => [c.column_name, c.identity_generation]), [['id', 'ALWAYS']]);

      const indexes = await query<{ indexname: string; indexdef: string }>(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'messages' ORDER BY indexname", [schema]);
      const byName = new Map(indexes.map((index) => [index.indexname, index.indexdef]));
      assert.match(byName.get('messages_by_epoch') ?? '', /\(epoch, id\)$/);
      assert.match(byName.get('messages_by_received') ?? '', /\(received_at_ms\)$/);
      assert.match(byName.get('messages_digest_key') ?? '', /^CREATE UNIQUE INDEX .*\(digest\)$/);
      assert.match(byName.get('messages_pkey') ?? '', /^CREATE UNIQUE INDEX .*\(id\)$/);

      // Opening again applies nothing twice.
      await (await open(schema)).close();
      const [{ count }] = await query<{ count: string }>(`SELECT count(*) FROM "${schema}".schema_version`);
      assert.equal(Number(count), MIGRATIONS.length);
    }));

    test('the CHECK constraints hold the ranges of the SQLite schema', () => withSchema(async (schema) => {
      await (await open(schema)).close();
      const insert = (epoch: number, address: number, hash: number, digest: number, ciphertext: number, at: number) => query(
        `INSERT INTO "${schema}".messages (epoch, address, bucket_hash, digest, ciphertext, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6)`,
        [epoch, Buffer.alloc(address, 1), hash, Buffer.alloc(digest, 2), Buffer.alloc(ciphertext, 3), at]);
      await insert(0, 32, 4294967295, 32, 1, 0);
      const refused: [number, number, number, number, number, number][] = [
        [-1, 32, 0, 32, 1, 0], [0, 31, 0, 32, 1, 0], [0, 32, -1, 32, 1, 0], [0, 32, 4294967296, 32, 1, 0],
        [0, 32, 0, 33, 1, 0], [0, 32, 0, 32, 0, 0], [0, 32, 0, 32, 1, -1],
      ];
      for (const bad of refused) {
        await assert.rejects(insert(...bad), (error: { code?: string }) => error.code === '23514', `CHECK refuses ${bad.join(', ')}`);
      }
    }));

    test('stores only addresses and ciphertexts: the rows hold exactly what was delivered', () => withSchema(async (schema) => {
      const store = await open(schema);
      const address = new Uint8Array(32).fill(0xab);
      const ciphertext = new TextEncoder().encode('opaque-ciphertext-marker');
      await store.deliver(address, 4, ciphertext, 123);
      await store.close();
      const rows = await query<{ epoch: string; address: Buffer; ciphertext: Buffer; received_at_ms: string }>(
        `SELECT epoch, address, ciphertext, received_at_ms FROM "${schema}".messages`);
      assert.equal(rows.length, 1);
      assert.equal(Number(rows[0].epoch), 4);
      assert.deepEqual(new Uint8Array(rows[0].address), address);
      assert.deepEqual(new Uint8Array(rows[0].ciphertext), ciphertext);
      assert.equal(Number(rows[0].received_at_ms), 123);
    }));

    test('schemas are isolated: two stores in two schemas of one database see only their own messages', () =>
      withSchema((first) => withSchema(async (second) => {
        const [a, b] = [await open(first), await open(second)];
        try {
          await a.deliver(new Uint8Array(32).fill(1), 1, new Uint8Array([1]), 1);
          await b.deliver(new Uint8Array(32).fill(2), 1, new Uint8Array([2]), 1);
          await b.deliver(new Uint8Array(32).fill(1), 1, new Uint8Array([1]), 1);
          assert.deepEqual(await a.stats(), { messages: 1, bytes: 1, epochs: 1 });
          assert.deepEqual(await b.stats(), { messages: 2, bytes: 2, epochs: 1 });
          assert.deepEqual((await a.fetchEpoch(1)).map((m) => m.ciphertext), [new Uint8Array([1])]);
        } finally {
          await a.close();
          await b.close();
        }
      })));

    test('two stores opening one new schema at once migrate it once', () => withSchema(async (schema) => {
      const stores = await Promise.all([open(schema), open(schema), open(schema)]);
      for (const store of stores) await store.close();
      const versions = await query<{ version: number }>(`SELECT version FROM "${schema}".schema_version ORDER BY version`);
      assert.deepEqual(versions.map((row) => row.version), MIGRATIONS.map((m) => m.version));
    }));

    test('a schema with a newer version is refused with io and left untouched', () => withSchema(async (schema) => {
      const store = await open(schema);
      await store.deliver(new Uint8Array(32), 1, new Uint8Array([1]), 1);
      await store.close();
      await query(`INSERT INTO "${schema}".schema_version (version) VALUES ($1)`, [LATEST_SCHEMA_VERSION + 1]);
      await rejectsWith(open(schema), 'io', /newer than this program/);
      await rejectsWith(open(schema, { readOnly: true }), 'io', /newer/);
      const [{ count }] = await query<{ count: string }>(`SELECT count(*) FROM "${schema}".messages`);
      assert.equal(Number(count), 1);
    }));

    test('a read-only open of a missing or unmigrated schema is refused with io and creates nothing', () => withSchema(async (schema) => {
      await rejectsWith(open(schema, { readOnly: true }), 'io', /not migrated/);
      const missing = await query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
      assert.equal(missing.length, 0, 'the schema was not created');
      await query(`CREATE SCHEMA "${schema}"`);
      await rejectsWith(open(schema, { readOnly: true }), 'io', /not migrated/);
    }));

    test('a server that cannot be reached, or a database that does not exist: io', async () => {
      const port = await closedPort();
      const started = Date.now();
      await rejectsWith(PostgresMailboxStore.open({ url: `postgres://postgres@127.0.0.1:${port}/test`, maxCiphertextBytes: 100 }), 'io', /ECONNREFUSED/);
      assert.ok(Date.now() - started < 5_000, 'a refused connection fails at once');
      const url = new URL(URL_UNDER_TEST);
      url.pathname = `/${RUN}_no_such_database`;
      await rejectsWith(PostgresMailboxStore.open({ url: url.toString(), maxCiphertextBytes: 100 }), 'io', /3D000/);
    });

    test('a lost connection: calls waiting on it settle with io at worst, the next ones reconnect, close does not hang', () =>
      withSchema(async (schema) => {
        const applicationName = `${schema}_app`;
        const store = await open(schema, { url: urlWith({ application_name: applicationName }) });
        const address = new Uint8Array(32).fill(1);
        let stored = 0;
        try {
          // Rounds with the calls sent at once, a moment later, and after the server has let go.
          for (let round = 0; round < 12; round++) {
            await store.deliver(address, 1, new Uint8Array([round, 0]), 1);
            stored++;
            const terminated = await query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
            assert.equal(terminated.length, 1, 'the store had its one connection to lose');
            if (round % 3 === 1) await new Promise((resolve) => setTimeout(resolve, 5));
            if (round % 3 === 2) {
              for (let i = 0; i < 100; i++) {
                if ((await query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [applicationName])).length === 0) break;
                await new Promise((resolve) => setTimeout(resolve, 10));
              }
            }
            const calls = [store.stats(), store.deliver(address, 1, new Uint8Array([round, 1]), 1), store.fetchEpoch(1)];
            const outcomes = await Promise.race([
              Promise.allSettled(calls),
              new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`round ${round}: calls on a lost connection never settled`)), 5_000).unref()),
            ]);
            for (const outcome of outcomes) {
              if (outcome.status === 'rejected') {
                assert.ok(outcome.reason instanceof StoreError && outcome.reason.kind === 'io', `expected io, got ${String(outcome.reason)}`);
              }
            }
            if (outcomes[1].status === 'fulfilled') stored++;
            // The next call opens a new connection and sees everything committed.
            assert.equal((await store.stats()).messages, stored);
          }
        } finally {
          const started = Date.now();
          await store.close();
          assert.ok(Date.now() - started < 1_000, 'close does not wait for calls that already failed');
        }
      }));

    test('read-only: every connection has default_transaction_read_only, so writes fail with io (25006)', () => withSchema(async (schema) => {
      await (await open(schema)).close();
      const store = await open(schema, { readOnly: true });
      try {
        await rejectsWith(store.deliver(new Uint8Array(32), 1, new Uint8Array([1]), 1), 'io', /25006/);
        await rejectsWith(store.deleteBefore(10), 'io', /25006/);
        assert.deepEqual(await store.stats(), { messages: 0, bytes: 0, epochs: 0 });
      } finally {
        await store.close();
      }
    }));

    test('error mapping: SQLSTATE 53100 is full, other SQLSTATEs and connection errors io', () => {
      const diskFull = Object.assign(new Error('could not extend file "base/16384/16385": No space left on device'), { code: '53100' });
      const full = postgresStoreErrorFrom(diskFull, 'delivering');
      assert.equal(full.kind, 'full');
      assert.equal(full.cause, diskFull);
      assert.match(full.message, /delivering failed \(53100\)/);
      for (const code of ['25006', '42501', '57P01', '08006', 'ECONNREFUSED', 'CONNECTION_CLOSED', 'CONNECT_TIMEOUT']) {
        assert.equal(postgresStoreErrorFrom(Object.assign(new Error(code), { code }), 'x').kind, 'io', code);
      }
      assert.equal(postgresStoreErrorFrom('not even an Error', 'x').kind, 'io');
      const passed = new StoreError('closed', 'closed');
      assert.equal(postgresStoreErrorFrom(passed, 'x'), passed);
    });

    test('a malformed configuration is a RangeError, before anything connects', async () => {
      const config = { url: URL_UNDER_TEST, maxCiphertextBytes: 10 };
      await assert.rejects(PostgresMailboxStore.open({ ...config, maxCiphertextBytes: 0 }), RangeError);
      await assert.rejects(PostgresMailboxStore.open({ ...config, url: '127.0.0.1:5432/test' }), RangeError);
      for (const schema of ['', 'Public', 'pg_umbra', '1abc', 'a-b', 'a"b', 'a;drop', 'x'.repeat(64)]) {
        await assert.rejects(PostgresMailboxStore.open({ ...config, schema }), RangeError, JSON.stringify(schema));
      }
      await assert.rejects(PostgresMailboxStore.open({ ...config, connectTimeoutMs: 0 }), RangeError);
    });
  });
}
