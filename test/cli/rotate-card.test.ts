import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initClient } from '../../src/client/index.js';
import { getCrypto } from '../../src/crypto/index.js';
import { cardFromUri } from '../../src/e2e/card.js';
import { FAST_KDF } from '../client/support.js';
import { umbra } from './run-umbra.js';

// `umbra client rotate-card`: a new card with a new first-contact secret, the same keys; `card`
// prints it from then on; a bad --grace-days is a user's mistake (exit code 2). No network needed.
const crypto = getCrypto('sodium');
const root = mkdtempSync(join(tmpdir(), 'umbra-cli-rotate-'));
const dir = join(root, 'alice');
const passFile = join(root, 'pass');
const PASSPHRASE = 'a passphrase for the rotate-card tests';
const authority = { url: 'https://127.0.0.1:9', publicKeys: [crypto.ed25519PublicKey(new Uint8Array(32).fill(7))] };

function client(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return umbra('client', '--dir', dir, '--passphrase-file', passFile, ...args);
}

describe('umbra client rotate-card', () => {
  before(async () => {
    writeFileSync(passFile, `${PASSPHRASE}\n`);
    await initClient(dir, { name: 'alice', passphrase: PASSPHRASE, authority, servers: ['127.0.0.1:4001'], kdf: FAST_KDF });
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('prints a new card with a new first-contact secret and the same keys; card shows it afterwards', () => {
    const before = cardFromUri(crypto, client('card').stdout.trim());
    const rotated = client('rotate-card', '--grace-days', '3');
    assert.equal(rotated.status, 0, rotated.stderr);
    const [uri, note] = rotated.stdout.trim().split('\n');
    assert.match(note, /still polled for 3 days/);
    const after = cardFromUri(crypto, uri);
    assert.ok(!Buffer.from(after.mailboxSecret).equals(before.mailboxSecret));
    assert.ok(Buffer.from(after.x25519Public).equals(before.x25519Public));
    assert.ok(after.createdAt > before.createdAt);
    assert.equal(client('card').stdout.trim(), uri);
  });

  test('a grace that is not a whole number of days up to 365 is refused', () => {
    for (const bad of ['abc', '-1', '366']) {
      const result = client('rotate-card', '--grace-days', bad);
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /grace-days/);
    }
  });
});
