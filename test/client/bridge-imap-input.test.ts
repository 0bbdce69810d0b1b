import * as assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_IMAP_CONNECTIONS } from '../../src/client/index.js';
import { parseCommand, ParseError } from '../../src/client/bridge/imap/parser.js';
import { CommandReader, type RawCommand } from '../../src/client/bridge/imap/reader.js';
import { removeTempDirs } from './support.js';
import { deliver, openMailbox, RawImap, type Mailbox } from './imap-support.js';

/**
 * The bridge's IMAP under bad input: garbage, unterminated strings and literals, a huge literal,
 * an overlong line, commands in the wrong state, login before STARTTLS, wrong passwords, too many
 * connections. Each gets a protocol answer, the server keeps serving, and the stored mail is intact.
 * The command reader and tokenizer are also fuzzed: any bytes, cut anywhere, give commands or
 * typed refusals, never an exception.
 */
let box: Mailbox;

before(async () => {
  box = await openMailbox('bob');
  deliver(box, { from: 'alice', subject: 'keep me', body: 'still here\n' });
});

after(async () => {
  await box?.close();
  removeTempDirs();
});

async function loggedIn(): Promise<RawImap> {
  const raw = await RawImap.open(box.server.port);
  await raw.startTls(box.credentials.tls.cert);
  const reply = await raw.command('l1', `LOGIN ${box.credentials.username} ${box.credentials.password}`);
  assert.match(reply, /^l1 OK/m);
  return raw;
}

async function mailIntact(): Promise<void> {
  const raw = await loggedIn();
  const reply = await raw.command('c1', 'SELECT INBOX');
  assert.match(reply, /^\* 1 EXISTS/m);
  assert.match(await raw.command('c2', 'FETCH 1 (BODY.PEEK[TEXT])'), /still here/);
  raw.end();
}

