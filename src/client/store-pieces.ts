import type Database from 'better-sqlite3';
import { concatBytes } from '../codec/bytes.js';

/**
 * Large sealed values of the mail store kept in pieces (docs/client.md, "Mail store", schema 4).
 * Writing a megabyte value in one transaction holds the event loop for tens of milliseconds (more
 * on a loaded machine), and the event loop times the client's Poisson send slots: a send() would
 * show as a gap in the traffic. So the agent writes such a value first, PIECE_BYTES per
 * transaction, one transaction per turn of the event loop (stagePieces), and only then the row that
 * names it, in one small transaction, with its column empty. Until that row is committed the pieces
 * belong to nothing: a crash in between leaves orphans, which the next open deletes
 * (dropOrphanPieces); the mail was never accepted.
 *
 * The pieces are the sealed bytes cut in order (nonce ‖ ciphertext ‖ tag): the seal, over the
 * whole value, authenticates them together, so a missing or reordered piece fails to open.
 */

/** The size of one piece: a transaction of this size takes well under a millisecond. */
export const PIECE_BYTES = 64 * 1024;

/** The columns whose values may be in pieces, and the row key (`owner`) that names them. */
export type PiecedColumn = 'mails.raw' | 'outgoing.body';

/** What a row's column holds when its value is in pieces (a sealed value is never empty). */
export const IN_PIECES = Buffer.alloc(0);

export const PIECES_SCHEMA = `
CREATE TABLE IF NOT EXISTS pieces (
  col TEXT NOT NULL CHECK (col IN ('mails.raw', 'outgoing.body')),
  owner BLOB NOT NULL,
  seq INTEGER NOT NULL CHECK (seq >= 0),
  data BLOB NOT NULL,
  PRIMARY KEY (col, owner, seq)
);
CREATE TRIGGER IF NOT EXISTS mails_drop_pieces AFTER DELETE ON mails
  BEGIN DELETE FROM pieces WHERE col = 'mails.raw' AND owner = old.rid; END;
CREATE TRIGGER IF NOT EXISTS outgoing_drop_pieces AFTER DELETE ON outgoing
  BEGIN DELETE FROM pieces WHERE col = 'outgoing.body' AND owner = old.mkey; END;
CREATE TRIGGER IF NOT EXISTS outgoing_replace_pieces AFTER UPDATE OF body ON outgoing WHEN length(new.body) > 0
  BEGIN DELETE FROM pieces WHERE col = 'outgoing.body' AND owner = old.mkey; END;`;

/** Whether a value is worth writing in pieces (a smaller one goes in its row, as before schema 4). */
export function needsPieces(sealed: Uint8Array): boolean {
  return sealed.length > PIECE_BYTES;
}

/**
 * Writes `sealed` as the pieces of `column` for row key `owner`, one small transaction per turn of
 * the event loop (`db` is asked before each, and throws to stop: a store closed meanwhile). Any
 * pieces left from an earlier attempt for the same owner are replaced.
 */
export async function stagePieces(db: () => Database.Database, column: PiecedColumn, owner: Uint8Array, sealed: Uint8Array): Promise<void> {
  const ownerBuffer = Buffer.from(owner);
  db().prepare('DELETE FROM pieces WHERE col = ? AND owner = ?').run(column, ownerBuffer);
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  for (let seq = 0, offset = 0; offset < bytes.length; seq++, offset += PIECE_BYTES) {
    await nextTurn();
    db().prepare('INSERT INTO pieces (col, owner, seq, data) VALUES (?, ?, ?, ?)').run(column, ownerBuffer, seq, bytes.subarray(offset, offset + PIECE_BYTES));
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The value of `column` for `owner` put back together (empty when there are no pieces). */
export function readPieces(db: Database.Database, column: PiecedColumn, owner: Uint8Array): Uint8Array {
  const pieces = db.prepare('SELECT data FROM pieces WHERE col = ? AND owner = ? ORDER BY seq').pluck().all(column, Buffer.from(owner)) as Buffer[];
  return pieces.length === 1 ? pieces[0] : concatBytes(...pieces);
}

/** Deletes the pieces of `owner` (a send that stopped before its row was written). */
export function dropPieces(db: Database.Database, column: PiecedColumn, owner: Uint8Array): void {
  db.prepare('DELETE FROM pieces WHERE col = ? AND owner = ?').run(column, Buffer.from(owner));
}

/** Deletes pieces that no row names (left by a send that stopped before its row was written). */
export function dropOrphanPieces(db: Database.Database): number {
  return db.prepare(`DELETE FROM pieces WHERE
    (col = 'mails.raw' AND NOT EXISTS (SELECT 1 FROM mails m WHERE m.rid = pieces.owner AND length(m.raw) = 0)) OR
    (col = 'outgoing.body' AND NOT EXISTS (SELECT 1 FROM outgoing o WHERE o.mkey = pieces.owner AND length(o.body) = 0))`).run().changes;
}
