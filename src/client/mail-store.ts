import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { concatBytes } from '../codec/bytes.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import type { Crypto } from '../crypto/types.js';
import { ClientError, describeError } from './errors.js';
import { MailFolders } from './mail-folders.js';
import { prepareSchema } from './mail-store-schema.js';
import { sealColumn, type ColumnSeal } from './store-seal.js';
import { StoreCheckpoints } from './store-checkpoints.js';
import { dropOrphanPieces, dropPieces, IN_PIECES, needsPieces, readPieces, stagePieces, type PiecedColumn } from './store-pieces.js';

/**
 * The local mail store (docs/client.md, "Mail store"): SQLite in the client directory. Every
 * column that says anything about the user's mail (who, when, what, subject, status) is sealed with
 * XChaCha20-Poly1305 under the store key kept in the keystore, bound to its table, column and row;
 * what stays in clear is row ids, each mail's number in its folder, random row keys, SURB IDs (which the provider saw anyway),
 * SURB creation times (for expiry) and the names of the agent's state entries ("guard").
 */
export { SENT_STATUSES, type InboxMeta, type MailFolder, type MailMeta, type MailRecord, type SentMeta, type SentStatus } from './mail-meta.js';
import type { InboxMeta, MailFolder, MailMeta, MailRecord, SentMeta } from './mail-meta.js';

