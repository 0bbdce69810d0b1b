import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ClientError, DEFAULT_KDF, initClient, KEYSTORE_FILE, openClient } from '../../src/client/index.js';
import { KEYSTORE_HEADER_BYTES, KEYSTORE_MAGIC, writeFileAtomic, writeFileAtomicInBackground } from '../../src/client/keystore.js';
import { seededRandom } from '../../src/crypto/seeded-random.js';
import { ClientCore } from '../../src/client/directory.js';
import { getCrypto } from '../../src/crypto/index.js';
import { DEFAULT_CONSENSUS_MINIMUMS } from '../../src/traffic/consensus-minimums.js';
import { FAST_KDF, removeTempDirs, tempDir } from './support.js';

/**
 * The keystore on disk: every secret of the user under a passphrase (Argon2id, XChaCha20-Poly1305),
 * written atomically, refusing wrong passphrases and damaged files with typed errors.
 */
const crypto = getCrypto('sodium');
const authority = { url: 'https://127.0.0.1:9', publicKeys: [crypto.ed25519PublicKey(new Uint8Array(32).fill(7))] };
after(removeTempDirs);

async function newClient(name = 'Alice', passphrase = 'correct horse battery staple') {
  const dir = join(tempDir(), 'client');
  const result = await initClient(dir, { name, passphrase, authority, servers: ['127.0.0.1:4001'], kdf: FAST_KDF });
  return { dir, result, passphrase };
}

function isClientError(code: string) {
  return (error: unknown) => error instanceof ClientError && error.code === code;
}

