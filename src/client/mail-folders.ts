import type Database from 'better-sqlite3';

/**
 * The mail folders a mail program sees through the bridge's IMAP (docs/bridge.md, "IMAP"): INBOX,
 * Sent, Drafts, Trash, Archive and the user's own, each with its UIDVALIDITY and next UID, and in
 * each folder its messages with their UIDs, flags and internal dates. It lives in the mail store
 * (tables `folders` and `folder_mails`): folder names, flags and dates are sealed like the mail;
 * row ids, UIDs and UIDVALIDITY are in clear. A message either points at a received or sent mail
 * of the `mails` table (which the agent files into INBOX or Sent as it stores it) or holds bytes of
 * its own (APPEND). A received mail's \Seen is not kept here: it is the mail's read flag in the
 * store, so reading it anywhere (IMAP, `umbra client read`, the API, the web client) is one change.
 */
export const FOLDERS_SCHEMA = `
CREATE TABLE IF NOT EXISTS folders (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fkey BLOB NOT NULL UNIQUE,
  name BLOB NOT NULL,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL,
  subscribed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS folder_mails (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  folder INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  mail INTEGER,
  rid BLOB NOT NULL,
  state BLOB NOT NULL,
  raw BLOB,
  UNIQUE (folder, uid)
);
CREATE INDEX IF NOT EXISTS folder_mails_by_mail ON folder_mails (mail);
`;