const AD_LABEL = new TextEncoder().encode('umbra client store v1');
const MKEY_LABEL = new TextEncoder().encode('umbra client message key v1');
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface MailRow {
  id: number;
  folder: string;
  number: number;
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
  /** The folders and UIDs the bridge's IMAP shows (mail-folders.ts). */
  readonly folders: MailFolders;
  private checkpoints: StoreCheckpoints | undefined;

  private constructor(
    db: Database.Database,
    private readonly crypto: Crypto,
    private readonly random: RandomSource,
    private readonly key: Uint8Array,
    private readonly path: string,
  ) {
    this.db = db;
    this.folders = new MailFolders({
      db,
      seal: (table, column, rowKey, plain) => this.seal(table, column, rowKey, plain),
      open: (table, column, rowKey, sealed) => this.open(table, column, rowKey, sealed),
      digest: (label, data) => Buffer.from(this.crypto.blake2b(16, concatBytes(encoder.encode(label), data), this.key)),
      random: (n) => this.random(n),
      mailRaw: (mailId) => this.get(mailId)?.raw,
      mailRead: (mailId) => {
        const mail = this.meta(mailId);
        return mail?.folder === 'inbox' ? mail.read : undefined;
      },
      setMailRead: (mailId, read) => void this.setRead(mailId, read),
      mailUnreferenced: (mailId) => {
        if (this.meta(mailId)?.folder === 'inbox') this.live().prepare('DELETE FROM mails WHERE id = ?').run(mailId);
      },
    });
    const initialised = (db.prepare('SELECT count(*) AS n FROM folders').get() as { n: number }).n > 0;
    if (!initialised) {
      const existing = (['inbox', 'sent'] as const).flatMap((folder) => this.list(folder)).sort((a, b) => a.id - b.id).map((mail) => ({
        id: mail.id, folder: mail.folder, size: mail.size,
        internalMs: mail.folder === 'inbox' ? mail.receivedMs : mail.createdMs,
      }));
      this.folders.initialise(existing);
    }
  }

  /** Opens (creating if needed) the store at `path`; 'corrupt-keystore' if it is not ours. */
  static open(path: string, storeKey: Uint8Array, crypto: Crypto, random: RandomSource): MailStore {
    let db: Database.Database | undefined;
    try {
      closeSync(openSync(path, 'a', 0o600)); // created owner-only before SQLite opens it
      db = new Database(path, { timeout: 5000 });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      prepareSchema(db);
      dropOrphanPieces(db); // a send that stopped before its rows were written
      restrictToOwner(path);
      return new MailStore(db, crypto, random, storeKey.slice(), path);
    } catch (error) {
      db?.close();
      if (error instanceof ClientError) throw error;
      throw new ClientError('corrupt-keystore', `the mail store ${path} cannot be opened: ${describeError(error)}`);
    }
  }

  /** From now on the write-ahead log is checkpointed on a thread of its own (store-checkpoints.ts; the agent's). */
  checkpointOffThread(): void {
    if (this.checkpoints === undefined) this.checkpoints = StoreCheckpoints.start(this.live(), this.path);
  }

  private live(): Database.Database {
    if (this.db === undefined) throw new ClientError('closed', 'the mail store is closed');
    return this.db;
  }

  private ad(table: string, column: string, rowKey: Uint8Array): Uint8Array {
    return concatBytes(AD_LABEL, encoder.encode(`${table}.${column}\u0000`), rowKey);
  }

  private seal(table: string, column: string, rowKey: Uint8Array, plain: Uint8Array): Buffer {
    return asBuffer(sealColumn(this.crypto, this.columnSeal(table, column, rowKey), plain));
  }

  /** What sealing a value of `table.column` in row `rowKey` takes (a fresh nonce), to seal it elsewhere (store-seal.ts). */
  private columnSeal(table: string, column: string, rowKey: Uint8Array): ColumnSeal {
    return { key: this.key.slice(), nonce: this.random(24), ad: this.ad(table, column, rowKey) };
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
    return { ...meta, id: row.id, number: row.number };
  }

  /** The next number of a folder, taken (call inside the transaction that stores the mail). */
  private takeNumber(folder: MailFolder): number {
    const db = this.live();
    const row = db.prepare('SELECT next FROM mail_numbers WHERE folder = ?').get(folder) as { next: number } | undefined;
    const number = row?.next ?? 1;
    db.prepare('INSERT INTO mail_numbers (folder, next) VALUES (?, ?) ON CONFLICT (folder) DO UPDATE SET next = excluded.next').run(folder, number + 1);
    return number;
  }

  /** Stores a received mail; undefined when a mail with this message ID is already in the inbox. */
  addInbox(meta: Omit<InboxMeta, 'folder'>, messageId: Uint8Array, raw: Uint8Array): number | undefined {
    const rid = this.random(16);
    const full: InboxMeta = { ...meta, folder: 'inbox' };
    const sealedMeta = this.seal('mails', 'meta', rid, encoder.encode(JSON.stringify(full)));
    const sealedRaw = this.seal('mails', 'raw', rid, raw);
    return this.transaction(() => {
      const db = this.live();
      if (this.hasInbox(messageId)) return undefined;
      const result = db
        .prepare('INSERT INTO mails (folder, number, rid, dedup, meta, raw) VALUES (?, ?, ?, ?, ?, ?)')
        .run('inbox', this.takeNumber('inbox'), Buffer.from(rid), this.messageKey(messageId), sealedMeta, sealedRaw);
      const id = Number(result.lastInsertRowid);
      this.folders.fileMail(id, 'inbox', meta.receivedMs, raw.length);
      return id;
    });
  }

  hasInbox(messageId: Uint8Array): boolean {
    return this.live().prepare('SELECT 1 FROM mails WHERE dedup = ?').get(this.messageKey(messageId)) !== undefined;
  }

  addSent(meta: Omit<SentMeta, 'folder'>, raw: Uint8Array): number {
    const rid = this.random(16);
    return this.addSentSealed(meta, { rid, raw: this.seal('mails', 'raw', rid, raw), size: raw.length });
  }

  /**
   * A sent mail whose bytes are sealed elsewhere (the packet builder): its row key, and how to seal
   * its bytes for that row (sealColumn); `mailId` is the id its row will get if no other mail is
   * stored first (an outgoing record names it).
   */
  prepareSent(): { rid: Uint8Array; seal: ColumnSeal; mailId: number } {
    const rid = this.random(16);
    const row = this.live().prepare("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'mails'), 0), coalesce((SELECT max(id) FROM mails), 0)) AS last").get() as { last: number };
    return { rid, seal: this.columnSeal('mails', 'raw', rid), mailId: row.last + 1 };
  }

  /**
   * Writes a large sealed value ahead of its row, in pieces, one small transaction per turn of the
   * event loop (store-pieces.ts): a sent mail's bytes for its row key `rid` (prepareSent), an
   * outgoing body for its message ID. Returns what the row's column takes: IN_PIECES, or the value
   * itself when small (nothing written).
   */
  async stageSealed(column: PiecedColumn, rowKey: Uint8Array, sealed: Uint8Array): Promise<Uint8Array> {
    if (!needsPieces(sealed)) return sealed;
    await stagePieces(() => this.live(), column, this.pieceOwner(column, rowKey), sealed);
    this.checkpoints?.nudge();
    return IN_PIECES;
  }

  /** Forgets what stageSealed wrote for a row that will not be written (the send stopped); nothing once closed. */
  dropStaged(column: PiecedColumn, rowKey: Uint8Array): void {
    if (this.db !== undefined) dropPieces(this.db, column, this.pieceOwner(column, rowKey));
  }

  private pieceOwner(column: PiecedColumn, rowKey: Uint8Array): Uint8Array {
    return column === 'outgoing.body' ? this.messageKey(rowKey) : rowKey;
  }

  /** Stores a sent mail: `raw` sealed for row key `rid` (prepareSent), or IN_PIECES when stageSealed wrote it; `size` its length in clear. */
  addSentSealed(meta: Omit<SentMeta, 'folder'>, sealed: { rid: Uint8Array; raw: Uint8Array; size: number }): number {
    const { rid, raw, size } = sealed;
    const full: SentMeta = { ...meta, folder: 'sent' };
    const sealedMeta = this.seal('mails', 'meta', rid, encoder.encode(JSON.stringify(full)));
    return this.transaction(() => {
      const result = this.live()
        .prepare('INSERT INTO mails (folder, number, rid, dedup, meta, raw) VALUES (?, ?, ?, NULL, ?, ?)')
        .run('sent', this.takeNumber('sent'), asBuffer(rid), sealedMeta, asBuffer(raw));
      const id = Number(result.lastInsertRowid);
      this.folders.fileMail(id, 'sent', meta.createdMs, size);
      return id;
    });
  }

  /** A folder's mail by ascending number (the order it was stored in). */
  list(folder: MailFolder): MailRecord[] {
    const rows = this.live().prepare('SELECT id, folder, number, rid, meta FROM mails WHERE folder = ? ORDER BY number').all(folder) as MailRow[];
    return rows.map((row) => this.record(row));
  }

  get(id: number): { record: MailRecord; raw: Uint8Array } | undefined {
    const row = this.live().prepare('SELECT id, folder, number, rid, meta, raw FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    if (row === undefined) return undefined;
    const raw = row.raw!.length === 0 ? readPieces(this.live(), 'mails.raw', row.rid) : row.raw!;
    return { record: this.record(row), raw: this.open('mails', 'raw', row.rid, raw) };
  }

  meta(id: number): MailRecord | undefined {
    const row = this.live().prepare('SELECT id, folder, number, rid, meta FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    return row === undefined ? undefined : this.record(row);
  }

  /** The row id of mail `number` of a folder; undefined when there is none (never was, or deleted). */
  idOf(folder: MailFolder, number: number): number | undefined {
    const row = this.live().prepare('SELECT id FROM mails WHERE folder = ? AND number = ?').get(folder, number) as { id: number } | undefined;
    return row?.id;
  }

  /** A mail's number in its folder, without opening its metadata. */
  numberOf(id: number): number | undefined {
    const row = this.live().prepare('SELECT number FROM mails WHERE id = ?').get(id) as { number: number } | undefined;
    return row?.number;
  }

  /**
   * Marks a received mail read or unread: the one read flag that `umbra client read`, the API,
   * the web client and IMAP's \Seen all show and set (mail-folders.ts derives \Seen from it).
   */
  setRead(id: number, read: boolean): MailRecord | undefined {
    return this.updateMeta<MailMeta>(id, (meta) => (meta.folder === 'inbox' && meta.read !== read ? { ...meta, read } : meta));
  }

  /** Rewrites a mail's metadata (read flag, status); the folder cannot change. */
  updateMeta<T extends MailMeta>(id: number, update: (meta: T) => T): MailRecord | undefined {
    const db = this.live();
    const row = db.prepare('SELECT id, folder, number, rid, meta FROM mails WHERE id = ?').get(id) as MailRow | undefined;
    if (row === undefined) return undefined;
    const { id: _id, number: _number, ...meta } = this.record(row);
    const next = update(meta as T);
    if (next.folder !== row.folder) throw new RangeError('mail store: a mail cannot change folders');
    if (next === meta) return { ...next, id, number: row.number };
    db.prepare('UPDATE mails SET meta = ? WHERE id = ?').run(this.seal('mails', 'meta', row.rid, encoder.encode(JSON.stringify(next))), id);
    // IMAP's \Seen is the read flag: every folder showing the mail changes with it.
    if (next.folder === 'inbox' && meta.folder === 'inbox' && next.read !== meta.read) this.folders.mailChanged(id);
    return { ...next, id, number: row.number };
  }

  delete(id: number): boolean {
    const deleted = this.live().prepare('DELETE FROM mails WHERE id = ?').run(id).changes > 0;
    if (deleted) this.folders.forgetMail(id);
    return deleted;
  }

  // --- outgoing messages awaiting their ACK ---

  /** A message awaiting its ACK: its body (never changes) and its progress (changes as its packets leave). */
  putOutgoing(messageId: Uint8Array, body: Uint8Array, state: Uint8Array): void {
    this.putOutgoingSealed(messageId, this.seal('outgoing', 'body', this.messageKey(messageId), body), state);
  }

  /** How to seal an outgoing body elsewhere (sealColumn), for putOutgoingSealed. */
  outgoingBodySeal(messageId: Uint8Array): ColumnSeal {
    return this.columnSeal('outgoing', 'body', this.messageKey(messageId));
  }

  /** putOutgoing of a body sealed with outgoingBodySeal, or IN_PIECES for one stageSealed wrote. */
  putOutgoingSealed(messageId: Uint8Array, sealedBody: Uint8Array, state: Uint8Array): void {
    const mkey = this.messageKey(messageId);
    const db = this.live();
    if (sealedBody.length > 0) dropPieces(db, 'outgoing.body', mkey); // pieces staged for a body written whole after all
    db.prepare('INSERT INTO outgoing (mkey, body) VALUES (?, ?) ON CONFLICT (mkey) DO UPDATE SET body = excluded.body')
      .run(mkey, asBuffer(sealedBody));
    db.prepare('INSERT INTO outgoing_progress (mkey, state) VALUES (?, ?) ON CONFLICT (mkey) DO UPDATE SET state = excluded.state')
      .run(mkey, this.seal('outgoing', 'state', mkey, state));
  }

  updateOutgoingState(messageId: Uint8Array, state: Uint8Array): void {
    const mkey = this.messageKey(messageId);
    this.live().prepare('UPDATE outgoing_progress SET state = ? WHERE mkey = ?').run(this.seal('outgoing', 'state', mkey, state), mkey);
  }

  deleteOutgoing(messageId: Uint8Array): void {
    const mkey = this.messageKey(messageId);
    const db = this.live();
    db.prepare('DELETE FROM outgoing WHERE mkey = ?').run(mkey);
    db.prepare('DELETE FROM outgoing_progress WHERE mkey = ?').run(mkey);
  }

  listOutgoing(): OutgoingRow[] {
    const rows = this.live().prepare('SELECT o.mkey, o.body, p.state FROM outgoing o JOIN outgoing_progress p ON p.mkey = o.mkey').all() as { mkey: Buffer; body: Buffer; state: Buffer }[];
    return rows.map((row) => {
      const body = row.body.length === 0 ? readPieces(this.live(), 'outgoing.body', row.mkey) : row.body;
      return { body: this.open('outgoing', 'body', row.mkey, body), state: this.open('outgoing', 'state', row.mkey, row.state) };
    });
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

  /** Runs `work` in one transaction. */
  transaction<T>(work: () => T): T {
    return this.live().transaction(work)();
  }

  close(): void {
    if (this.db === undefined) return;
    this.checkpoints?.close();
    this.checkpoints = undefined;
    this.db.close();
    this.db = undefined;
    this.key.fill(0);
  }
}

/** The bytes as a Buffer, without a copy. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The store and SQLite's side files (write-ahead log, shared memory) are readable by the owner only. */
function restrictToOwner(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}
