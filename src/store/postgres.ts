import pg from 'pg';
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

export interface PostgresMailboxStoreConfig {
  /**
   * Connection string, e.g. `postgres://umbra@127.0.0.1:5432/umbra` (user, password, host, port,
   * database; query parameters such as `sslmode` are passed to the driver). It is never put into
   * error messages.
   */
  readonly url: string;
  /**
   * The schema holding the store's tables: lower-case letters, digits and `_`, at most 63
   * characters, not starting with a digit or `pg_`. Created if missing (unless `readOnly`).
   * Default `public`.
   */
  readonly schema?: string;
  /** Largest ciphertext `deliver` accepts, in bytes. */
  readonly maxCiphertextBytes: number;
  /**
   * Opens an existing, migrated schema with `default_transaction_read_only = on` on every
   * connection: nothing is migrated or written, every write fails with 'io'.
   */
  readonly readOnly?: boolean;
  /** How long opening the connection may take before the calls waiting for it fail with 'io'. Default 10000. */
  readonly connectTimeoutMs?: number;
}

interface MessageRow {
  id: string;
  address: Buffer;
  ciphertext: Buffer;
}

interface StatsRow {
  messages: string;
  bytes: string;
  epochs: string;
}

/** SQLSTATE disk_full: PostgreSQL could not extend a file. */
const DISK_FULL = '53100';

/** First key of the advisory lock that serializes migrations (second key: a hash of the schema). */
const MIGRATION_LOCK_CLASS = 0x756d6272; // 'umbr'

const SCHEMA_NAME = /^(?!pg_)[a-z_][a-z0-9_]{0,62}$/;

/**
 * Maps a PostgreSQL or connection error to a StoreError (docs/mailbox.md, "Errors"): SQLSTATE 53100
 * (disk full) is `full`; every other error the server or the connection reports (25006 read-only
 * transaction, 42501 insufficient privilege, a refused, lost or timed-out connection) is `io`. A
 * StoreError passes through unchanged.
 */
export function postgresStoreErrorFrom(error: unknown, doing: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === DISK_FULL) {
    const detail = error instanceof Error ? error.message : String(error);
    return new StoreError('full', `mailbox store: ${doing} failed (${code}): ${detail}`, { cause: error });
  }
  return storeErrorFrom(error, doing);
}

/** A schema name as a quoted SQL identifier (the name is checked against SCHEMA_NAME first). */
function quoted(schema: string): string {
  return `"${schema}"`;
}

/** A plain Uint8Array copy of a row, so callers never hold the driver's buffers (BIGINT ids come as strings). */
function toMessage(row: MessageRow): StoredMessage {
  return { id: Number(row.id), address: new Uint8Array(row.address), ciphertext: new Uint8Array(row.ciphertext) };
}

/** Every schema_version row of the schema (none when the table or the schema does not exist). */
async function appliedVersions(client: pg.Client, schema: string): Promise<Set<number>> {
  const table = `${quoted(schema)}.schema_version`;
  const found = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  if (!found.rows[0].exists) return new Set();
  const versions = await client.query<{ version: number }>(`SELECT version FROM ${table}`);
  return new Set(versions.rows.map((row) => row.version));
}

function checkKnown(versions: Set<number>): void {
  const known = new Set(MIGRATIONS.map((migration) => migration.version));
  const unknown = [...versions].filter((version) => !known.has(version));
  if (unknown.length > 0) {
    throw new StoreError('io', `mailbox store: the database has schema version ${Math.max(...unknown)}, ` +
      `newer than this program's ${LATEST_SCHEMA_VERSION}`);
  }
}

/**
 * Applies the missing migrations (migrations.ts), each with its schema_version row, in one
 * transaction that first takes a transaction-scoped advisory lock for the schema and re-reads the
 * applied versions, so two processes opening the same new schema at once do not both migrate. A
 * read-only store's schema must already be at the latest version.
 */
