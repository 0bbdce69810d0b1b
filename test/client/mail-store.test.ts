import * as assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { getCrypto, systemRandom } from '../../src/crypto/index.js';
import { MailStore } from '../../src/client/mail-store.js';
import { SCHEMA_VERSION } from '../../src/client/mail-store-schema.js';
import { sealColumn } from '../../src/client/store-seal.js';
import { IN_PIECES, PIECE_BYTES } from '../../src/client/store-pieces.js';
import { removeTempDirs, tempDir, waitFor } from './support.js';

after(() => removeTempDirs());
const crypto = getCrypto('sodium');
const key = new Uint8Array(32).fill(3);
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

test('a schema-1 store (progress beside the body) is migrated on open, its sealed values unchanged', () => {
  const path = join(tempDir(), 'mail.db');
  const store = MailStore.open(path, key, crypto, systemRandom(crypto));
  store.putOutgoing(bytes(16, 1), bytes(5000, 2), bytes(40, 3));
  store.close();
  // Back to the version-1 layout: one outgoing table with both columns.
  const db = new Database(path);
  db.exec(`CREATE TABLE outgoing_v1 (mkey BLOB PRIMARY KEY, body BLOB NOT NULL, state BLOB NOT NULL);
    INSERT INTO outgoing_v1 SELECT o.mkey, o.body, p.state FROM outgoing o JOIN outgoing_progress p ON p.mkey = o.mkey;
    DROP TABLE outgoing; DROP TABLE outgoing_progress; ALTER TABLE outgoing_v1 RENAME TO outgoing;
    DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (1);`);
  db.close();
  const reopened = MailStore.open(path, key, crypto, systemRandom(crypto));
  const [row] = reopened.listOutgoing();
  assert.deepEqual([...row.body], [...bytes(5000, 2)]);
  assert.deepEqual([...row.state], [...bytes(40, 3)]);
  reopened.updateOutgoingState(bytes(16, 1), bytes(41, 4));
  assert.deepEqual([...reopened.listOutgoing()[0].state], [...bytes(41, 4)]);
  reopened.close();
  const check = new Database(path);
  assert.equal(check.prepare('SELECT max(version) FROM schema_version').pluck().get(), SCHEMA_VERSION);
  check.close();
});

test('a sent mail and an outgoing body sealed elsewhere read back; the predicted row id is the one given', () => {
  const store = MailStore.open(join(tempDir(), 'mail.db'), key, crypto, systemRandom(crypto));
  const sent = store.prepareSent();
  const raw = bytes(3000, 9);
  const meta = { messageId: 'aa', toKey: 'bb', toName: 'bob', createdMs: 1, status: 'queued' as const, statusMs: 1, subject: 's', size: raw.length, fragments: 1, attempts: 1 };
  const id = store.addSentSealed(meta, { rid: sent.rid, raw: sealColumn(crypto, sent.seal, raw), size: raw.length });
  assert.equal(id, sent.mailId);
  assert.deepEqual([...store.get(id)!.raw], [...raw]);
  const messageId = bytes(16, 5);
  store.putOutgoingSealed(messageId, sealColumn(crypto, store.outgoingBodySeal(messageId), bytes(100, 6)), bytes(10, 7));
  assert.deepEqual([...store.listOutgoing()[0].body], [...bytes(100, 6)]);
  assert.equal(store.prepareSent().mailId, id + 1);
  store.close();
});

/** Rows of `pieces` for a column (clear: the table is read by a second connection). */
function pieceRows(path: string, column: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM pieces WHERE col = ?').pluck().get(column) as number;
  } finally {
    db.close();
  }
}

