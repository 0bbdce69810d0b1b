import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import * as fc from 'fast-check';
import { getCrypto } from '../../src/crypto/index.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { ClientError } from '../../src/client/errors.js';
import { MailStore } from '../../src/client/mail-store.js';
import { SCHEMA_VERSION } from '../../src/client/mail-store-schema.js';
import { removeTempDirs, tempDir } from './support.js';

/**
 * Each folder of the mail store numbers its own mail (inbox #1 is the first mail received, sent #1
 * the first sent), never reusing a number; a store of schema 1, where inbox and sent shared one
 * sequence, is numbered per folder when it is opened; and a received mail's read flag is the
 * \Seen every IMAP folder shows it with.
 */
const crypto = getCrypto('noble');
const KEY = new Uint8Array(32).fill(7);
let seed = 1;

after(() => removeTempDirs());

function openStore(path: string): MailStore {
  return MailStore.open(path, KEY, crypto, seededRandom(crypto, seed++));
}

let counter = 0;
function receive(store: MailStore, subject: string): number {
  const messageId = crypto.blake2b(16, new TextEncoder().encode(`received ${++counter}`));
  const raw = new TextEncoder().encode(`Subject: ${subject}\r\n\r\nbody\r\n`);
  const id = store.addInbox({ messageId: '00', fromKey: 'ab'.repeat(32), fromName: 'bob', receivedMs: 1000 + counter, read: false, subject, date: '', size: raw.length, attachments: 0 }, messageId, raw);
  assert.ok(id !== undefined);
  return id;
}

function send(store: MailStore, subject: string): number {
  const raw = new TextEncoder().encode(`Subject: ${subject}\r\n\r\nbody\r\n`);
  return store.addSent({ messageId: '00', toKey: 'cd'.repeat(32), toName: 'carol', createdMs: 2000 + ++counter, status: 'queued', statusMs: 0, subject, size: raw.length, fragments: 1, attempts: 1 }, raw);
}

const numbered = (store: MailStore, folder: 'inbox' | 'sent') => store.list(folder).map((mail) => [mail.number, mail.subject]);

test('inbox and sent number their mail separately: the first received mail after two sent is inbox #1', () => {
  const store = openStore(join(tempDir(), 'mail.db'));
  send(store, 's1');
  send(store, 's2');
  const first = receive(store, 'i1');
  assert.equal(first, 3, 'the row id is the store\'s, shared by both folders');
  assert.equal(store.numberOf(first), 1);
  assert.equal(store.idOf('inbox', 1), first);
  assert.equal(store.idOf('inbox', 2), undefined);
  assert.deepEqual(numbered(store, 'inbox'), [[1, 'i1']]);
  assert.deepEqual(numbered(store, 'sent'), [[1, 's1'], [2, 's2']]);
  // A deleted mail's number is not given again.
  store.delete(first);
  receive(store, 'i2');
  assert.deepEqual(numbered(store, 'inbox'), [[2, 'i2']]);
  assert.equal(store.get(store.idOf('inbox', 2)!)?.record.number, 2);
  store.close();
});

test('property: any interleaving of receiving, sending and deleting numbers each folder 1, 2, 3… in order, never twice', () => {
  const op = fc.oneof(fc.constant({ kind: 'inbox' as const }), fc.constant({ kind: 'sent' as const }), fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
      const store = openStore(join(tempDir(), 'mail.db'));
      try {
        const given = { inbox: [] as number[], sent: [] as number[] };
        const live: number[] = [];
        for (const step of ops) {
          if (step.kind === 'delete') {
            if (live.length === 0) continue;
            const [id] = live.splice(step.pick % live.length, 1);
            assert.ok(store.delete(id));
            continue;
          }
          const id = step.kind === 'inbox' ? receive(store, 'x') : send(store, 'x');
          live.push(id);
          given[step.kind].push(store.numberOf(id)!);
        }
        for (const folder of ['inbox', 'sent'] as const) {
          assert.deepEqual(given[folder], given[folder].map((_, i) => i + 1), `${folder}: 1, 2, 3… in the order stored`);
          for (const mail of store.list(folder)) assert.equal(store.idOf(folder, mail.number), mail.id);
        }
      } finally {
        store.close();
      }
    }),
    { seed: 20261205, numRuns: 40 },
  );
});

/** Schema 1 as it was: one `mails` table numbering inbox and sent together, no mail_numbers. */
function downgradeToSchema1(path: string): void {
  const db = new Database(path);
  const { seq } = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'mails'").get() as { seq: number };
  db.exec(`
    CREATE TABLE mails_v1 (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      folder TEXT NOT NULL CHECK (folder IN ('inbox', 'sent')),
      rid BLOB NOT NULL UNIQUE,
      dedup BLOB UNIQUE,
      meta BLOB NOT NULL,
      raw BLOB NOT NULL
    );
    INSERT INTO mails_v1 (id, folder, rid, dedup, meta, raw) SELECT id, folder, rid, dedup, meta, raw FROM mails;
    DROP TABLE mails;
    ALTER TABLE mails_v1 RENAME TO mails;
    DROP TABLE mail_numbers;
    UPDATE schema_version SET version = 1;`);
  db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'mails'").run(seq);
  db.close();
}

