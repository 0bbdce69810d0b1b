import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError, storeErrorFrom } from './errors.js';
import {
  bucketHash,
  checkAddress,
  checkBucket,
  checkCiphertext,
  checkEpoch,
  checkMaxCiphertextBytes,
  checkTimeMs,
  duplicateDigest,
  type MailboxStore,
  type StoreStats,
  type StoredMessage,
} from './mailbox.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, SCHEMA_VERSION_TABLE } from './migrations.js';

export interface SqliteMailboxStoreConfig {
  /** The database file, e.g. `<data directory>/mailbox.sqlite`; its directory is created (0700). */
  readonly path: string;
  /** Largest ciphertext `deliver` accepts, in bytes. */
  readonly maxCiphertextBytes: number;
  /**
   * Largest size the database may grow to, in bytes (SQLite's max_page_count times the page size,
   * rounded down to whole pages; never below the current size). Past it deliveries fail with
   * 'full'. Without it only the disk bounds the file.
   */
  readonly maxDatabaseBytes?: number;
  /** Opens an existing, migrated database without writing to it: every write fails with 'io'. */
  readonly readOnly?: boolean;
  /** How long a call waits for another process's write lock before failing with 'io'. Default 5000. */
  readonly busyTimeoutMs?: number;
}

interface MessageRow {
  id: number;
  address: Buffer;
  ciphertext: Buffer;
}

interface StatsRow {
  messages: number;
  bytes: number;
  epochs: number;
}

/** A Buffer over the same memory: what better-sqlite3 binds as a BLOB. */
function blob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain Uint8Array copy of a row, so callers never hold the driver's buffers. */
function toMessage(row: MessageRow): StoredMessage {
  return { id: row.id, address: new Uint8Array(row.address), ciphertext: new Uint8Array(row.ciphertext) };
}

/**
 * Applies the missing migrations (migrations.ts), each with its schema_version row in one
 * IMMEDIATE transaction that re-reads the applied versions, so two processes opening the same new
 * file at once do not both migrate. A read-only database must already be at the latest version.
 */
function migrate(db: Database.Database, readOnly: boolean): void {
  const applied = (): Set<number> => {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get();
    if (exists === undefined) return new Set();
    return new Set(db.prepare('SELECT version FROM schema_version').pluck().all() as number[]);
  };
  const known = new Set(MIGRATIONS.map((migration) => migration.version));
  const check = (versions: Set<number>): void => {
    const unknown = [...versions].filter((version) => !known.has(version));
    if (unknown.length > 0) {
      throw new StoreError('io', `mailbox store: the database has schema version ${Math.max(...unknown)}, ` +
        `newer than this program's ${LATEST_SCHEMA_VERSION}`);
    }
  };
  const before = applied();
  check(before);
  if (MIGRATIONS.every((migration) => before.has(migration.version))) return;
  if (readOnly) {
    throw new StoreError('io', `mailbox store: the read-only database is not migrated to schema version ${LATEST_SCHEMA_VERSION}`);
  }
  db.transaction(() => {
    db.exec(SCHEMA_VERSION_TABLE);
    const versions = applied();
    check(versions);
    const insertVersion = db.prepare('INSERT INTO schema_version (version) VALUES (?)');
    for (const migration of MIGRATIONS) {
      if (versions.has(migration.version)) continue;
      db.exec(migration.sqlite);
      insertVersion.run(migration.version);
    }
  }).immediate();
}

/**
 * The mailbox store in one SQLite file through better-sqlite3: WAL journal, synchronous=FULL (a
 * resolved `deliver` survives a power cut), every write one statement or one transaction, so a
 * failure (disk full, read-only, I/O) rolls back whole and leaves stored data intact. The driver is
 * synchronous; each method runs its statement at once and settles its promise with the outcome,
 * so calls are serialized in the order they are made.
 */
export class SqliteMailboxStore implements MailboxStore {
  readonly maxCiphertextBytes: number;
  private db: Database.Database | undefined;
  private readonly insert: Database.Statement<[number, Buffer, number, Buffer, Buffer, number]>;
  private readonly selectBucket: Database.Statement<[number, number, number], MessageRow>;
  private readonly selectEpoch: Database.Statement<[number], MessageRow>;
  private readonly deleteOlder: Database.Statement<[number]>;
  private readonly selectStats: Database.Statement<[], StatsRow>;

