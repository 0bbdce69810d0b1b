import { POSTGRES_DIALECT, renderSql, SQLITE_DIALECT, type MigrationStep } from './sql-dialect.js';

/**
 * The mailbox schema as numbered migrations (docs/mailbox.md, "Schema"), one list for both
 * adapters: each migration is written once as dialect-neutral steps (sql-dialect.ts) and rendered
 * for SQLite and for PostgreSQL. A database records every migration applied to it as one row of
 * `schema_version`; opening a store applies the missing ones in order, with their `schema_version`
 * rows, in one transaction, and refuses a database that has a version this program does not know
 * (written by a newer release).
 *
 * Migrations are append-only: a released one is never edited, a change is a new number. The SQL is
 * unqualified: the PostgreSQL adapter runs it with `SET LOCAL search_path` set to the store's schema.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  /** SQLite statements, run with `exec` inside the migration's transaction. */
  readonly sqlite: string;
  /** PostgreSQL statements, run in one simple-protocol call inside the migration's transaction. */
  readonly postgres: string;
}

interface MigrationSource {
  readonly version: number;
  readonly description: string;
  readonly steps: readonly MigrationStep[];
}

const SOURCES: readonly MigrationSource[] = [
  {
    version: 1,
    description: 'messages: one row per stored ciphertext',
    steps: [
      {
        createTable: 'messages',
        columns: [
          { name: 'id', type: 'row-id' },
          { name: 'epoch', type: 'integer', min: 0 },
          { name: 'address', type: 'bytes', length: 32 },
          { name: 'bucket_hash', type: 'integer', min: 0, max: 4294967295 },
          { name: 'digest', type: 'bytes', unique: true, length: 32 },
          { name: 'ciphertext', type: 'bytes', minLength: 1, incompressible: true },
          { name: 'received_at_ms', type: 'integer', min: 0 },
        ],
      },
      { createIndex: 'messages_by_epoch', on: 'messages', columns: ['epoch', 'id'] },
      { createIndex: 'messages_by_received', on: 'messages', columns: ['received_at_ms'] },
    ],
  },
];

/** Created before any migration runs (in either dialect); not itself a numbered migration. */
export const SCHEMA_VERSION_TABLE = 'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY NOT NULL)';

export const MIGRATIONS: readonly Migration[] = SOURCES.map(({ version, description, steps }) => ({
  version,
  description,
  sqlite: renderSql(SQLITE_DIALECT, steps),
  postgres: renderSql(POSTGRES_DIALECT, steps),
}));

/** The version a fully migrated database has. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;
