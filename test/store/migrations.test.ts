import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/store/migrations.js';
import { POSTGRES_DIALECT, renderSql, SQLITE_DIALECT, type MigrationStep } from '../../src/store/sql-dialect.js';

test('migrations are numbered 1, 2, … and the latest is the last', () => {
  assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  assert.equal(LATEST_SCHEMA_VERSION, MIGRATIONS.length);
});

test('migration 1 renders to the released SQLite and PostgreSQL schema', () => {
  const [first] = MIGRATIONS;
  assert.equal(first.sqlite, [
    'CREATE TABLE messages (',
    '  id INTEGER PRIMARY KEY AUTOINCREMENT,',
    '  epoch INTEGER NOT NULL CHECK (epoch >= 0),',
    '  address BLOB NOT NULL CHECK (length(address) = 32),',
    '  bucket_hash INTEGER NOT NULL CHECK (bucket_hash BETWEEN 0 AND 4294967295),',
    '  digest BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),',
    '  ciphertext BLOB NOT NULL CHECK (length(ciphertext) >= 1),',
    '  received_at_ms INTEGER NOT NULL CHECK (received_at_ms >= 0)',
    ');',
    'CREATE INDEX messages_by_epoch ON messages (epoch, id);',
    'CREATE INDEX messages_by_received ON messages (received_at_ms);',
    '',
  ].join('\n'));
  assert.equal(first.postgres, [
    'CREATE TABLE messages (',
    '  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,',
    '  epoch BIGINT NOT NULL CHECK (epoch >= 0),',
    '  address BYTEA NOT NULL CHECK (octet_length(address) = 32),',
    '  bucket_hash BIGINT NOT NULL CHECK (bucket_hash BETWEEN 0 AND 4294967295),',
    '  digest BYTEA NOT NULL UNIQUE CHECK (octet_length(digest) = 32),',
    '  ciphertext BYTEA NOT NULL CHECK (octet_length(ciphertext) >= 1),',
    '  received_at_ms BIGINT NOT NULL CHECK (received_at_ms >= 0)',
    ');',
    'ALTER TABLE messages ALTER COLUMN ciphertext SET STORAGE EXTERNAL;',
    'CREATE INDEX messages_by_epoch ON messages (epoch, id);',
    'CREATE INDEX messages_by_received ON messages (received_at_ms);',
    '',
  ].join('\n'));
});

test('a column check renders each bound the column has', () => {
  const steps: MigrationStep[] = [{
    createTable: 't',
    columns: [
      { name: 'a', type: 'integer' },
      { name: 'b', type: 'integer', max: 9 },
      { name: 'c', type: 'bytes' },
      { name: 'd', type: 'bytes', minLength: 2, incompressible: true },
    ],
  }];
  assert.equal(renderSql(SQLITE_DIALECT, steps),
    'CREATE TABLE t (\n  a INTEGER NOT NULL,\n  b INTEGER NOT NULL CHECK (b <= 9),\n  c BLOB NOT NULL,\n  d BLOB NOT NULL CHECK (length(d) >= 2)\n);\n');
  assert.match(renderSql(POSTGRES_DIALECT, steps), /\nALTER TABLE t ALTER COLUMN d SET STORAGE EXTERNAL;\n$/);
});