  private constructor(db: Database.Database, readonly path: string, maxCiphertextBytes: number) {
    this.db = db;
    this.maxCiphertextBytes = maxCiphertextBytes;
    // ON CONFLICT DO NOTHING: a duplicate (same digest) is stored once and is not an error.
    this.insert = db.prepare(
      'INSERT INTO messages (epoch, address, bucket_hash, digest, ciphertext, received_at_ms) ' +
      'VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING');
    this.selectBucket = db.prepare(
      'SELECT id, address, ciphertext FROM messages WHERE epoch = ? AND bucket_hash % ? = ? ORDER BY id');
    this.selectEpoch = db.prepare('SELECT id, address, ciphertext FROM messages WHERE epoch = ? ORDER BY id');
    this.deleteOlder = db.prepare('DELETE FROM messages WHERE received_at_ms < ?');
    this.selectStats = db.prepare(
      'SELECT count(*) AS messages, coalesce(sum(length(ciphertext)), 0) AS bytes, ' +
      'count(DISTINCT epoch) AS epochs FROM messages');
  }

  /**
   * Opens (creating and migrating if needed) the database at `config.path`. Rejects with StoreError
   * 'io' when the file cannot be opened, is not a database or has a newer schema, 'full' when there
   * is no room to create it, and RangeError for a malformed configuration.
   */
  static async open(config: SqliteMailboxStoreConfig): Promise<SqliteMailboxStore> {
    checkMaxCiphertextBytes(config.maxCiphertextBytes);
    const { maxDatabaseBytes, busyTimeoutMs = 5000 } = config;
    if (maxDatabaseBytes !== undefined && (!Number.isSafeInteger(maxDatabaseBytes) || maxDatabaseBytes < 1)) {
      throw new RangeError(`maxDatabaseBytes must be a positive integer, got ${maxDatabaseBytes}`);
    }
    if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
      throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
    }
    const readOnly = config.readOnly === true;
    let db: Database.Database | undefined;
    try {
      if (!readOnly) mkdirSync(dirname(config.path), { recursive: true, mode: 0o700 });
      db = new Database(config.path, { readonly: readOnly, fileMustExist: readOnly, timeout: busyTimeoutMs });
      if (!readOnly) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      if (maxDatabaseBytes !== undefined) {
        const pageSize = db.pragma('page_size', { simple: true }) as number;
        db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxDatabaseBytes / pageSize))}`);
      }
      migrate(db, readOnly);
      return new SqliteMailboxStore(db, config.path, config.maxCiphertextBytes);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The open failure is the error to report.
      }
      throw storeErrorFrom(error, `opening ${config.path}`);
    }
  }

  /** The open connection, or StoreError 'closed'. */
  private live(): Database.Database {
    if (this.db === undefined) throw new StoreError('closed', 'mailbox store: the store is closed');
    return this.db;
  }

  /** Runs one database call; a driver error becomes a StoreError and any open transaction is rolled back. */
  private run<T>(doing: string, call: () => T): T {
    const db = this.live();
    try {
      return call();
    } catch (error) {
      if (db.inTransaction) {
        try {
          db.exec('ROLLBACK');
        } catch {
          // SQLite may have rolled back already; the original error is the one to report.
        }
      }
      throw storeErrorFrom(error, doing);
    }
  }

  async deliver(address: Uint8Array, epoch: number, ciphertext: Uint8Array, receivedAtMs: number): Promise<void> {
    this.live();
    checkAddress(address);
    checkEpoch(epoch);
    checkCiphertext(ciphertext);
    checkTimeMs(receivedAtMs, 'receivedAtMs');
    if (ciphertext.length > this.maxCiphertextBytes) {
      throw new StoreError('too-large',
        `mailbox store: ciphertext of ${ciphertext.length} bytes, at most ${this.maxCiphertextBytes} allowed`);
    }
    const hash = bucketHash(address, epoch);
    const digest = duplicateDigest(address, ciphertext);
    this.run('delivering', () =>
      this.insert.run(epoch, blob(address), hash, blob(digest), blob(ciphertext), receivedAtMs));
  }

  async fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredMessage[]> {
    this.live();
    checkEpoch(epoch);
    checkBucket(bucket, buckets);
    return this.run('fetching a bucket', () => this.selectBucket.all(epoch, buckets, bucket).map(toMessage));
  }

  async fetchEpoch(epoch: number): Promise<StoredMessage[]> {
    this.live();
    checkEpoch(epoch);
    return this.run('fetching an epoch', () => this.selectEpoch.all(epoch).map(toMessage));
  }

  async deleteBefore(cutoffMs: number): Promise<number> {
    this.live();
    checkTimeMs(cutoffMs, 'cutoffMs');
    return this.run('deleting old messages', () => this.deleteOlder.run(cutoffMs).changes);
  }

  async stats(): Promise<StoreStats> {
    const row = this.run('reading statistics', () => this.selectStats.get());
    return { messages: row?.messages ?? 0, bytes: row?.bytes ?? 0, epochs: row?.epochs ?? 0 };
  }

  async close(): Promise<void> {
    const db = this.db;
    if (db === undefined) return;
    this.db = undefined;
    try {
      db.close();
    } catch (error) {
      throw storeErrorFrom(error, 'closing');
    }
  }
}
