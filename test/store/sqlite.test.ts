import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { StoreError, type StoreErrorKind } from '../../src/store/errors.js';
import type { MailboxStore } from '../../src/store/mailbox.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/store/migrations.js';
import { SqliteMailboxStore, type SqliteMailboxStoreConfig } from '../../src/store/sqlite.js';
import { runMailboxStoreSuite, type MakeStore } from './suite.js';

function scratchDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'umbra-store-'));
}

/** A fresh SQLite file per test, in a data directory the store creates itself. */
const makeSqliteStore: MakeStore = async ({ maxCiphertextBytes }) => {
  const directory = scratchDirectory();
  const path = join(directory, 'data', 'mailbox.sqlite');
  const opened: MailboxStore[] = [];
  const open = async (extra: Partial<SqliteMailboxStoreConfig> = {}): Promise<MailboxStore> => {
    const store = await SqliteMailboxStore.open({ path, maxCiphertextBytes, ...extra });
    opened.push(store);
    return store;
  };
  return {
    store: await open(),
    reopen: () => open(),
    reopenReadOnly: () => open({ readOnly: true }),
    // Room for a few more pages than the file has now (it was closed, so the WAL is checkpointed).
    reopenNearlyFull: () => open({ maxDatabaseBytes: statSync(path).size + 16 * 4096 }),
    dispose: async () => {
      for (const store of opened) await store.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
};

runMailboxStoreSuite('SqliteMailboxStore', makeSqliteStore);

async function rejectsWith(promise: Promise<unknown>, kind: StoreErrorKind, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  });
}

