import type Database from 'better-sqlite3';
import { ClientError } from './errors.js';
import { FOLDERS_SCHEMA } from './mail-folders.js';
import { PIECES_SCHEMA } from './store-pieces.js';

/**
 * The tables of the mail store (mail-store.ts) and the upgrade of a store written by an earlier
 * version (docs/client.md, "Mail store").
 *   1: mails numbered together (one row id for inbox and sent).
 *   2: each mail also has its number in its folder (`mails.number`, unique per folder), the next
 *      of each folder in `mail_numbers`; numbers are never reused, like IMAP UIDs.
 *   3: an outgoing message's progress has a table of its own (`outgoing_progress`): a row of
 *      `outgoing` holds the message's frame (up to megabytes), and SQLite rewrites a whole row when
 *      one of its values changes size, so each packet that left rewrote the frame. The sealed
 *      progress moves as it is (its AD still names outgoing.state).
 *   4: a large sealed value (a sent mail's bytes, an outgoing message's body) may be kept in
 *      `pieces`, written in small transactions before the row that names it (store-pieces.ts); the
 *      row's own column is then empty. Triggers drop a row's pieces with it.
 */
export const SCHEMA_VERSION = 4;

const mailsTable = (name: string): string => `
CREATE TABLE IF NOT EXISTS ${name} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),
  number INTEGER NOT NULL CHECK (number >= 1),
  rid BLOB NOT NULL UNIQUE,
  dedup BLOB UNIQUE,
  meta BLOB NOT NULL,
  raw BLOB NOT NULL,
  UNIQUE (folder, number)
);`;

/** Each folder's next number (a folder that never had mail has no row: its first is 1). */
const MAIL_NUMBERS = `
CREATE TABLE IF NOT EXISTS mail_numbers (
  folder TEXT PRIMARY KEY CHECK (folder IN ('inbox', 'sent')),
  next INTEGER NOT NULL CHECK (next >= 1)
);`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY);
${mailsTable('mails')}
${MAIL_NUMBERS}
CREATE TABLE IF NOT EXISTS outgoing (
  mkey BLOB PRIMARY KEY,
  body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outgoing_progress (
  mkey BLOB PRIMARY KEY,
  state BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS surbs (
  surb_id BLOB PRIMARY KEY,
  mkey BLOB NOT NULL,
  created_ms INTEGER NOT NULL,
  token BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_state (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS surbs_by_message ON surbs (mkey);
${PIECES_SCHEMA}
CREATE INDEX IF NOT EXISTS surbs_by_time ON surbs (created_ms);
${FOLDERS_SCHEMA}`;

/** Creates the tables of a new store, or brings an older store to SCHEMA_VERSION; 'unsupported-keystore' for a newer one. */
export function prepareSchema(db: Database.Database): void {
  const hasVersion = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").get() !== undefined;
  const version = hasVersion ? (db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null }).version : null;
  if (version !== null && version !== SCHEMA_VERSION && version !== 1 && version !== 2 && version !== 3) {
    throw new ClientError('unsupported-keystore', `mail store schema ${version} is not supported`);
  }
  db.transaction(() => {
    if (version === 1) numberMails(db); // before SCHEMA: the old `mails` has no number to build on
    db.exec(SCHEMA);
    if (version === 1 || version === 2) separateProgress(db);
    if (version === null) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
    else if (version !== SCHEMA_VERSION) db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION);
  })();
}

/**
 * Schema 1 to 2: every mail gets its number in its folder, in the order the store took them (row
 * id); each folder's next number follows its last. Row ids, and the sequence they come from, stay.
 */
function numberMails(db: Database.Database): void {
  const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'mails'").get() as { seq: number } | undefined;
  db.exec(mailsTable('mails_numbered'));
  db.exec(`INSERT INTO mails_numbered (id, folder, number, rid, dedup, meta, raw)
    SELECT id, folder, row_number() OVER (PARTITION BY folder ORDER BY id), rid, dedup, meta, raw FROM mails`);
  db.exec('DROP TABLE mails');
  db.exec('ALTER TABLE mails_numbered RENAME TO mails');
  // A row id once used (by a mail deleted since) is never given again: folder_mails and outgoing records name mails by it.
  if (sequence !== undefined) {
    db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'mails'").run(sequence.seq);
    if (db.prepare("SELECT 1 FROM sqlite_sequence WHERE name = 'mails'").get() === undefined) {
      db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('mails', ?)").run(sequence.seq);
    }
  }
  db.exec(MAIL_NUMBERS);
  db.exec('INSERT INTO mail_numbers (folder, next) SELECT folder, max(number) + 1 FROM mails GROUP BY folder');
}

/** Schema 2 to 3: the outgoing progress moves to its own table, its sealed bytes unchanged. */
function separateProgress(db: Database.Database): void {
  const columns = db.prepare("SELECT name FROM pragma_table_info('outgoing')").pluck().all() as string[];
  if (!columns.includes('state')) return;
  db.exec('INSERT OR REPLACE INTO outgoing_progress (mkey, state) SELECT mkey, state FROM outgoing; ALTER TABLE outgoing DROP COLUMN state');
}
