import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initClient } from '../../src/client/index.js';
import { getCrypto } from '../../src/crypto/index.js';
import { FAST_KDF } from '../client/support.js';
import { umbra } from './run-umbra.js';

// A user's mistakes with `umbra client` get one line on stderr and exit code 2, never a stack
// trace or "internal error"; none of these needs a network (the authority URL is never reached).
const root = mkdtempSync(join(tmpdir(), 'umbra-cli-mistakes-'));
const dir = join(root, 'alice');
const passFile = join(root, 'pass');
const PASSPHRASE = 'a passphrase for the command-line tests';
const authority = { url: 'https://127.0.0.1:9', publicKeys: [getCrypto('sodium').ed25519PublicKey(new Uint8Array(32).fill(7))] };

function client(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return umbra('client', '--dir', dir, '--passphrase-file', passFile, ...args);
}

function assertMistake(result: { status: number | null; stderr: string }, pattern: RegExp): void {
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /internal error|\n\s+at /);
  assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
}

describe('umbra client: user mistakes', () => {
  before(async () => {
    writeFileSync(passFile, `${PASSPHRASE}\n`);
    // Made by the library, with its servers given, so that no authority is asked for a consensus.
    await initClient(dir, { name: 'alice', passphrase: PASSPHRASE, authority, servers: ['127.0.0.1:4001'], kdf: FAST_KDF });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('the mail store is readable by the owner only', () => {
    assert.equal(statSync(join(dir, 'mail.db')).mode & 0o777, 0o600);
  });

  test('init: an authority key that is not one, a server that is not HOST:PORT, fewer than two mirrors (nothing is made)', () => {
    const fresh = join(root, 'fresh');
    const init = (...extra: string[]) =>
      umbra('client', '--dir', fresh, '--passphrase-file', passFile, 'init', '--name', 'carol', '--authority', authority.url, ...extra);
    const key = Buffer.from(authority.publicKeys[0]).toString('base64url');
    for (const bad of ['bad', `${key}AAAA`]) {
      assertMistake(init('--authority-key', bad), /--authority-key must be the authority's public key/);
    }
    for (const bad of ['nonsense', '127.0.0.1:99999']) {
      assertMistake(init('--authority-key', key, '--server', bad), /--server must be a mailbox server's HOST:PORT/);
    }
    // Without two mirrors the agent could never accept a consensus: refused at init.
    assertMistake(init('--authority-key', key), /give at least 2 --mirror URLs/);
    assertMistake(init('--authority-key', key, '--mirror', 'https://127.0.0.1:4100'), /give at least 2 --mirror URLs/);
    assert.throws(() => statSync(fresh), /ENOENT/, 'no directory was made');
  });

  test('a missing passphrase file', () => {
    assertMistake(umbra('client', '--dir', dir, '--passphrase-file', join(root, 'nope'), 'card'), /--passphrase-file.*no such file/);
  });

  test('send: a missing body file, both body options, a binary body, an oversized body', () => {
    const send = ['send', '--to', 'bob', '--subject', 'hi'];
    assertMistake(client(...send, '--body-file', join(root, 'missing.txt')), /--body-file.*no such file/);
    assertMistake(client(...send, '--body', 'x', '--body-file', passFile), /not both/);
    const binary = join(root, 'binary');
    writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    assertMistake(client(...send, '--body-file', binary), /not UTF-8 text/);
    const big = join(root, 'big.txt');
    writeFileSync(big, 'x'.repeat(8 * 2 ** 20 + 1));
    assertMistake(client(...send, '--body-file', big), /limit is 8388608 bytes/);
    assertMistake(client('send', '--to', ' , ', '--subject', 'hi', '--body', 'x'), /--to \(or --cc, --bcc\) and --subject are required/);
  });

  test('relay: off by default; a setting without TLS off this machine is a mistake; set, show, clear', () => {
    assert.match(client('relay', 'show').stdout, /no relay: ordinary email is refused/);
    assertMistake(client('relay', 'set', '--host', 'smtp.example.com', '--tls', 'none', '--from', 'alice@example.com'), /without TLS is allowed on this machine/);
    assertMistake(client('relay', 'set', '--host', 'smtp.example.com', '--from', 'alice@example.com', '--user', 'alice'), /--user and --relay-password-file together/);
    assertMistake(client('relay', 'set', '--host', 'smtp.example.com', '--tls', 'ssl', '--from', 'alice@example.com'), /--tls' must be one of starttls, tls, none/);
    const set = client('relay', 'set', '--host', 'smtp.example.com', '--from', 'alice@example.com', '--user', 'alice', '--relay-password-file', passFile);
    assert.equal(set.status, 0, set.stderr);
    assert.match(set.stdout, /relay smtp\.example\.com:587 \(starttls\), user alice \(password kept\).*\n.*NOT private/);
    assert.doesNotMatch(client('relay', 'show', '--json').stdout, new RegExp(PASSPHRASE), 'the password is never shown');
    assert.match(client('relay', 'clear').stdout, /relay cleared/);
  });

  test('read: a number that is not a number, or no mail\'s', () => {
    assertMistake(client('read', 'abc'), /the mail's number is one from `client inbox`, not 'abc'/);
    assertMistake(client('read', '999'), /no inbox mail #999/);
    assertMistake(client('read', '--sent', '1'), /no sent mail #1/);
  });

  test('contact add: a truncated card and a card with stray characters', () => {
    const card = client('card');
    assert.equal(card.status, 0, card.stderr);
    const uri = card.stdout.trim();
    assertMistake(client('contact', 'add', uri.slice(0, uri.length - 7)), /cut short or damaged/);
    assertMistake(client('contact', 'add', `${uri.slice(0, 40)}!${uri.slice(41)}`), /not base64url/);
  });

  test('a stale lock holding the PID of an unrelated live process is taken over', async () => {
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await new Promise<void>((resolve) => sleeper.once('spawn', () => resolve()));
      writeFileSync(join(dir, 'lock'), `${sleeper.pid}\n`);
      const card = client('card');
      assert.equal(card.status, 0, card.stderr);
    } finally {
      sleeper.kill();
    }
  });
});
