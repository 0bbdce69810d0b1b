import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { ImapFlow } from 'imapflow';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { getCrypto } from '../../src/crypto/index.js';
import { removeTempDirs } from './support.js';
import { deliver, imapflow, openMailbox, type Mailbox } from './imap-support.js';

/**
 * The bridge's IMAP with two independent real clients, imapflow and Python's imaplib, over
 * STARTTLS: folders, FETCH (envelope, structure, sections, partial, a 5 MB attachment), flags,
 * SEARCH, MOVE to Archive, EXPUNGE, APPEND to Drafts, IDLE seeing a new mail arrive, and a
 * restart of the client between sessions keeping UIDVALIDITY, UIDs, flags and folders.
 */
let box: Mailbox;
let flow: ImapFlow;
const run = promisify(execFile);
const BIG = 5 * 2 ** 20;
let bigAttachment: Uint8Array;

before(async () => {
  box = await openMailbox('bob');
  deliver(box, { from: 'Ana María', subject: 'Grüße aus Zürich ☕', body: 'Hallo Bob,\nbis morgen im Café.\n' });
  deliver(box, { from: 'alice', subject: 'plain ascii', body: 'the quick brown fox\n', dateMs: Date.UTC(2026, 10, 20, 8) });
  bigAttachment = seededRandom(getCrypto('noble'), new Uint8Array(32).fill(5))(BIG);
  deliver(box, { from: 'alice', subject: 'the big file', body: 'see attached\n', attachments: [{ filename: 'big.bin', contentType: 'application/octet-stream', data: bigAttachment }] });
  flow = imapflow(box);
  await flow.connect();
});

after(async () => {
  await flow?.logout().catch(() => undefined);
  await box?.close();
  removeTempDirs();
});