describe('SqliteMailboxStore specifics', () => {
  test('creates the data directory, WAL mode, and the schema through numbered migrations', async () => {
    const directory = scratchDirectory();
    try {
      const path = join(directory, 'nested', 'data', 'mailbox.sqlite');
      const store = await SqliteMailboxStore.open({ path, maxCiphertextBytes: 100 });
      assert.equal(store.path, path);
      assert.equal(statSync(join(directory, 'nested', 'data')).mode & 0o777, 0o700);
      await store.close();

      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        const versions = db.prepare('SELECT version FROM schema_version ORDER BY version').pluck().all();
        assert.deepEqual(versions, MIGRATIONS.map((migration) => migration.version));
        assert.equal(LATEST_SCHEMA_VERSION, 1);
        const columns = db.prepare("SELECT name FROM pragma_table_info('messages') ORDER BY cid").pluck().all();
        assert.deepEqual(columns, ['id', 'epoch', 'address', 'bucket_hash', 'digest', 'ciphertext', 'received_at_ms']);
      } finally {
        db.close();
      }

      // Opening again applies nothing twice.
      const again = await SqliteMailboxStore.open({ path, maxCiphertextBytes: 100 });
      await again.close();
      const check = new Database(path, { readonly: true });
      try {
        assert.equal(check.prepare('SELECT count(*) FROM schema_version').pluck().get(), MIGRATIONS.length);
      } finally {
        check.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('stores only addresses and ciphertexts: the bytes on disk are what was delivered', async () => {
    const directory = scratchDirectory();
    try {
      const path = join(directory, 'mailbox.sqlite');
      const store = await SqliteMailboxStore.open({ path, maxCiphertextBytes: 100 });
      const address = new Uint8Array(32).fill(0xab);
      const ciphertext = new TextEncoder().encode('opaque-ciphertext-marker');
      await store.deliver(address, 4, ciphertext, 123);
      await store.close();
      const db = new Database(path, { readonly: true });
      try {
        const row = db.prepare('SELECT epoch, address, ciphertext, received_at_ms FROM messages').get() as
          { epoch: number; address: Buffer; ciphertext: Buffer; received_at_ms: number };
        assert.equal(row.epoch, 4);
        assert.deepEqual(new Uint8Array(row.address), address);
        assert.deepEqual(new Uint8Array(row.ciphertext), ciphertext);
        assert.equal(row.received_at_ms, 123);
      } finally {
        db.close();
      }
      assert.ok(readFileSync(path).includes(Buffer.from(ciphertext)));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a database with a newer schema version is refused with io and left untouched', async () => {
    const directory = scratchDirectory();
    try {
      const path = join(directory, 'mailbox.sqlite');
      const store = await SqliteMailboxStore.open({ path, maxCiphertextBytes: 100 });
      await store.deliver(new Uint8Array(32), 1, new Uint8Array([1]), 1);
      await store.close();
      const db = new Database(path);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(LATEST_SCHEMA_VERSION + 1);
      db.close();
      await rejectsWith(SqliteMailboxStore.open({ path, maxCiphertextBytes: 100 }), 'io', /newer than this program/);
      await rejectsWith(SqliteMailboxStore.open({ path, maxCiphertextBytes: 100, readOnly: true }), 'io', /newer/);
      const check = new Database(path, { readonly: true });
      try {
        assert.equal(check.prepare('SELECT count(*) FROM messages').pluck().get(), 1);
      } finally {
        check.close();
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a file that is not a database, a path under a file, a missing read-only file: io', async () => {
    const directory = scratchDirectory();
    try {
      const garbage = join(directory, 'garbage.sqlite');
      writeFileSync(garbage, Buffer.alloc(8192, 0x5a));
      await rejectsWith(SqliteMailboxStore.open({ path: garbage, maxCiphertextBytes: 100 }), 'io');
      assert.deepEqual(readFileSync(garbage), Buffer.alloc(8192, 0x5a), 'the foreign file is not modified');

      const aFile = join(directory, 'a-file');
      writeFileSync(aFile, 'x');
      await rejectsWith(SqliteMailboxStore.open({ path: join(aFile, 'mailbox.sqlite'), maxCiphertextBytes: 100 }), 'io');

      await rejectsWith(SqliteMailboxStore.open({ path: join(directory, 'missing.sqlite'), maxCiphertextBytes: 100, readOnly: true }), 'io');

      mkdirSync(join(directory, 'a-directory'));
      await rejectsWith(SqliteMailboxStore.open({ path: join(directory, 'a-directory'), maxCiphertextBytes: 100 }), 'io');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a read-only open of an unmigrated database is refused with io', async () => {
    const directory = scratchDirectory();
    try {
      const path = join(directory, 'empty.sqlite');
      new Database(path).close();
      await rejectsWith(SqliteMailboxStore.open({ path, maxCiphertextBytes: 100, readOnly: true }), 'io', /not migrated/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('maxDatabaseBytes bounds the file from the start: full, then room again after retention', async () => {
    const directory = scratchDirectory();
    try {
      const path = join(directory, 'mailbox.sqlite');
      const store = await SqliteMailboxStore.open({ path, maxCiphertextBytes: 8192, maxDatabaseBytes: 256 * 1024 });
      const address = new Uint8Array(32).fill(1);
      let stored = 0;
      let failure: unknown;
      for (let i = 0; i < 1000 && failure === undefined; i++) {
        const ciphertext = new Uint8Array(8000).fill(i % 251);
        ciphertext[0] = i & 0xff;
        ciphertext[1] = i >> 8;
        try {
          await store.deliver(address, 1, ciphertext, 1 + i);
          stored++;
        } catch (error) {
          failure = error;
        }
      }
      assert.ok(failure instanceof StoreError && failure.kind === 'full', String(failure));
      assert.ok(stored > 10 && stored < 40, `stored ${stored} messages of 8000 bytes under 256 KiB`);
      assert.equal((await store.stats()).messages, stored);
      assert.equal(await store.deleteBefore(1 + Math.floor(stored / 2)), Math.floor(stored / 2));
      await store.deliver(address, 1, new Uint8Array(8000).fill(0xee), 5_000);
      await store.close();
      assert.ok(statSync(path).size <= 256 * 1024);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a malformed configuration is a RangeError', async () => {
    const path = join(tmpdir(), 'umbra-store-never-created', 'mailbox.sqlite');
    await assert.rejects(SqliteMailboxStore.open({ path, maxCiphertextBytes: 0 }), RangeError);
    await assert.rejects(SqliteMailboxStore.open({ path, maxCiphertextBytes: 1.5 }), RangeError);
    await assert.rejects(SqliteMailboxStore.open({ path, maxCiphertextBytes: 10, maxDatabaseBytes: 0 }), RangeError);
    await assert.rejects(SqliteMailboxStore.open({ path, maxCiphertextBytes: 10, busyTimeoutMs: -1 }), RangeError);
  });
});