test('large sealed values are staged in pieces before their rows, read back whole, and go with their rows', async () => {
  const path = join(tempDir(), 'mail.db');
  const store = MailStore.open(path, key, crypto, systemRandom(crypto));
  const raw = bytes(3 * PIECE_BYTES + 5, 8);
  const sent = store.prepareSent();
  const sealedRaw = sealColumn(crypto, sent.seal, raw);
  assert.equal(await store.stageSealed('mails.raw', sent.rid, sealedRaw), IN_PIECES);
  assert.equal(pieceRows(path, 'mails.raw'), 4);
  const meta = { messageId: 'aa', toKey: 'bb', toName: 'bob', createdMs: 1, status: 'queued' as const, statusMs: 1, subject: 's', size: raw.length, fragments: 1, attempts: 1 };
  const id = store.addSentSealed(meta, { rid: sent.rid, raw: IN_PIECES, size: raw.length });
  assert.ok(Buffer.from(store.get(id)!.raw).equals(Buffer.from(raw)));

  const messageId = bytes(16, 5);
  const body = bytes(PIECE_BYTES * 2, 6);
  const staged = await store.stageSealed('outgoing.body', messageId, sealColumn(crypto, store.outgoingBodySeal(messageId), body));
  store.putOutgoingSealed(messageId, staged, bytes(10, 7));
  assert.ok(Buffer.from(store.listOutgoing()[0].body).equals(Buffer.from(body)));
  // A small value is not staged: it goes in its row.
  const small = sealColumn(crypto, store.outgoingBodySeal(messageId), bytes(100, 1));
  assert.equal(await store.stageSealed('outgoing.body', bytes(16, 9), small), small);

  store.deleteOutgoing(messageId);
  assert.equal(pieceRows(path, 'outgoing.body'), 0, 'an outgoing record\'s pieces go with it');
  store.delete(id);
  assert.equal(pieceRows(path, 'mails.raw'), 0, 'a mail\'s pieces go with it');
  store.close();
});

test('pieces staged for a mail whose row was never written (a send stopped, a crash) are dropped', async () => {
  const path = join(tempDir(), 'mail.db');
  const store = MailStore.open(path, key, crypto, systemRandom(crypto));
  const sent = store.prepareSent();
  await store.stageSealed('mails.raw', sent.rid, sealColumn(crypto, sent.seal, bytes(PIECE_BYTES * 2, 4)));
  const stopped = store.prepareSent();
  await store.stageSealed('mails.raw', stopped.rid, sealColumn(crypto, stopped.seal, bytes(PIECE_BYTES * 2, 4)));
  store.dropStaged('mails.raw', stopped.rid);
  assert.equal(pieceRows(path, 'mails.raw'), 3, 'a stopped send drops its own');
  // An outgoing body staged, then written whole after all: the pieces go.
  const messageId = bytes(16, 2);
  await store.stageSealed('outgoing.body', messageId, sealColumn(crypto, store.outgoingBodySeal(messageId), bytes(PIECE_BYTES * 2, 3)));
  store.putOutgoing(messageId, bytes(PIECE_BYTES * 2, 3), bytes(10, 7));
  assert.equal(pieceRows(path, 'outgoing.body'), 0);
  store.close();
  const reopened = MailStore.open(path, key, crypto, systemRandom(crypto));
  assert.equal(pieceRows(path, 'mails.raw'), 0, 'what a crash left is dropped on open');
  assert.ok(Buffer.from(reopened.listOutgoing()[0].body).equals(Buffer.from(bytes(PIECE_BYTES * 2, 3))));
  reopened.close();
});

test('the agent\'s store is checkpointed by a thread of its own: the log reaches the database file without a checkpoint on this thread', async () => {
  const path = join(tempDir(), 'mail.db');
  const store = MailStore.open(path, key, crypto, systemRandom(crypto));
  store.checkpointOffThread(); // this connection no longer checkpoints
  const before = statSync(path).size;
  // 3 MB of pieces: under SQLite's own threshold (1000 pages) anyway, so only the thread moves them.
  const sent = store.prepareSent();
  await store.stageSealed('mails.raw', sent.rid, sealColumn(crypto, sent.seal, bytes(3 << 20, 1)));
  await waitFor(() => statSync(path).size > before + (2 << 20), 'the checkpoint thread to copy the log into the database file', 10_000);
  store.close();
});