function must<T>(value: T | false | undefined): T {
  assert.ok(value !== false && value !== undefined, 'the server answered');
  return value as T;
}

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('the bridge: IMAP with imapflow', () => {
  test('the standard folders are listed with their special uses', async () => {
    const folders = await flow.list();
    const names = folders.map((f) => f.path);
    for (const name of ['INBOX', 'Sent', 'Drafts', 'Trash', 'Archive']) assert.ok(names.includes(name), name);
    assert.equal(folders.find((f) => f.path === 'Sent')?.specialUse, '\\Sent');
    assert.equal(folders.find((f) => f.path === 'Archive')?.specialUse, '\\Archive');
  });

  test('FETCH: envelope with UTF-8 headers, structure, size, flags, internal date; PEEK leaves \\Seen off', async () => {
    const mailbox = await flow.mailboxOpen('INBOX');
    assert.equal(mailbox.exists, 3);
    const messages = [];
    for await (const m of flow.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true, internalDate: true, size: true, headers: ['subject'] })) messages.push(m);
    assert.deepEqual(messages.map((m) => m.uid), [1, 2, 3]);
    assert.equal(messages[0].envelope?.subject, 'Grüße aus Zürich ☕');
    assert.equal(messages[0].envelope?.from?.[0].name, 'Ana María');
    assert.equal(messages[0].flags?.size, 0, 'BODY.PEEK does not set \\Seen');
    assert.equal(messages[2].bodyStructure?.type, 'multipart/mixed');
    assert.equal(messages[2].bodyStructure?.childNodes?.[1].dispositionParameters?.filename, 'big.bin');
    assert.ok((messages[2].size ?? 0) > BIG, 'RFC822.SIZE counts the whole message');
    assert.equal((messages[1].internalDate as Date).toISOString(), '2026-11-20T08:01:00.000Z');
    const partial = must(await flow.fetchOne('2', { bodyParts: ['TEXT'] }));
    assert.match(Buffer.from(partial.bodyParts!.get('text')!).toString(), /quick brown fox/);
  });

  test('a 5 MB attachment comes back byte for byte', async () => {
    const { content } = await flow.download('3', '2', { uid: true });
    const chunks: Buffer[] = [];
    for await (const chunk of must(content)) chunks.push(chunk as Buffer);
    assert.equal(sha(Buffer.concat(chunks)), sha(bigAttachment));
  });

  test('flags: \\Flagged and \\Seen set and cleared, visible to a second session', async () => {
    await flow.messageFlagsAdd('1', ['\\Flagged', '\\Seen'], { uid: true });
    const other = imapflow(box);
    await other.connect();
    await other.mailboxOpen('INBOX');
    const seen = must(await other.fetchOne('1', { flags: true }, { uid: true }));
    assert.deepEqual([...seen.flags!].sort(), ['\\Flagged', '\\Seen']);
    await other.logout();
    await flow.messageFlagsRemove('1', ['\\Flagged'], { uid: true });
    const after = must(await flow.fetchOne('1', { flags: true }, { uid: true }));
    assert.deepEqual([...after.flags!], ['\\Seen']);
    assert.equal(box.client.inbox()[0].read, true, '\\Seen marks the mail read for `umbra client inbox` too');
  });

  test('reading a mail with the client (`umbra client read N`, the API) is \\Seen, pushed to an IDLE session; clearing \\Seen makes it unread', { timeout: 20_000 }, async () => {
    assert.deepEqual(box.client.inbox().map((m) => [m.number, m.read]), [[1, true], [2, false], [3, false]]);
    const watcher = imapflow(box);
    await watcher.connect();
    await watcher.mailboxOpen('INBOX');
    const told = new Promise<{ uid?: number; flags: Set<string> }>((resolve) => watcher.on('flags', resolve));
    const idling = watcher.idle();
    box.client.read(box.client.mailIdOf('inbox', 2));
    const update = await told;
    assert.deepEqual([update.uid ?? 2, [...update.flags]], [2, ['\\Seen']]);
    const fetched = must(await flow.fetchOne('2', { flags: true }, { uid: true }));
    assert.deepEqual([...fetched.flags!], ['\\Seen']);
    await flow.messageFlagsRemove('2', ['\\Seen'], { uid: true });
    assert.deepEqual(box.client.inbox().map((m) => [m.number, m.read]), [[1, true], [2, false], [3, false]]);
    await watcher.logout();
    await idling.catch(() => undefined);
  });

  test('SEARCH: header (UTF-8), body, flags, dates', async () => {
    assert.deepEqual(await flow.search({ subject: 'Zürich' }, { uid: true }), [1]);
    assert.deepEqual(await flow.search({ body: 'brown fox' }, { uid: true }), [2]);
    assert.deepEqual(await flow.search({ seen: false }, { uid: true }), [2, 3]);
    assert.deepEqual(await flow.search({ from: 'alice' }, { uid: true }), [2, 3]);
    assert.deepEqual(await flow.search({ before: new Date(Date.UTC(2026, 10, 25)) }, { uid: true }), [2]);
    assert.deepEqual(await flow.search({ larger: BIG }, { uid: true }), [3]);
    assert.deepEqual(await flow.search({ or: [{ subject: 'ascii' }, { subject: 'big file' }] }, { uid: true }), [2, 3]);
  });

  test('MOVE to Archive answers COPYUID; EXPUNGE removes what is \\Deleted', async () => {
    const moved = must(await flow.messageMove('2', 'Archive', { uid: true }));
    assert.equal(moved.uidMap?.get(2), 1);
    assert.equal(flow.mailbox && flow.mailbox.exists, 2);
    const archive = must(await flow.status('Archive', { messages: true, uidNext: true }));
    assert.deepEqual({ messages: archive.messages, uidNext: archive.uidNext }, { messages: 1, uidNext: 2 });
    await flow.messageCopy('1', 'Trash', { uid: true });
    await flow.messageFlagsAdd('1', ['\\Deleted'], { uid: true });
    await flow.messageDelete('1', { uid: true });
    const left = [];
    for await (const m of flow.fetch('1:*', { uid: true })) left.push(m.uid);
    assert.deepEqual(left, [3]);
    assert.equal((must(await flow.status('Trash', { messages: true }))).messages, 1, 'the copy in Trash stays');
  });

  test('APPEND to Drafts answers APPENDUID and keeps the flags', async () => {
    const draft = 'From: bob@umbra\r\nTo: alice@umbra\r\nSubject: Entwurf über Brücken\r\n\r\nnot finished\r\n';
    const appended = must(await flow.append('Drafts', draft, ['\\Draft', '\\Seen']));
    assert.equal(appended.uid, 1);
    const lock = await flow.getMailboxLock('Drafts');
    try {
      const message = must(await flow.fetchOne('1', { source: true, flags: true }, { uid: true }));
      assert.equal(message.source?.toString(), draft);
      assert.deepEqual([...message.flags!].sort(), ['\\Draft', '\\Seen']);
    } finally {
      lock.release();
    }
  });

  test('user folders: CREATE, RENAME, DELETE, SUBSCRIBE', async () => {
    await flow.mailboxCreate('Projects/Umbra');
    await flow.mailboxRename('Projects/Umbra', 'Projects/Bridge');
    const names = (await flow.list()).map((f) => f.path);
    assert.ok(names.includes('Projects/Bridge') && !names.includes('Projects/Umbra'));
    await assert.rejects(flow.mailboxDelete('Sent'));
    await flow.mailboxCreate('Scratch');
    await flow.mailboxDelete('Scratch');
    assert.ok(!(await flow.list()).some((f) => f.path === 'Scratch'));
  });

  test('IDLE: a mail stored while idling appears at once', async () => {
    await flow.mailboxOpen('INBOX');
    const before = flow.mailbox ? flow.mailbox.exists : 0;
    const arrived = new Promise<number>((resolve) => flow.once('exists', (data: { count: number }) => resolve(data.count)));
    const idling = flow.idle();
    await new Promise((resolve) => setImmediate(resolve));
    deliver(box, { from: 'alice', subject: 'while you idled', body: 'new\n' });
    assert.equal(await arrived, before + 1);
    // The next command ends IDLE (imapflow sends DONE first); idle() resolves then.
    const latest = must(await flow.fetchOne('*', { envelope: true }));
    assert.equal(latest.envelope?.subject, 'while you idled');
    await idling;
  });
});