describe('the bridge: IMAP refuses bad input and keeps serving', () => {
  test('garbage, unterminated strings and lists, bad sequence sets: BAD, and the connection goes on', async () => {
    const raw = await RawImap.open(box.server.port);
    raw.write(Buffer.from([0x00, 0xff, 0xfe, 0x20, 0x41, 0x0d, 0x0a]));
    assert.match(await raw.until(/BAD.*\r\n/), /BAD/);
    assert.match(await raw.command('g1', 'LOGIN "unterminated'), /^g1 BAD unterminated quoted string/m);
    assert.match(await raw.command('g2', 'STATUS INBOX (MESSAGES'), /^g2 BAD/m);
    assert.match(await raw.command('g3', 'FROBNICATE'), /^g3 BAD unknown command/m);
    assert.match(await raw.command('g4', 'NOOP'), /^g4 OK/m);
    raw.end();
  });

  test('commands in the wrong state, and LOGIN before STARTTLS', async () => {
    const raw = await RawImap.open(box.server.port);
    assert.match(await raw.command('w1', 'SELECT INBOX'), /^w1 BAD .*log in first/m);
    assert.match(await raw.command('w2', `LOGIN ${box.credentials.username} ${box.credentials.password}`), /^w2 NO \[PRIVACYREQUIRED\]/m);
    assert.match(await raw.command('w3', 'AUTHENTICATE PLAIN'), /^w3 NO \[PRIVACYREQUIRED\]/m);
    raw.end();
    const session = await loggedIn();
    assert.match(await session.command('w4', 'FETCH 1 FLAGS'), /^w4 BAD .*select a folder first/m);
    assert.match(await session.command('w5', 'LOGIN a b'), /^w5 BAD/m);
    assert.match(await session.command('w6', 'SELECT INBOX'), /^w6 OK/m);
    assert.match(await session.command('w7', 'FETCH 1:* (BODY[NOPE])'), /^w7 BAD/m);
    assert.match(await session.command('w8', 'SEARCH CHARSET KOI8-R TEXT x'), /^w8 NO \[BADCHARSET/m);
    assert.match(await session.command('w9', 'COPY 1 Nowhere'), /^w9 NO \[TRYCREATE\]/m);
    session.end();
  });

  test('a huge synchronizing literal is refused before it is sent; an overlong line is skipped', async () => {
    const raw = await loggedIn();
    raw.write('h1 APPEND INBOX {100000000}\r\n');
    const reply = await raw.until(/^h1 .*\r\n/m);
    assert.match(reply, /^h1 BAD \[TOOBIG\]/m);
    assert.doesNotMatch(reply, /^\+/m, 'no continuation: the client never sends the bytes');
    raw.write(`${'x'.repeat(70_000)}\r\n`);
    assert.match(await raw.until(/^\* BAD line too long.*\r\n/m), /line too long/);
    assert.match(await raw.command('h2', 'NOOP'), /^h2 OK/m);
    raw.end();
  });

  test('a huge non-synchronizing literal ends that connection only; an unterminated literal costs nothing', async () => {
    const raw = await loggedIn();
    raw.write('n1 APPEND INBOX {100000000+}\r\nabc');
    assert.match(await raw.until(/^\* BYE .*\r\n/m), /too large/);
    await raw.closedByServer();
    const cut = await loggedIn();
    cut.write('u1 APPEND INBOX {50}\r\n');
    await cut.until(/^\+ .*\r\n/m);
    cut.write('From: half'); // and the client goes away
    cut.end();
    await mailIntact();
  });

  test('wrong passwords: refused; from the fourth on each refusal waits; the right one still works', async () => {
    const raw = await RawImap.open(box.server.port);
    await raw.startTls(box.credentials.tls.cert);
    for (const tag of ['p1', 'p2', 'p3']) assert.match(await raw.command(tag, `LOGIN ${box.credentials.username} wrong`), new RegExp(`^${tag} NO \\[AUTHENTICATIONFAILED\\]`, 'm'));
    const started = Date.now();
    assert.match(await raw.command('p4', `LOGIN ${box.credentials.username} wrong`), /^p4 NO/m);
    assert.ok(Date.now() - started >= 1900, 'the fourth wrong password is answered after the delay');
    const plain = Buffer.from(`\u0000${box.credentials.username}\u0000${box.credentials.password}`).toString('base64');
    assert.match(await raw.command('p5', `AUTHENTICATE PLAIN ${plain}`), /^p5 OK/m);
    raw.end();
  });

  test(`at most ${MAX_IMAP_CONNECTIONS} connections; the next is told BYE; the server goes on`, async () => {
    const open: RawImap[] = [];
    for (let i = 0; i < MAX_IMAP_CONNECTIONS; i++) open.push(await RawImap.open(box.server.port));
    const extra = await RawImap.open(box.server.port).catch((error: Error) => error);
    assert.ok(!(extra instanceof Error));
    await extra.closedByServer();
    for (const raw of open) raw.end();
    await Promise.all(open.map((raw) => raw.closedByServer()));
    await mailIntact();
  });
});

describe('the command reader and tokenizer (fuzzed)', () => {
  const limits = { maxLine: 2048, maxLiteral: 4096 };
  function read(chunks: readonly Uint8Array[]): string[] {
    const events: string[] = [];
    const reader = new CommandReader(limits, {
      command: (raw: RawCommand) => {
        try {
          const command = parseCommand(raw);
          events.push(`cmd ${command.tag} ${command.name} ${JSON.stringify(command.args)}`);
        } catch (error) {
          if (!(error instanceof ParseError)) throw error;
          events.push(`bad ${error.tag} ${error.message}`);
        }
      },
      continueLiteral: () => events.push('+'),
      refuse: (tag, text) => events.push(`refuse ${tag} ${text}`),
      fatal: (text) => events.push(`fatal ${text}`),
    });
    for (const chunk of chunks) reader.push(Buffer.from(chunk));
    return events;
  }

  const imapish = fc.array(fc.oneof(
    fc.constantFrom('a1 ', 'FETCH ', '1:* ', '(', ')', '"', '\\', '{', '}', '{5}\r\n', '{3+}\r\n', '[', ']', '<0.10>', 'BODY[HEADER.FIELDS (A B)]', ' ', '\r\n', 'NIL', '*', '%'),
    fc.string({ maxLength: 12 }),
  ), { maxLength: 60 }).map((parts) => Buffer.from(parts.join(''), 'utf8'));

  test('any input gives commands or typed refusals, the same however it is cut', () => {
    fc.assert(fc.property(fc.oneof(imapish, fc.uint8Array({ maxLength: 600 })), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
      const whole = read([bytes]);
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const chunks: Uint8Array[] = [];
      let last = 0;
      for (const p of points) {
        chunks.push(bytes.subarray(last, p));
        last = p;
      }
      chunks.push(bytes.subarray(last));
      assert.deepEqual(read(chunks), whole);
    }), { seed: 11, numRuns: 400 });
  });
});
