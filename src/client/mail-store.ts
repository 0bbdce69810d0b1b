import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { concatBytes } from '../codec/bytes.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { ClientError, describeError } from './errors.js';
import type { SentRecipient } from './sent-recipients.js';

/**
 * The local mail store (docs/client.md, "Mail store"): SQLite in the client directory. Every
 * column that says anything about the user's mail (who, when, what, subject, status) is sealed with
 * XChaCha20-Poly1305 under the store key kept in the keystore, bound to its table, column and row;
 * what stays in clear is row ids, random row keys, SURB IDs (which the provider saw anyway),
 * SURB creation times (for expiry) and the names of the agent's state entries ("guard").
 */
export type SentStatus = 'queued' | 'sending' | 'delivered' | 'failed';
export const SENT_STATUSES: readonly SentStatus[] = ['queued', 'sending', 'delivered', 'failed'];

export interface InboxMeta {
  readonly folder: 'inbox';
  /** Hex of the end-to-end message ID. */
  readonly messageId: string;
  /** Hex of the sender's X25519 key (the contact key). */
  readonly fromKey: string;
  readonly fromName: string;
  readonly receivedMs: number;
  readonly read: boolean;
  readonly subject: string;
  /** The Date header as written by the sender. */
  readonly date: string;
  readonly size: number;
  readonly attachments: number;
}

export interface SentMeta {
  readonly folder: 'sent';
  /** The first recipient's envelope (every envelope: `recipients`). */
  readonly messageId: string;
  /** The first recipient. */
  readonly toKey: string;
  readonly toName: string;
  /** Every recipient's envelope and its delivery (sent-recipients.ts); absent in rows of one recipient written before. */
  readonly recipients?: readonly SentRecipient[];
  readonly createdMs: number;
  /** The mail's: the sum of its recipients' (mailStatusOf). */
  readonly status: SentStatus;
  /** Why a message failed, in words the CLI can print. */
  readonly reason?: string;
  readonly statusMs: number;
  readonly subject: string;
  readonly size: number;
  /** Fragments (Sphinx packets) of one copy of the message. */
  readonly fragments: number;
  /** Copies sent so far (1 + resends after timeouts). */
  readonly attempts: number;
  /** Ordinary email sent through the user's relay (relay-send.ts), not through Umbra. */
  readonly external?: { readonly relay: string };
  /** Why this mail was not private, for every view of it. */
  readonly warning?: string;
}