describe('keystore', () => {
  test('round trip: init, open, the same identity and settings; file mode 0600; header as documented', async () => {
    const { dir, result, passphrase } = await newClient();
    assert.match(result.cardUri, /^umbra:card:/);
    assert.deepEqual(result.servers, ['127.0.0.1:4001']);
    const bytes = new Uint8Array(readFileSync(join(dir, KEYSTORE_FILE)));
    assert.deepEqual(bytes.subarray(0, 4), KEYSTORE_MAGIC);
    assert.equal(bytes[4], 1); // version
    assert.equal(bytes[5], 1); // Argon2id
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    assert.equal(view.getUint32(6), FAST_KDF.opsLimit);
    assert.equal(view.getUint32(10) * 1024, FAST_KDF.memLimitBytes);
    assert.equal(statSync(join(dir, KEYSTORE_FILE)).mode & 0o777, 0o600);
    // Nothing of the identity is readable in the file.
    assert.equal(Buffer.from(bytes).includes(Buffer.from('Alice')), false);

    const client = await openClient(dir, passphrase);
    assert.equal(client.name, 'Alice');
    assert.equal(client.cardUri(), result.cardUri);
    assert.equal(client.settings.authority.url, authority.url);
    assert.deepEqual(client.settings.authority.publicKeys, authority.publicKeys);
    assert.equal(client.settings.buckets, 16);
    assert.deepEqual(client.contacts(), []);
    await client.close();
    // Opening again after a close works (the lock was released) and still gives the same card.
    const again = await openClient(dir, passphrase);
    assert.equal(again.cardUri(), result.cardUri);
    await again.close();
  });

  test('a wrong passphrase is bad-passphrase, not a crash', async () => {
    const { dir } = await newClient();
    await assert.rejects(openClient(dir, 'Correct horse battery staple'), isClientError('bad-passphrase'));
    await assert.rejects(openClient(dir, ''), isClientError('bad-options'));
  });

  test('the passphrase is NFC-normalised: composed and decomposed forms open the same keystore', async () => {
    const { dir } = await newClient('Zoë', 'caf\u00e9 au lait');
    const client = await openClient(dir, 'cafe\u0301 au lait');
    assert.equal(client.name, 'Zoë');
    await client.close();
  });

  test('tampering: any changed byte of the sealed part is corrupt-keystore; a damaged header is refused too', async () => {
    const { dir, passphrase } = await newClient();
    const path = join(dir, KEYSTORE_FILE);
    const original = new Uint8Array(readFileSync(path));
    const attempt = async (mutate: (bytes: Uint8Array) => Uint8Array, code: string) => {
      writeFileSync(path, mutate(original.slice()));
      await assert.rejects(openClient(dir, passphrase), isClientError(code), code);
    };
    // The ciphertext, its tag, the nonce: the AEAD refuses.
    await attempt((b) => ((b[KEYSTORE_HEADER_BYTES + 3] ^= 1), b), 'corrupt-keystore');
    await attempt((b) => ((b[b.length - 1] ^= 0x80), b), 'corrupt-keystore');
    await attempt((b) => ((b[30] ^= 1), b), 'corrupt-keystore'); // nonce
    // Truncated, not a keystore, another version or KDF.
    await attempt((b) => b.subarray(0, KEYSTORE_HEADER_BYTES + 5), 'corrupt-keystore');
    await attempt((b) => b.subarray(0, 20), 'corrupt-keystore');
    await attempt((b) => ((b[0] = 0x58), b), 'corrupt-keystore');
    await attempt((b) => ((b[4] = 2), b), 'unsupported-keystore');
    await attempt((b) => ((b[5] = 9), b), 'unsupported-keystore');
    // A header asking for absurd KDF costs is refused before deriving anything.
    await attempt((b) => (new DataView(b.buffer).setUint32(6, 1_000_000), b), 'corrupt-keystore');
    await attempt((b) => (new DataView(b.buffer).setUint32(10, 0xffffffff), b), 'corrupt-keystore');
    // The salt and the check feed the key derivation: damage there reads as a wrong passphrase.
    await attempt((b) => ((b[14] ^= 1), b), 'bad-passphrase');
    await attempt((b) => ((b[KEYSTORE_HEADER_BYTES - 1] ^= 1), b), 'bad-passphrase');
    // The original still opens.
    writeFileSync(path, original);
    await (await openClient(dir, passphrase)).close();
  });

  test('a missing keystore is not-initialized; a second init is already-initialized; a second open is locked', async () => {
    await assert.rejects(openClient(join(tempDir(), 'nothing'), 'x'), isClientError('not-initialized'));
    const { dir, passphrase } = await newClient();
    await assert.rejects(
      initClient(dir, { name: 'Mallory', passphrase: 'x', authority, servers: ['127.0.0.1:1'], kdf: FAST_KDF }),
      isClientError('already-initialized'),
    );
    const first = await openClient(dir, passphrase);
    await assert.rejects(openClient(dir, passphrase), isClientError('locked'));
    await first.close();
    await (await openClient(dir, passphrase)).close();
  });

  test('a stale lock of a dead process is taken over', async () => {
    const { dir, passphrase } = await newClient();
    writeFileSync(join(dir, 'lock'), '999999999\n');
    await (await openClient(dir, passphrase)).close();
  });

  test('changing the passphrase re-encrypts under a fresh salt', async () => {
    const { dir, passphrase } = await newClient();
    const before = readFileSync(join(dir, KEYSTORE_FILE)).subarray(14, 30);
    const client = await openClient(dir, passphrase);
    await client.changePassphrase('a new passphrase');
    await client.close();
    assert.notDeepEqual(readFileSync(join(dir, KEYSTORE_FILE)).subarray(14, 30), before);
    await assert.rejects(openClient(dir, passphrase), isClientError('bad-passphrase'));
    await (await openClient(dir, 'a new passphrase')).close();
  });

  test('options are checked: name, passphrase, authority, KDF', async () => {
    const base = { name: 'A', passphrase: 'p', authority, servers: ['127.0.0.1:1'], kdf: FAST_KDF };
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, name: 'x'.repeat(65) }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, passphrase: '' }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, authority: { url: 'ftp://x', publicKeys: [] } }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, kdf: { opsLimit: 0, memLimitBytes: 8192 } }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, buckets: 0 }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, buckets: 64, maxBuckets: 16 }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, minimums: { loopRate: -1 } }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, minimums: { retrieval: [] } }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, mirrors: [authority.url] }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, mirrors: ['ftp://m'] }), isClientError('bad-options'));
    await assert.rejects(initClient(join(tempDir(), 'c'), { ...base, mirrorsRequired: 17 }), isClientError('bad-options'));
  });

  test('the privacy settings have safe defaults and are kept in the keystore', async () => {
    const dir = join(tempDir(), 'p');
    await initClient(dir, { name: 'P', passphrase: 'p', authority, servers: ['127.0.0.1:1'], kdf: FAST_KDF, mirrors: ['https://127.0.0.1:10'], minimums: { dropRate: 0 } });
    const client = await openClient(dir, 'p');
    const { settings } = client;
    await client.close();
    assert.deepEqual(settings.minimums, { ...DEFAULT_CONSENSUS_MINIMUMS, dropRate: 0 });
    assert.equal(settings.maxBuckets, 256);
    assert.equal(settings.allowRetrievalChange, false);
    assert.deepEqual(settings.mirrors, ['https://127.0.0.1:10']);
    assert.equal(settings.mirrorsRequired, 2);
  });

  test('the default KDF is Argon2id with libsodium MODERATE costs', async () => {
    assert.deepEqual(DEFAULT_KDF, { opsLimit: 3, memLimitBytes: 256 * 1024 * 1024 });
    const dir = join(tempDir(), 'client');
    await initClient(dir, { name: 'D', passphrase: 'p', authority, servers: ['127.0.0.1:1'] });
    const bytes = readFileSync(join(dir, KEYSTORE_FILE));
    assert.equal(bytes.readUInt32BE(6), 3);
    assert.equal(bytes.readUInt32BE(10), 256 * 1024);
  });
});