export const STANDARD_FOLDERS = ['INBOX', 'Sent', 'Drafts', 'Trash', 'Archive'] as const;
export const SYSTEM_FLAGS = ['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const;
/** The hierarchy delimiter of folder names. */
export const FOLDER_DELIMITER = '/';
const MAX_FOLDER_NAME = 200;
const MAX_FOLDERS = 1000;
const MAX_FLAGS = 32;
const MAX_FLAG_LENGTH = 64;

export interface FolderInfo {
  readonly id: number;
  readonly name: string;
  readonly uidValidity: number;
  readonly uidNext: number;
  readonly subscribed: boolean;
}

export interface FolderMessage {
  /** The row id (never shown to a mail program). */
  readonly id: number;
  readonly uid: number;
  readonly flags: readonly string[];
  readonly internalMs: number;
  readonly size: number;
  /** The received or sent mail this message shows, when it is one. */
  readonly mailId?: number;
}

export class FolderError extends Error {
  constructor(readonly code: 'exists' | 'unknown' | 'cannot' | 'bad-name' | 'limit', message: string) {
    super(message);
  }
}

/** What the folders need of the mail store around them. */
export interface FolderHost {
  readonly db: Database.Database;
  seal(table: string, column: string, rowKey: Uint8Array, plain: Uint8Array): Buffer;
  open(table: string, column: string, rowKey: Uint8Array, sealed: Uint8Array): Uint8Array;
  /** A keyed digest (the row key of a folder name). */
  digest(label: string, data: Uint8Array): Buffer;
  random(n: number): Uint8Array;
  mailRaw(mailId: number): Uint8Array | undefined;
  /** A received mail's read flag (its \Seen); undefined for a sent mail, whose flags are kept here. */
  mailRead(mailId: number): boolean | undefined;
  /** Sets a received mail's read flag (the store then calls mailChanged). */
  setMailRead(mailId: number, read: boolean): void;
  /** The last message showing a received mail was expunged: the mail goes too. */
  mailUnreferenced(mailId: number): void;
}

interface FolderRow { id: number; fkey: Buffer; name: Buffer; uid_validity: number; uid_next: number; subscribed: number }
interface MessageRow { id: number; uid: number; mail: number | null; rid: Buffer; state: Buffer }
interface MessageState { flags: string[]; internalMs: number; size: number }

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** INBOX is one folder whatever its case (RFC 3501 5.1); other names are as given. */
export function canonicalFolderName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

export function checkFolderName(name: string): string {
  const canonical = canonicalFolderName(name);
  const bad = canonical.length === 0 || canonical.length > MAX_FOLDER_NAME || /[\u0000-\u001f\u007f*%]/.test(canonical)
    || canonical.startsWith(FOLDER_DELIMITER) || canonical.endsWith(FOLDER_DELIMITER) || canonical.includes(FOLDER_DELIMITER + FOLDER_DELIMITER);
  if (bad) throw new FolderError('bad-name', 'not a valid folder name');
  return canonical;
}

/** Flags as stored: system flags in their canonical case, keywords as atoms, no duplicates. */
export function normaliseFlags(flags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const flag of flags) {
    const system = SYSTEM_FLAGS.find((f) => f.toLowerCase() === flag.toLowerCase());
    if (system !== undefined) out.add(system);
    else if (!flag.startsWith('\\') && flag.length <= MAX_FLAG_LENGTH && /^[\x21-\x7e]+$/.test(flag) && !/[(){%*"\]\\]/.test(flag)) out.add(flag);
  }
  if (out.size > MAX_FLAGS) throw new FolderError('limit', `at most ${MAX_FLAGS} flags on a message`);
  return [...out];
}

/** The flags with \Seen set (last, as +FLAGS adds it) or cleared. */
function withSeen(flags: readonly string[], seen: boolean): string[] {
  const rest = flags.filter((flag) => flag !== '\\Seen');
  return seen ? [...rest, '\\Seen'] : rest;
}

export class MailFolders {
  private readonly cache = new Map<number, FolderMessage[]>();
  private readonly listeners = new Set<(folderId: number) => void>();

  constructor(private readonly host: FolderHost) {}

  /** Creates the standard folders and files every mail stored before folders existed. */
  initialise(existing: readonly { id: number; folder: 'inbox' | 'sent'; internalMs: number; size: number }[]): void {
    this.host.db.transaction(() => {
      for (const name of STANDARD_FOLDERS) if (this.find(name) === undefined) this.insertFolder(name);
      for (const mail of existing) this.fileMail(mail.id, mail.folder, mail.internalMs, mail.size);
    })();
  }

  onChange(listener: (folderId: number) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  private changed(folderId: number): void {
    this.cache.delete(folderId);
    for (const listener of this.listeners) listener(folderId);
  }

  private fkey(name: string): Buffer {
    return this.host.digest('umbra folder name v1', encoder.encode(canonicalFolderName(name)));
  }

  private info(row: FolderRow): FolderInfo {
    return {
      id: row.id, name: decoder.decode(this.host.open('folders', 'name', row.fkey, row.name)),
      uidValidity: row.uid_validity, uidNext: row.uid_next, subscribed: row.subscribed === 1,
    };
  }

  list(): FolderInfo[] {
    const rows = this.host.db.prepare('SELECT * FROM folders ORDER BY id').all() as FolderRow[];
    return rows.map((row) => this.info(row));
  }

  find(name: string): FolderInfo | undefined {
    const row = this.host.db.prepare('SELECT * FROM folders WHERE fkey = ?').get(this.fkey(name)) as FolderRow | undefined;
    return row === undefined ? undefined : this.info(row);
  }

  byId(id: number): FolderInfo | undefined {
    const row = this.host.db.prepare('SELECT * FROM folders WHERE id = ?').get(id) as FolderRow | undefined;
    return row === undefined ? undefined : this.info(row);
  }

  private insertFolder(name: string): FolderInfo {
    const db = this.host.db;
    const count = (db.prepare('SELECT count(*) AS n FROM folders').get() as { n: number }).n;
    if (count >= MAX_FOLDERS) throw new FolderError('limit', `at most ${MAX_FOLDERS} folders`);
    // Never the UIDVALIDITY of a folder that had this name before (RFC 3501 2.3.1.1).
    const last = (db.prepare('SELECT max(uid_validity) AS v FROM folders').get() as { v: number | null }).v ?? 0;
    const stored = this.host.db.prepare("SELECT value FROM agent_state WHERE name = 'folders-uidvalidity'").get() as { value: Buffer } | undefined;
    const used = stored === undefined ? 0 : Number(decoder.decode(this.host.open('agent_state', 'value', encoder.encode('folders-uidvalidity'), stored.value)));
    const validity = Math.max(Math.floor(Date.now() / 1000), last + 1, used + 1) % 2 ** 32 || 1;
    db.prepare("INSERT INTO agent_state (name, value) VALUES ('folders-uidvalidity', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
      .run(this.host.seal('agent_state', 'value', encoder.encode('folders-uidvalidity'), encoder.encode(String(validity))));
    const fkey = this.fkey(name);
    const result = db.prepare('INSERT INTO folders (fkey, name, uid_validity, uid_next, subscribed) VALUES (?, ?, ?, 1, 1)')
      .run(fkey, this.host.seal('folders', 'name', fkey, encoder.encode(canonicalFolderName(name))), validity);
    return this.byId(Number(result.lastInsertRowid))!;
  }

  create(name: string): FolderInfo {
    const canonical = checkFolderName(name);
    if (this.find(canonical) !== undefined) throw new FolderError('exists', 'the folder exists');
    return this.host.db.transaction(() => {
      // Parents are made too (RFC 3501 6.3.3).
      const parts = canonical.split(FOLDER_DELIMITER);
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join(FOLDER_DELIMITER);
        if (this.find(parent) === undefined) this.insertFolder(parent);
      }
      return this.insertFolder(canonical);
    })();
  }

  private children(name: string): FolderInfo[] {
    return this.list().filter((f) => f.name.startsWith(name + FOLDER_DELIMITER));
  }

  remove(name: string): void {
    const folder = this.need(name);
    if ((STANDARD_FOLDERS as readonly string[]).includes(folder.name)) throw new FolderError('cannot', `${folder.name} cannot be deleted`);
    if (this.children(folder.name).length > 0) throw new FolderError('cannot', 'the folder has subfolders: delete them first');
    this.host.db.transaction(() => {
      this.expunge(folder.id, this.messages(folder.id).map((m) => m.id));
      this.host.db.prepare('DELETE FROM folders WHERE id = ?').run(folder.id);
    })();
    this.changed(folder.id);
  }

  rename(from: string, to: string): void {
    const folder = this.need(from);
    const target = checkFolderName(to);
    if ((STANDARD_FOLDERS as readonly string[]).includes(folder.name)) throw new FolderError('cannot', `${folder.name} cannot be renamed`);
    if (this.find(target) !== undefined) throw new FolderError('exists', 'a folder with the new name exists');
    const moving = [folder, ...this.children(folder.name)];
    this.host.db.transaction(() => {
      for (const f of moving) {
        const name = target + f.name.slice(folder.name.length);
        const fkey = this.fkey(name);
        this.host.db.prepare('UPDATE folders SET fkey = ?, name = ? WHERE id = ?').run(fkey, this.host.seal('folders', 'name', fkey, encoder.encode(name)), f.id);
      }
      const parts = target.split(FOLDER_DELIMITER);
      for (let i = 1; i < parts.length; i++) {
        const parent = parts.slice(0, i).join(FOLDER_DELIMITER);
        if (this.find(parent) === undefined) this.insertFolder(parent);
      }
    })();
    for (const f of moving) this.changed(f.id);
  }

  setSubscribed(name: string, subscribed: boolean): void {
    const folder = this.need(name);
    this.host.db.prepare('UPDATE folders SET subscribed = ? WHERE id = ?').run(subscribed ? 1 : 0, folder.id);
  }

  private need(name: string): FolderInfo {
    const folder = this.find(name);
    if (folder === undefined) throw new FolderError('unknown', 'no such folder');
    return folder;
  }

  /** The messages of a folder by ascending UID. */
  messages(folderId: number): readonly FolderMessage[] {
    const cached = this.cache.get(folderId);
    if (cached !== undefined) return cached;
    const rows = this.host.db.prepare('SELECT id, uid, mail, rid, state FROM folder_mails WHERE folder = ? ORDER BY uid').all(folderId) as MessageRow[];
    const messages = rows.map((row) => this.message(row));
    this.cache.set(folderId, messages);
    return messages;
  }

  private message(row: MessageRow): FolderMessage {
    const state = JSON.parse(decoder.decode(this.host.open('folder_mails', 'state', row.rid, row.state))) as MessageState;
    const read = row.mail === null ? undefined : this.host.mailRead(row.mail);
    const flags = read === undefined ? state.flags : withSeen(state.flags, read);
    return { id: row.id, uid: row.uid, flags, internalMs: state.internalMs, size: state.size, ...(row.mail === null ? {} : { mailId: row.mail }) };
  }

  /** The flags stored for a message: a received mail's \Seen is its read flag, kept with the mail. */
  private storedFlags(mailId: number | null, flags: readonly string[]): string[] {
    const derived = mailId !== null && this.host.mailRead(mailId) !== undefined;
    return derived ? flags.filter((flag) => flag !== '\\Seen') : [...flags];
  }

  /** The RFC 5322 bytes of a message; undefined if it is gone. */
  raw(messageId: number): Uint8Array | undefined {
    const row = this.host.db.prepare('SELECT mail, rid, raw FROM folder_mails WHERE id = ?').get(messageId) as { mail: number | null; rid: Buffer; raw: Buffer | null } | undefined;
    if (row === undefined) return undefined;
    if (row.mail !== null) return this.host.mailRaw(row.mail);
    return this.host.open('folder_mails', 'raw', row.rid, row.raw!);
  }

  private insertMessage(folderId: number, state: MessageState, mailId: number | null, raw: Uint8Array | null): FolderMessage {
    const db = this.host.db;
    const folder = db.prepare('SELECT uid_next FROM folders WHERE id = ?').get(folderId) as { uid_next: number } | undefined;
    if (folder === undefined) throw new FolderError('unknown', 'no such folder');
    const rid = this.host.random(16);
    const sealedState = this.host.seal('folder_mails', 'state', rid, encoder.encode(JSON.stringify(state)));
    const sealedRaw = raw === null ? null : this.host.seal('folder_mails', 'raw', rid, raw);
    const result = db.prepare('INSERT INTO folder_mails (folder, uid, mail, rid, state, raw) VALUES (?, ?, ?, ?, ?, ?)')
      .run(folderId, folder.uid_next, mailId, Buffer.from(rid), sealedState, sealedRaw);
    db.prepare('UPDATE folders SET uid_next = uid_next + 1 WHERE id = ?').run(folderId);
    return { id: Number(result.lastInsertRowid), uid: folder.uid_next, ...state, ...(mailId === null ? {} : { mailId }) };
  }

  /** Files a mail the agent just stored: received mail into INBOX (\Seen is its read flag), sent mail into Sent (\Seen). */
  fileMail(mailId: number, kind: 'inbox' | 'sent', internalMs: number, size: number): void {
    const folder = this.find(kind === 'inbox' ? 'INBOX' : 'Sent');
    if (folder === undefined) return; // not initialised yet: initialise() files it
    this.insertMessage(folder.id, { flags: kind === 'sent' ? ['\\Seen'] : [], internalMs, size }, mailId, null);
    this.changed(folder.id);
  }

  /** A mail's read flag changed in the store: every folder showing it changes (cached flags, IDLE). */
  mailChanged(mailId: number): void {
    const rows = this.host.db.prepare('SELECT DISTINCT folder FROM folder_mails WHERE mail = ?').all(mailId) as { folder: number }[];
    for (const { folder } of rows) this.changed(folder);
  }

  append(folderId: number, raw: Uint8Array, flags: readonly string[], internalMs: number): FolderMessage {
    const message = this.insertMessage(folderId, { flags: normaliseFlags(flags), internalMs, size: raw.length }, null, raw.slice());
    this.changed(folderId);
    return message;
  }

  setFlags(folderId: number, messageId: number, flags: readonly string[]): FolderMessage | undefined {
    const row = this.host.db.prepare('SELECT id, uid, mail, rid, state FROM folder_mails WHERE id = ? AND folder = ?').get(messageId, folderId) as MessageRow | undefined;
    if (row === undefined) return undefined;
    const before = this.message(row);
    const wanted = normaliseFlags(flags);
    const next: MessageState = { flags: this.storedFlags(row.mail, wanted), internalMs: before.internalMs, size: before.size };
    this.host.db.transaction(() => {
      this.host.db.prepare('UPDATE folder_mails SET state = ? WHERE id = ?').run(this.host.seal('folder_mails', 'state', row.rid, encoder.encode(JSON.stringify(next))), messageId);
      const seen = wanted.includes('\\Seen');
      if (row.mail !== null && this.host.mailRead(row.mail) === !seen) this.host.setMailRead(row.mail, seen);
    })();
    this.changed(folderId);
    const after = this.host.db.prepare('SELECT id, uid, mail, rid, state FROM folder_mails WHERE id = ?').get(messageId) as MessageRow;
    return this.message(after);
  }

  /** Copies messages into another folder (new UIDs there, flags kept); the copies in order. */
  copy(fromFolderId: number, messageIds: readonly number[], toFolderId: number): FolderMessage[] {
    const copies = this.host.db.transaction(() => messageIds.map((id) => {
      const row = this.host.db.prepare('SELECT id, uid, mail, rid, state, raw FROM folder_mails WHERE id = ? AND folder = ?').get(id, fromFolderId) as (MessageRow & { raw: Buffer | null }) | undefined;
      if (row === undefined) return undefined;
      const { flags, internalMs, size } = this.message(row);
      const raw = row.mail === null ? this.host.open('folder_mails', 'raw', row.rid, row.raw!) : null;
      const copy = this.insertMessage(toFolderId, { flags: this.storedFlags(row.mail, flags), internalMs, size }, row.mail, raw);
      return { ...copy, flags };
    }))();
    this.changed(toFolderId);
    return copies.filter((c): c is FolderMessage => c !== undefined);
  }

  /** Removes messages from a folder; a received mail no longer shown anywhere is deleted. */
  expunge(folderId: number, messageIds: readonly number[]): void {
    const db = this.host.db;
    db.transaction(() => {
      for (const id of messageIds) {
        const row = db.prepare('SELECT mail FROM folder_mails WHERE id = ? AND folder = ?').get(id, folderId) as { mail: number | null } | undefined;
        if (row === undefined) continue;
        db.prepare('DELETE FROM folder_mails WHERE id = ?').run(id);
        if (row.mail !== null && db.prepare('SELECT 1 FROM folder_mails WHERE mail = ?').get(row.mail) === undefined) this.host.mailUnreferenced(row.mail);
      }
    })();
    this.changed(folderId);
  }

  /** A mail deleted from the store (`umbra client delete`, the API) leaves every folder. */
  forgetMail(mailId: number): void {
    const rows = this.host.db.prepare('SELECT DISTINCT folder FROM folder_mails WHERE mail = ?').all(mailId) as { folder: number }[];
    this.host.db.prepare('DELETE FROM folder_mails WHERE mail = ?').run(mailId);
    for (const { folder } of rows) this.changed(folder);
  }
}