export type MailMeta = InboxMeta | SentMeta;
export type MailRecord = MailMeta & { readonly id: number };

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS mails (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),
  rid BLOB NOT NULL UNIQUE,
  dedup BLOB UNIQUE,
  meta BLOB NOT NULL,
  raw BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outgoing (
  mkey BLOB PRIMARY KEY,
  body BLOB NOT NULL,
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
CREATE INDEX IF NOT EXISTS surbs_by_time ON surbs (created_ms);
`;

const AD_LABEL = new TextEncoder().encode('umbra client store v1');
const MKEY_LABEL = new TextEncoder().encode('umbra client message key v1');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface MailRow {
  id: number;
  folder: string;
  rid: Buffer;
  meta: Buffer;
  raw?: Buffer;
}

export interface OutgoingRow {
  readonly body: Uint8Array;
  readonly state: Uint8Array;
}

export class MailStore {
  private db: Database.Database | undefined;

  private constructor(
    db: Database.Database,
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    private readonly key: Uint8Array,
  ) {
    this.db = db;
  }

  /** Opens (creating if needed) the store at `path`; 'corrupt-keystore' if it is not ours. */
  static open(path: string, storeKey: Uint8Array, crypto: Crypto, random: RandomSource): MailStore {
    let db: Database.Database | undefined;
    try {
      closeSync(openSync(path, 'a', 0o600)); // created owner-only before SQLite opens it
      db = new Database(path, { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      restrictToOwner(path);
      const row = db.prepare('SELECT max(version) AS version FROM schema_version').get() as { version: number | null };
      if (row.version === null) db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SCHEMA_VERSION);
      else if (row.version !== SCHEMA_VERSION) throw new ClientError('unsupported-keystore', `mail store schema ${row.version} is not supported`);
      return new MailStore(db, crypto, random, storeKey.slice());
    } catch (error) {
      db?.close();
      if (error instanceof ClientError) throw error;
      throw new ClientError('corrupt-keystore', `the mail store ${path} cannot be opened: ${describeError(error)}`);
    }
  }

  private live(): Database.Database {
    if (this.db === undefined) throw new ClientError('closed', 'the mail store is closed');
    return this.db;
  }

  private ad(table: string, column: string, rowKey: Uint8Array): Uint8Array {
    return concatBytes(AD_LABEL, encoder.encode(`${table}.${column}\u0000`), rowKey);
  }

  private seal(table: string, column: string, rowKey: Uint8Array, plain: Uint8Array): Buffer {
    const nonce = this.random(24);
    return Buffer.from(concatBytes(nonce, this.crypto.xchacha20Poly1305Seal(this.key, nonce, plain, this.ad(table, column, rowKey))));
  }

  private open(table: string, column: string, rowKey: Uint8Array, sealed: Uint8Array): Uint8Array {
    try {
      return this.crypto.xchacha20Poly1305Open(this.key, sealed.subarray(0, 24), sealed.subarray(24), this.ad(table, column, rowKey));
    } catch {
      throw new ClientError('corrupt-keystore', `a ${table} row of the mail store does not authenticate`);
    }
  }

  /** A keyed digest of an end-to-end message ID: the row key of its outgoing record and SURBs. */
  messageKey(messageId: Uint8Array): Buffer {
    return Buffer.from(this.crypto.blake2b(16, concatBytes(MKEY_LABEL, messageId), this.key));
  }

  private record(row: MailRow): MailRecord {
    const meta = JSON.parse(decoder.decode(this.open('mails', 'meta', row.rid, row.meta))) as MailMeta;
    if (meta.folder !== row.folder) throw new ClientError('corrupt-keystore', 'a mail row was moved between folders');
    return { ...meta, id: row.id };
  }

  /** Stores a received mail; undefined when a mail with this message ID is already in the inbox. */
  addInbox(meta: Omit<InboxMeta, 'folder'>, messageId: Uint8Array, raw: Uint8Array): number | undefined {
    const db = this.live();
    const rid = this.random(16);
    const full: InboxMeta = { ...meta, folder: 'inbox' };
    const result = db
      .prepare('INSERT INTO mails (folder, rid, dedup, meta, raw) VALUES (?, ?, ?, ?, ?) ON CONFLICT (dedup) DO NOTHING')
      .run('inbox', Buffer.from(rid), this.messageKey(messageId), this.seal('mails', 'meta', rid, encoder.encode(JSON.stringify(full))), this.seal('mails', 'raw', rid, raw));
    return result.changes === 0 ? undefined : Number(result.lastInsertRowid);
  }

  hasInbox(messageId: Uint8Array): boolean {
    return this.live().prepare('SELECT 1 FROM mails WHERE dedup = ?').get(this.messageKey(messageId)) !== undefined;
  }

  addSent(meta: Omit<SentMeta, 'folder'>, raw: Uint8Array): number {
    const db = this.live();
    const rid = this.random(16);
    const full: SentMeta = { ...meta, folder: 'sent' };
    const result = db
      .prepare('INSERT INTO mails (folder, rid, dedup, meta, raw) VALUES (?, ?, NULL, ?, ?)')
      .run('sent', Buffer.from(rid), this.seal('mails', 'meta', rid, encoder.encode(JSON.stringify(full))), this.seal('mails', 'raw', rid, raw));
    return Number(result.lastInsertRowid);
  }

  list(folder: 'inbox' | 'sent'): MailRecord[] {
    const rows = this.live().prepare('SELECT id, folder, rid, meta FROM mails WHERE folder = ? ORDER BY id').all(folder) as MailRow[];
    return rows.map((row) => this.record(row));
  }

  get(id: number): { record: MailRecord; raw: Uint8Array } | undefined {
    const row = this.live().prepare('SELECT id, folder, rid, meta, raw FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    if (row === undefined) return undefined;
    return { record: this.record(row), raw: this.open('mails', 'raw', row.rid, row.raw!) };
  }

  meta(id: number): MailRecord | undefined {
    const row = this.live().prepare('SELECT id, folder, rid, meta FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    return row === undefined ? undefined : this.record(row);
  }

  /** Rewrites a mail's metadata (read flag, status); the folder cannot change. */
  updateMeta<T extends MailMeta>(id: number, update: (meta: T) => T): MailRecord | undefined {
    const db = this.live();
    const row = db.prepare('SELECT id, folder, rid, meta FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    if (row === undefined) return undefined;
    const { id: _id, ...meta } = this.record(row);
    const next = update(meta as T);
    if (next.folder !== row.folder) throw new RangeError('mail store: a mail cannot change folders');
    db.prepare('UPDATE mails SET meta = ? WHERE id = ?').run(this.seal('mails', 'meta', row.rid, encoder.encode(JSON.stringify(next))), id);
    return { ...next, id };
  }

  delete(id: number): boolean {
    return this.live().prepare('DELETE FROM mails WHERE id = ?').run(id).changes > 0;
  }

  // --- outgoing messages awaiting their ACK ---

  putOutgoing(messageId: Uint8Array, body: Uint8Array, state: Uint8Array): void {
    const mkey = this.messageKey(messageId);
    this.live()
      .prepare('INSERT INTO outgoing (mkey, body, state) VALUES (?, ?, ?) ON CONFLICT (mkey) DO UPDATE SET body = excluded.body, state = excluded.state')
      .run(mkey, this.seal('outgoing', 'body', mkey, body), this.seal('outgoing', 'state', mkey, state));
  }

  updateOutgoingState(messageId: Uint8Array, state: Uint8Array): void {
    const mkey = this.messageKey(messageId);
    this.live().prepare('UPDATE outgoing SET state = ? WHERE mkey = ?').run(this.seal('outgoing', 'state', mkey, state), mkey);
  }

  deleteOutgoing(messageId: Uint8Array): void {
    this.live().prepare('DELETE FROM outgoing WHERE mkey = ?').run(this.messageKey(messageId));
  }

  listOutgoing(): OutgoingRow[] {
    const rows = this.live().prepare('SELECT mkey, body, state FROM outgoing').all() as { mkey: Buffer; body: Buffer; state: Buffer }[];
    return rows.map((row) => ({ body: this.open('outgoing', 'body', row.mkey, row.body), state: this.open('outgoing', 'state', row.mkey, row.state) }));
  }

  // --- ACK SURBs: their decryption tokens, by SURB ID ---

  putSurb(surbId: Uint8Array, messageId: Uint8Array, createdMs: number, token: Uint8Array): void {
    this.live()
      .prepare('INSERT OR REPLACE INTO surbs (surb_id, mkey, created_ms, token) VALUES (?, ?, ?, ?)')
      .run(Buffer.from(surbId), this.messageKey(messageId), createdMs, this.seal('surbs', 'token', surbId, concatBytes(messageId, token)));
  }

  /** The message ID and decryption token of an ACK SURB; the SURB is forgotten (single use). */
  /** The message and decryption token of an ACK SURB; it stays until deleteSurb (a reply that verifies). */
  getSurb(surbId: Uint8Array): { messageId: Uint8Array; token: Uint8Array } | undefined {
    const row = this.live().prepare('SELECT token FROM surbs WHERE surb_id = ?').get(Buffer.from(surbId)) as { token: Buffer } | undefined;
    if (row === undefined) return undefined;
    const plain = this.open('surbs', 'token', surbId, row.token);
    return { messageId: plain.slice(0, 16), token: plain.slice(16) };
  }

  deleteSurb(surbId: Uint8Array): void {
    this.live().prepare('DELETE FROM surbs WHERE surb_id = ?').run(Buffer.from(surbId));
  }

  deleteSurbsOf(messageId: Uint8Array): number {
    return this.live().prepare('DELETE FROM surbs WHERE mkey = ?').run(this.messageKey(messageId)).changes;
  }

  deleteSurbsBefore(cutoffMs: number): number {
    return this.live().prepare('DELETE FROM surbs WHERE created_ms < ?').run(cutoffMs).changes;
  }

  surbCount(): number {
    return (this.live().prepare('SELECT count(*) AS n FROM surbs').get() as { n: number }).n;
  }

  /** Runs `work` in one transaction. */
  /** A piece of the agent's own state (such as its guard gateway) by name, sealed like the mail. */
  getAgentState(name: string): Uint8Array | undefined {
    const row = this.live().prepare('SELECT value FROM agent_state WHERE name = ?').get(name) as { value: Buffer } | undefined;
    return row === undefined ? undefined : this.open('agent_state', 'value', encoder.encode(name), row.value);
  }

  putAgentState(name: string, value: Uint8Array): void {
    this.live()
      .prepare('INSERT INTO agent_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value')
      .run(name, this.seal('agent_state', 'value', encoder.encode(name), value));
  }

  transaction<T>(work: () => T): T {
    return this.live().transaction(work)();
  }

  close(): void {
    if (this.db === undefined) return;
    this.db.close();
    this.db = undefined;
    this.key.fill(0);
  }
}

/** The store and SQLite's side files (write-ahead log, shared memory) are readable by the owner only. */
function restrictToOwner(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}