describe('the bridge: IMAP with Python\'s imaplib, and a restart', () => {
  test('imaplib: STARTTLS, LIST, SELECT, FETCH, STORE, SEARCH, partial fetch, the 5 MB part', async () => {
    const script = [
      'import imaplib, ssl, sys, hashlib, base64',
      'port, cert, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]',
      'm = imaplib.IMAP4("127.0.0.1", port)',
      'm.starttls(ssl_context=ssl.create_default_context(cadata=cert))',
      'm.login(user, pw)',
      'typ, boxes = m.list(); print("LIST", len(boxes))',
      'typ, data = m.select("INBOX"); print("EXISTS", data[0].decode())',
      'typ, data = m.uid("SEARCH", None, "SUBJECT", "big"); uid = data[0].decode(); print("UID", uid)',
      'typ, data = m.uid("FETCH", uid, "(BODY.PEEK[2])"); print("SHA", hashlib.sha256(base64.b64decode(data[0][1])).hexdigest())',
      'typ, data = m.uid("FETCH", uid, "(BODY.PEEK[]<0.10>)"); print("PARTIAL", data[0][1].decode())',
      'typ, data = m.uid("STORE", uid, "+FLAGS", "(\\\\Answered)"); print("STORE", data[0].decode())',
      'typ, data = m.search(None, "ANSWERED"); print("ANSWERED", data[0].decode())',
      'm.uid("FETCH", uid, "(BODY[1])"); typ, data = m.uid("FETCH", uid, "(FLAGS)"); print("AFTER", data[0].decode())',
      'typ, data = m.status("Drafts", "(MESSAGES)"); print("STATUS", data[0].decode())',
      'm.logout()',
    ].join('\n');
    const { stdout } = await run('python3', ['-c', script, String(box.server.port), box.credentials.tls.cert, box.credentials.username, box.credentials.password], { timeout: 60_000, maxBuffer: 1 << 20 });
    assert.match(stdout, /^LIST [5-9]$/m);
    assert.match(stdout, /^EXISTS 2$/m);
    assert.match(stdout, /^UID 3$/m);
    assert.match(stdout, new RegExp(`^SHA ${sha(bigAttachment)}$`, 'm'));
    assert.match(stdout, /^PARTIAL From: alic$/m);
    assert.match(stdout, /^STORE 1 \(FLAGS \(\\Answered\) UID 3\)$/m);
    assert.match(stdout, /^ANSWERED 1$/m);
    assert.match(stdout, /^AFTER 1 \(UID 3 FLAGS \(\\Answered \\Seen\)\)$/m, 'BODY[] without PEEK sets \\Seen');
    assert.match(stdout, /^STATUS "Drafts" \(MESSAGES 1\)$/m);
  });

  test('after a restart: the same UIDVALIDITY, UIDs, flags and folders', async () => {
    await flow.mailboxOpen('INBOX');
    const seen = async (client: ImapFlow): Promise<{ validity: string; messages: string[]; folders: string[] }> => {
      const mailbox = await client.mailboxOpen('INBOX');
      const messages = [];
      for await (const m of client.fetch('1:*', { uid: true, flags: true })) messages.push(`${m.uid}:${[...m.flags!].sort().join(',')}`);
      return { validity: String(mailbox.uidValidity), messages, folders: (await client.list()).map((f) => f.path).sort() };
    };
    const before = await seen(flow);
    await flow.logout();
    await box.restart();
    flow = imapflow(box);
    await flow.connect();
    const after = await seen(flow);
    assert.deepEqual(after, before);
    assert.ok(before.messages.includes('3:\\Answered,\\Seen'));
    assert.ok(before.folders.includes('Projects/Bridge'));
  });
});