describe('contacts', () => {
  test('add by card URI (verified), list with safety numbers, persisted; bad and own cards refused', async () => {
    const alice = await newClient('Alice');
    const bob = await newClient('Bob');
    const a = await openClient(alice.dir, alice.passphrase);
    const b = await openClient(bob.dir, bob.passphrase);
    const added = a.addContact(`  ${bob.result.cardUri}\n`);
    assert.equal(added.name, 'Bob');
    assert.deepEqual(added.servers, ['127.0.0.1:4001']);
    assert.match(added.key, /^[0-9a-f]{64}$/);
    assert.match(added.safetyNumber, /^(\d{5} ){11}\d{5}$/);
    b.addContact(alice.result.cardUri);
    // Both ends compute the same safety number.
    assert.equal(b.contacts()[0].safetyNumber, added.safetyNumber);
    assert.equal(a.contacts().length, 1);
    // Adding the same card again changes nothing.
    a.addContact(bob.result.cardUri);
    assert.equal(a.contacts().length, 1);

    assert.throws(() => a.addContact('umbra:card:AAAA'), isClientError('bad-card'));
    assert.throws(() => a.addContact('https://example.org/'), isClientError('bad-card'));
    // A card whose signature does not verify.
    const uri = bob.result.cardUri;
    const flipped = uri.slice(0, -3) + (uri.at(-3) === 'A' ? 'B' : 'A') + uri.slice(-2);
    assert.throws(() => a.addContact(flipped), isClientError('bad-card'));
    assert.throws(() => a.addContact(alice.result.cardUri), isClientError('bad-card'));
    await a.close();
    await b.close();

    const reopened = await openClient(alice.dir, alice.passphrase);
    assert.deepEqual(reopened.contacts().map((c) => c.name), ['Bob']);
    assert.equal(reopened.contacts()[0].cardUri, bob.result.cardUri);
    await reopened.close();
  });
});

test('a keystore write synced in the background never replaces a newer one', async () => {
  const dir = tempDir();
  const path = join(dir, 'file');
  const random = seededRandom(getCrypto('sodium'), new Uint8Array(32).fill(1));
  let writes = 1; // writes begun: a background write is wanted while it is the last one
  assert.equal(await writeFileAtomicInBackground(path, new Uint8Array([1]), random, () => writes === 1), true);
  assert.deepEqual([...readFileSync(path)], [1]);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  // A background write begun, then a newer one written at once: the older leaves the file alone.
  const second = ++writes;
  const older = writeFileAtomicInBackground(path, new Uint8Array([2]), random, () => writes === second);
  writes++;
  writeFileAtomic(path, new Uint8Array([3]), random);
  assert.equal(await older, false);
  assert.deepEqual([...readFileSync(path)], [3]);
  assert.deepEqual(readdirSync(dir), ['file'], 'no temporary file is left');
});

test('a keystore write still in the background when the client closes is overtaken by the close', async () => {
  const { dir, passphrase } = await newClient();
  const core = await ClientCore.open(dir, passphrase);
  const pending = core.persistInBackground();
  core.close(); // writes the keystore itself: the background write must not replace it after the lock is gone
  await pending;
  assert.deepEqual(readdirSync(dir).filter((file) => file.endsWith('.tmp')), []);
  const reopened = await openClient(dir, passphrase);
  await reopened.close();
  // And one that finishes: on disk when it resolves.
  const again = await ClientCore.open(dir, passphrase);
  await again.persistInBackground();
  again.close();
  const last = await openClient(dir, passphrase);
  await last.close();
});
