/**
 * The mailbox schema for PostgreSQL as numbered migrations, mirroring migrations.ts (docs/mailbox.md,
 * "Schema"): the same version numbers, tables, columns, constraints and indexes, with PostgreSQL
 * types (BYTEA for BLOB, BIGINT for INTEGER, an identity column for AUTOINCREMENT).
 *
 * Each migration's SQL is unqualified: PostgresMailboxStore runs it inside the migration transaction
 * with `SET LOCAL search_path` pointing at the store's schema, so the same text serves any schema.
 * Migrations are append-only: a released one is never edited, a change is a new number, added here
 * and in migrations.ts under the same number.
 */
export interface PostgresMigration {
  readonly version: number;
  readonly description: string;
  /** PostgreSQL statements, run in one simple-protocol call inside the migration's transaction. */
  readonly postgres: string;
}

/** Created before any migration runs; not itself a numbered migration. */
export const SCHEMA_VERSION_TABLE_POSTGRES = 'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY NOT NULL)';

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    description: 'messages: one row per stored ciphertext',
    // Ciphertexts are incompressible: STORAGE EXTERNAL keeps large ones out of line (TOAST) without
    // a futile compression attempt on every insert.
    postgres: `
      CREATE TABLE messages (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        epoch          BIGINT NOT NULL CHECK (epoch >= 0),
        address        BYTEA  NOT NULL CHECK (octet_length(address) = 32),
        bucket_hash    BIGINT NOT NULL CHECK (bucket_hash BETWEEN 0 AND 4294967295),
        digest         BYTEA  NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
        ciphertext     BYTEA  NOT NULL CHECK (octet_length(ciphertext) > 0),
        received_at_ms BIGINT NOT NULL CHECK (received_at_ms >= 0)
      );
      ALTER TABLE messages ALTER COLUMN ciphertext SET STORAGE EXTERNAL;
      CREATE INDEX messages_by_epoch ON messages (epoch, id);
      CREATE INDEX messages_by_received ON messages (received_at_ms);
    `,
  },
];

/** The version a fully migrated PostgreSQL schema has (equal to LATEST_SCHEMA_VERSION). */
export const LATEST_POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1].version;