test('a schema 1 store with inbox and sent interleaved is numbered per folder in the order it took them; ids, UIDs and flags stay', () => {
  const path = join(tempDir(), 'mail.db');
  const store = openStore(path);
  const order = ['inbox', 'sent', 'sent', 'inbox', 'inbox', 'sent', 'inbox'] as const;
  const ids = order.map((folder, i) => (folder === 'inbox' ? receive(store, `${folder} ${i}`) : send(store, `${folder} ${i}`)));
  store.setRead(ids[3], true);
  // The last mail stored was deleted: its row id must not come back.
  store.delete(ids[6]);
  const inboxFolder = store.folders.find('INBOX')!;
  const uidsBefore = store.folders.messages(inboxFolder.id).map((m) => [m.uid, m.mailId, m.flags]);
  store.close();
  downgradeToSchema1(path);
  const raw = new Database(path, { readonly: true });
  assert.equal((raw.prepare('SELECT version FROM schema_version').get() as { version: number }).version, 1);
  raw.close();

  const migrated = openStore(path);
  assert.deepEqual(migrated.list('inbox').map((m) => [m.id, m.number, m.subject]), [[ids[0], 1, 'inbox 0'], [ids[3], 2, 'inbox 3'], [ids[4], 3, 'inbox 4']]);
  assert.deepEqual(migrated.list('sent').map((m) => [m.id, m.number, m.subject]), [[ids[1], 1, 'sent 1'], [ids[2], 2, 'sent 2'], [ids[5], 3, 'sent 5']]);
  assert.equal(migrated.get(ids[3])?.record.folder, 'inbox', 'the sealed metadata still opens');
  const after = migrated.folders.find('INBOX')!;
  assert.deepEqual(migrated.folders.messages(after.id).map((m) => [m.uid, m.mailId, m.flags]), uidsBefore, 'IMAP UIDs and flags are untouched');
  const next = receive(migrated, 'new');
  assert.ok(next > ids[6], 'a row id once used is not given again');
  assert.equal(migrated.numberOf(next), 4);
  assert.equal(migrated.numberOf(send(migrated, 'new')), 4);
  migrated.close();
  const check = new Database(path, { readonly: true });
  assert.equal((check.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number }).v, SCHEMA_VERSION);
  check.close();
  // Opened again: nothing moves.
  const reopened = openStore(path);
  assert.deepEqual(reopened.list('inbox').map((m) => m.number), [1, 2, 3, 4]);
  reopened.close();
});

test('a store of a newer schema is refused', () => {
  const path = join(tempDir(), 'mail.db');
  openStore(path).close();
  const db = new Database(path);
  db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
  db.close();
  assert.throws(() => openStore(path), (error: unknown) => error instanceof ClientError && error.code === 'unsupported-keystore');
});

test('a received mail\'s read flag is its \\Seen in every folder showing it, whichever side changes it', () => {
  const store = openStore(join(tempDir(), 'mail.db'));
  const id = receive(store, 'hello');
  const inbox = store.folders.find('INBOX')!;
  const archive = store.folders.find('Archive')!;
  const [message] = store.folders.messages(inbox.id);
  const [copy] = store.folders.copy(inbox.id, [message.id], archive.id);
  const seen = () => [inbox, archive].map((folder) => store.folders.messages(folder.id)[0].flags.includes('\\Seen'));
  const changed: number[] = [];
  store.folders.onChange((folderId) => changed.push(folderId));
  assert.deepEqual(seen(), [false, false]);

  store.setRead(id, true); // `umbra client read`, GET /api/v1/messages/{id}, the web client
  assert.deepEqual(seen(), [true, true]);
  assert.deepEqual([...new Set(changed)].sort(), [inbox.id, archive.id].sort(), 'both folders are told (IMAP IDLE)');

  store.folders.setFlags(archive.id, copy.id, ['\\Flagged']); // IMAP: STORE FLAGS (\Flagged) on the copy
  const readFlag = () => store.list('inbox').map((mail) => mail.folder === 'inbox' && mail.read);
  assert.deepEqual(readFlag(), [false]);
  assert.deepEqual(seen(), [false, false]);
  assert.deepEqual(store.folders.messages(archive.id)[0].flags, ['\\Flagged']);

  store.folders.setFlags(inbox.id, message.id, ['\\Seen', '\\Answered']);
  assert.deepEqual(readFlag(), [true]);
  assert.deepEqual(store.folders.messages(inbox.id)[0].flags, ['\\Answered', '\\Seen']);
  assert.deepEqual(store.folders.messages(archive.id)[0].flags, ['\\Flagged', '\\Seen']);
  store.close();
});