async function migrate(client: pg.Client, schema: string, readOnly: boolean): Promise<void> {
  const before = await appliedVersions(client, schema);
  checkKnown(before);
  if (MIGRATIONS.every((migration) => before.has(migration.version))) return;
  if (readOnly) {
    throw new StoreError('io',
      `mailbox store: the read-only schema "${schema}" is not migrated to schema version ${LATEST_SCHEMA_VERSION}`);
  }
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
    // Created only when missing: CREATE SCHEMA IF NOT EXISTS would need CREATE on the database even
    // for a schema that exists.
    const namespace = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    if (namespace.rowCount === 0) await client.query(`CREATE SCHEMA ${quoted(schema)}`);
    await client.query(`SET LOCAL search_path TO ${quoted(schema)}`);
    await client.query(SCHEMA_VERSION_TABLE);
    const versions = await appliedVersions(client, schema);
    checkKnown(versions);
    for (const migration of MIGRATIONS) {
      if (versions.has(migration.version)) continue;
      await client.query(migration.postgres);
      await client.query('INSERT INTO schema_version (version) VALUES ($1)', [migration.version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection is gone (and the transaction with it); the original error is the one to report.
    }
    throw error;
  }
}

/** How long `close` waits for the calls already made before it drops the connection. */
const CLOSE_GRACE_MS = 5_000;

/** An error of one statement (the connection is fine), as opposed to a lost or broken connection. */
function isStatementError(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity === 'ERROR';
}

const ignore = (): void => {};

/**
 * The mailbox store in a PostgreSQL schema through node-postgres (pg). Every write is one
 * statement, so one transaction: `deliver` is a single `INSERT … ON CONFLICT (digest) DO NOTHING`,
 * `deleteBefore` a single `DELETE`, migrations one explicit transaction; a failure (disk full,
 * read-only, lost connection) rolls back whole and leaves stored data intact.
 *
 * The store holds one connection, opened on first use and again after it is lost (a call that was
 * running on the lost one fails with 'io'). Calls run one at a time in the order they are made, so
 * they take effect in that order, as with SQLite. Durability is the server's (`fsync` and
 * `synchronous_commit`, on by default).
 */
export class PostgresMailboxStore implements MailboxStore {
  readonly maxCiphertextBytes: number;
  private closed = false;
  /** The connection, connecting or connected; undefined before first use and after it is lost. */
  private connection: Promise<pg.Client> | undefined;
  /** Settles when the last call made so far has settled: each call waits for the one before it. */
  private queue: Promise<void> = Promise.resolve();
  private readonly insertSql: string;
  private readonly selectBucketSql: string;
  private readonly selectEpochSql: string;
  private readonly deleteOlderSql: string;
  private readonly selectStatsSql: string;

  private constructor(private readonly clientConfig: pg.ClientConfig, readonly schema: string, maxCiphertextBytes: number) {
    this.maxCiphertextBytes = maxCiphertextBytes;
    const messages = `${quoted(schema)}.messages`;
    // ON CONFLICT DO NOTHING: a duplicate (same digest) is stored once and is not an error.
    this.insertSql =
      `INSERT INTO ${messages} (epoch, address, bucket_hash, digest, ciphertext, received_at_ms) ` +
      'VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (digest) DO NOTHING';
    this.selectBucketSql =
      `SELECT id, address, ciphertext FROM ${messages} WHERE epoch = $1 AND bucket_hash % $2 = $3 ORDER BY id`;
    this.selectEpochSql = `SELECT id, address, ciphertext FROM ${messages} WHERE epoch = $1 ORDER BY id`;
    this.deleteOlderSql = `DELETE FROM ${messages} WHERE received_at_ms < $1`;
    this.selectStatsSql =
      'SELECT count(*) AS messages, coalesce(sum(octet_length(ciphertext)), 0) AS bytes, ' +
      `count(DISTINCT epoch) AS epochs FROM ${messages}`;
  }

  /**
   * Connects to `config.url` and opens (creating and migrating if needed) the store in
   * `config.schema`. Rejects with StoreError 'io' when the server cannot be reached or refuses the
   * connection, the schema has a newer version (or, read-only, is not migrated) or the role may not
   * create it, 'full' when the server has no room for it, and RangeError for a malformed
   * configuration.
   */
  static async open(config: PostgresMailboxStoreConfig): Promise<PostgresMailboxStore> {
    checkMaxCiphertextBytes(config.maxCiphertextBytes);
    const { url, schema = 'public', connectTimeoutMs = 10_000 } = config;
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//.test(url)) {
      throw new RangeError('url must be a postgres:// or postgresql:// connection string');
    }
    if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
      throw new RangeError(`schema must be 1 to 63 of a-z, 0-9 and _, not starting with a digit or pg_, got ${JSON.stringify(schema)}`);
    }
    if (!Number.isSafeInteger(connectTimeoutMs) || connectTimeoutMs < 1) {
      throw new RangeError(`connectTimeoutMs must be a positive integer, got ${connectTimeoutMs}`);
    }
    const readOnly = config.readOnly === true;
    const store = new PostgresMailboxStore({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      // Defaults that parameters in the URL override.
      application_name: 'umbra-mailbox',
      ...(readOnly ? { options: '-c default_transaction_read_only=on' } : {}),
    }, schema, config.maxCiphertextBytes);
    try {
      await migrate(await store.connect(), schema, readOnly);
      return store;
    } catch (error) {
      try {
        await store.close();
      } catch {
        // The open failure is the error to report.
      }
      throw postgresStoreErrorFrom(error, `opening the PostgreSQL schema "${schema}"`);
    }
  }

  /** The connection, opened now if there is none (the first use, or the last one was lost). */
  private connect(): Promise<pg.Client> {
    if (this.connection !== undefined) return this.connection;
    const client = new pg.Client(this.clientConfig);
    const connection = client.connect().then(() => client);
    this.connection = connection;
    // A connection that fails or ends is forgotten: the next call opens another. The listener also
    // keeps an error on an idle connection (a server restart, a terminated backend) from being an
    // uncaught 'error' event.
    client.on('error', () => this.forget(connection));
    client.on('end', () => this.forget(connection));
    connection.catch(() => this.forget(connection));
    return connection;
  }

  /** Drops `connection` if it is still the current one, and ends it. */
  private forget(connection: Promise<pg.Client>): void {
    if (this.connection === connection) this.connection = undefined;
    connection.then((client) => client.end()).catch(ignore);
  }

  /** StoreError 'closed' after `close`. */
  private live(): void {
    if (this.closed) throw new StoreError('closed', 'mailbox store: the store is closed');
  }

  /**
   * Runs one prepared statement once every call made before has settled, so that calls take effect
   * in the order they are made. A connection error drops the connection; a statement error keeps it.
   */
  private run<R extends pg.QueryResultRow>(doing: string, name: string, text: string, values: (number | Buffer)[]): Promise<pg.QueryResult<R>> {
    this.live();
    const call = this.queue.then(async () => {
      let connection: Promise<pg.Client> | undefined;
      try {
        connection = this.connect();
        const client = await connection;
        return await client.query<R>({ name, text, values });
      } catch (error) {
        if (connection !== undefined && !isStatementError(error)) this.forget(connection);
        throw postgresStoreErrorFrom(error, doing);
      }
    });
    this.queue = call.then(ignore, ignore);
    return call;
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
    // Buffer.from copies: the caller may change its buffers while the statement waits its turn.
    await this.run('delivering', 'umbra-mailbox-deliver', this.insertSql,
      [epoch, Buffer.from(address), hash, Buffer.from(digest), Buffer.from(ciphertext), receivedAtMs]);
  }

  async fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredMessage[]> {
    this.live();
    checkEpoch(epoch);
    checkBucket(bucket, buckets);
    const result = await this.run<MessageRow>('fetching a bucket', 'umbra-mailbox-bucket', this.selectBucketSql, [epoch, buckets, bucket]);
    return result.rows.map(toMessage);
  }

  async fetchEpoch(epoch: number): Promise<StoredMessage[]> {
    this.live();
    checkEpoch(epoch);
    const result = await this.run<MessageRow>('fetching an epoch', 'umbra-mailbox-epoch', this.selectEpochSql, [epoch]);
    return result.rows.map(toMessage);
  }

  async deleteBefore(cutoffMs: number): Promise<number> {
    this.live();
    checkTimeMs(cutoffMs, 'cutoffMs');
    const result = await this.run('deleting old messages', 'umbra-mailbox-delete', this.deleteOlderSql, [cutoffMs]);
    return result.rowCount ?? 0;
  }

  async stats(): Promise<StoreStats> {
    const result = await this.run<StatsRow>('reading statistics', 'umbra-mailbox-stats', this.selectStatsSql, []);
    const [row] = result.rows;
    return { messages: Number(row.messages), bytes: Number(row.bytes), epochs: Number(row.epochs) };
  }

  /**
   * Closes the connection. Calls made before finish first (for at most 5 s; then they fail with
   * 'io'); later ones reject with 'closed'. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.queue, new Promise((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    })]);
    clearTimeout(timer);
    const connection = this.connection;
    this.connection = undefined;
    const client = await connection?.catch(() => undefined);
    try {
      await client?.end();
    } catch (error) {
      throw postgresStoreErrorFrom(error, 'closing');
    }
  }
}
