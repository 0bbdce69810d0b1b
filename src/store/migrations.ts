/**
 * The mailbox schema as numbered migrations (docs/mailbox.md, "Schema"). A database records every
 * migration applied to it as one row of `schema_version`; opening a store applies the missing ones
 * in order, with their `schema_version` rows, in one transaction, and refuses a database that has a
 * version this program does not know (written by a newer release).
 *
 * Migrations are append-only: a released one is never edited, a change is a new number. The
 * PostgreSQL adapter keeps its own list with the same numbers and the same tables and columns
 * (docs/mailbox.md gives the type mapping).
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  /** SQLite statements, run with `exec` inside the migration's transaction. */
  readonly sqlite: string;
}

/** Created before any migration runs; not itself a numbered migration. */
export const SCHEMA_VERSION_TABLE_SQLITE = 'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY NOT NULL)';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'messages: one row per stored ciphertext',
    sqlite: `
      CREATE TABLE messages (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        epoch          INTEGER NOT NULL CHECK (epoch >= 0),
        address        BLOB    NOT NULL CHECK (length(address) = 32),
        bucket_hash    INTEGER NOT NULL CHECK (bucket_hash BETWEEN 0 AND 4294967295),
        digest         BLOB    NOT NULL UNIQUE CHECK (length(digest) = 32),
        ciphertext     BLOB    NOT NULL CHECK (length(ciphertext) > 0),
        received_at_ms INTEGER NOT NULL CHECK (received_at_ms >= 0)
      );
      CREATE INDEX messages_by_epoch ON messages (epoch, id);
      CREATE INDEX messages_by_received ON messages (received_at_ms);
    `,
  },
];

/** The version a fully migrated database has. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
