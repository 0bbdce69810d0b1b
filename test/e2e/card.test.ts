import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { ByteWriter, toBase64Url } from '../../src/codec/bytes.js';
import { backends, seededRandom, type Crypto } from '../../src/crypto/index.js';
import {
  CARD_URI_PREFIX,
  cardFromUri,
  cardToUri,
  decodeCard,
  encodeCard,
  formatSafetyNumber,
  makeCard,
  MAX_CARD_BYTES,
  MAX_CARD_URI_LENGTH,
  safetyNumber,
  type ContactCard,
} from '../../src/e2e/card.js';
import { E2eError, type E2eErrorCode } from '../../src/e2e/errors.js';
import { createIdentity, decodeIdentity, encodeIdentity, migrateReplySecret, type Identity } from '../../src/e2e/identity.js';
import { mailboxAddress } from '../../src/e2e/mailbox-address.js';
import { ownAddress, ownMailboxSecret } from '../../src/e2e/relationship-address.js';
import { MailEndpoint } from '../../src/e2e/mail-endpoint.js';
import { numericFingerprint } from '../../src/e2e/safety-number.js';
import { flipBit, SMALL_ORDER_POINTS } from '../support/bytes.js';

/**
 * Contact cards, their URIs, safety numbers, the keystore encoding of identities and mailbox
 * addresses, on both backends (fewer property runs on noble). fast-check seeds are fixed.
 */

const SEED = 0xca4d;
const utf8 = new TextEncoder();

function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (byte) => parseInt(byte, 16));
}

/** Asserts that `fn` throws an E2eError with `code` (never an untyped error). */
function throwsE2e(fn: () => unknown, code: E2eErrorCode, message?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof E2eError, `${message ?? ''} expected an E2eError, got ${String(error)}`);
    assert.equal(error.code, code, message);
    return true;
  });
}

/** Text a card accepts: printable ASCII and any non-control code point (1..4 UTF-8 bytes each). */
const textUnit = fc
  .oneof(
    fc.integer({ min: 0x20, max: 0x7e }),
    fc.integer({ min: 0xa0, max: 0xd7ff }),
    fc.integer({ min: 0xe000, max: 0x10ffff }),
  )
  .map((codePoint) => String.fromCodePoint(codePoint));
const nameArb = fc.string({ unit: textUnit, maxLength: 16 }); // at most 64 bytes
const serversArb = fc.array(fc.string({ unit: textUnit, minLength: 1, maxLength: 63 }), { maxLength: 8 }); // ≤ 252 bytes each

function identity(crypto: Crypto, seed: number, name = 'Alice', servers: string[] = ['mx.example.org:4443']): Identity {
  return createIdentity(crypto, seededRandom(crypto, seed), { name, servers });
}

const CREATED_AT = 1_767_225_600; // 2026-01-01T00:00:00Z

for (const crypto of Object.values(backends)) {
  const sodium = crypto.name === 'sodium';
  const runs = (sodiumRuns: number, nobleRuns: number) => ({ seed: SEED, numRuns: sodium ? sodiumRuns : nobleRuns });

  describe(`contact card on ${crypto.name}`, () => {
    test('encode/decode and URI round trips over names (non-ASCII too), server lists and times', () => {
      fc.assert(
        fc.property(fc.integer(), nameArb, serversArb, fc.maxSafeNat(), (seed, name, servers, createdAt) => {
          const id = identity(crypto, seed, name, servers);
          const card = makeCard(crypto, id, createdAt);
          const bytes = encodeCard(card);
          assert.ok(bytes.length <= MAX_CARD_BYTES);
          const decoded = decodeCard(crypto, bytes);
          assert.deepEqual(decoded, card);
          assert.deepEqual(encodeCard(decoded), bytes);
          assert.equal(decoded.name, name);
          assert.deepEqual(decoded.servers, servers);
          assert.equal(decoded.createdAt, createdAt);
          assert.deepEqual(decoded.x25519Public, id.x25519Public);
          assert.deepEqual(decoded.ed25519Public, id.ed25519Public);
          assert.deepEqual(decoded.mailboxSecret, id.mailboxSecret);

          const uri = cardToUri(card);
          assert.match(uri, /^umbra:card:[A-Za-z0-9_-]+$/); // one line, no whitespace, no padding
          assert.ok(uri.length <= MAX_CARD_URI_LENGTH);
          assert.deepEqual(cardFromUri(crypto, uri), card);
        }),
        runs(40, 8),
      );
    });

    test('the largest card (64-byte name, 8 servers of 255 bytes) is exactly MAX_CARD_BYTES', () => {
      const name = 'é'.repeat(32); // 64 bytes
      const servers = Array.from({ length: 8 }, (_, i) => `${i}`.repeat(255));
      const card = makeCard(crypto, identity(crypto, 1, name, servers), Number.MAX_SAFE_INTEGER);
      const bytes = encodeCard(card);
      assert.equal(bytes.length, MAX_CARD_BYTES);
      const uri = cardToUri(card);
      assert.equal(uri.length, MAX_CARD_URI_LENGTH);
      assert.deepEqual(cardFromUri(crypto, uri), card);
    });

    test('text round trips byte for byte: a leading U+FEFF is kept, empty names and no servers are fine', () => {
      for (const [name, servers] of [['\ufeffBob', ['\ufeffhost:1']], ['', []], ['名前 🙂', ['[::1]:25']]] as const) {
        const card = makeCard(crypto, identity(crypto, 2, name, [...servers]), 0);
        const decoded = decodeCard(crypto, encodeCard(card));
        assert.equal(decoded.name, name);
        assert.deepEqual(decoded.servers, servers);
      }
    });

    const card = makeCard(crypto, identity(crypto, 3, 'Zoë', ['a.example:1', 'b.example:2']), CREATED_AT);
    const bytes = encodeCard(card);

    test('any flipped bit is bad-card', () => {
      const step = sodium ? 1 : 29;
      for (let bit = 0; bit < bytes.length * 8; bit += step) {
        throwsE2e(() => decodeCard(crypto, flipBit(bytes, bit)), 'bad-card', `bit ${bit}`);
      }
    });

    test('truncations, extensions and random bytes are bad-card, never an untyped error', () => {
      for (let length = 0; length < bytes.length; length += sodium ? 1 : 7) {
        throwsE2e(() => decodeCard(crypto, bytes.subarray(0, length)), 'bad-card', `length ${length}`);
      }
      for (const extra of [[0], [0, 0, 0], [0xff]]) {
        throwsE2e(() => decodeCard(crypto, new Uint8Array([...bytes, ...extra])), 'bad-card');
      }
      throwsE2e(() => decodeCard(crypto, new Uint8Array(MAX_CARD_BYTES + 1)), 'bad-card');
      throwsE2e(() => decodeCard(crypto, 'not bytes' as unknown as Uint8Array), 'bad-card');
      const header = bytes.subarray(0, 5); // the right magic and version, then garbage
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (random, withHeader) => {
          const input = withHeader ? new Uint8Array([...header, ...random]) : random;
          throwsE2e(() => decodeCard(crypto, input), 'bad-card');
        }),
        runs(300, 60),
      );
    });

    test('a card signed without the domain-separation label is bad-card', () => {
      const body = bytes.subarray(0, bytes.length - 64);
      const id = identity(crypto, 3, 'Zoë', ['a.example:1', 'b.example:2']);
      const forged = new Uint8Array([...body, ...crypto.ed25519Sign(id.ed25519Seed, body)]);
      throwsE2e(() => decodeCard(crypto, forged), 'bad-card');
    });

    test('a properly signed card with a small-order X25519 key is bad-card', () => {
      for (const point of SMALL_ORDER_POINTS) {
        const bad = makeCard(crypto, { ...identity(crypto, 4), x25519Public: point }, CREATED_AT);
        throwsE2e(() => decodeCard(crypto, encodeCard(bad)), 'bad-card');
      }
    });

    test('creation refuses what a card cannot carry', () => {
      const ok = identity(crypto, 5);
      const refused: Array<[string, string[]]> = [
        ['x'.repeat(65), []],
        ['é'.repeat(32) + 'x', []],
        ['line\nbreak', []],
        ['nul\u0000', []],
        ['c1\u0085', []],
        ['lone \ud800 surrogate', []],
        ['ok', Array.from({ length: 9 }, () => 'h:1')],
        ['ok', ['h'.repeat(256)]],
        ['ok', ['']],
        ['ok', ['tab\there']],
      ];
      for (const [name, servers] of refused) {
        throwsE2e(() => createIdentity(crypto, seededRandom(crypto, 6), { name, servers }), 'bad-card', JSON.stringify(name));
        throwsE2e(() => makeCard(crypto, { ...ok, name, servers }, CREATED_AT), 'bad-card', JSON.stringify(name));
      }
      for (const createdAt of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
        throwsE2e(() => makeCard(crypto, ok, createdAt), 'bad-card', String(createdAt));
      }
      throwsE2e(() => makeCard(crypto, { ...ok, ed25519Public: identity(crypto, 7).ed25519Public }, CREATED_AT), 'bad-card');
      // The bounds themselves are accepted.
      makeCard(crypto, { ...ok, name: 'x'.repeat(64), servers: Array.from({ length: 8 }, () => 'h'.repeat(255)) }, 0);
    });

    test('card URIs: wrong scheme or bad base64url is bad-uri, a bad card inside is bad-card', () => {
      const uri = cardToUri(card);
      const payload = uri.slice(CARD_URI_PREFIX.length);
      const badUris = [
        '',
        `UMBRA:CARD:${payload}`,
        `umbra:cards:${payload}`,
        `https://example.org/${payload}`,
        `${payload}`,
        `umbra:card:${payload}=`,
        `umbra:card:${payload}\n`,
        ` ${uri}`,
        `umbra:card:${payload.slice(0, 10)} ${payload.slice(10)}`,
        `umbra:card:${payload.replace(/^./, '+')}`,
        `umbra:card:${'A'.repeat(MAX_CARD_URI_LENGTH)}`,
        'x'.repeat(10_000_000),
        42 as unknown as string,
      ];
      for (const text of badUris) {
        throwsE2e(() => cardFromUri(crypto, text), 'bad-uri', String(text).slice(0, 40));
      }
      // Non-canonical base64url: 'B' (000001) as the last of 2 or 3 characters sets an unused bit.
      assert.notEqual(payload.length % 4, 0);
      throwsE2e(() => cardFromUri(crypto, `umbra:card:${payload.slice(0, -1)}B`), 'bad-uri');
      // Well-formed URIs of bad cards.
      throwsE2e(() => cardFromUri(crypto, `umbra:card:${toBase64Url(flipBit(bytes, 100))}`), 'bad-card');
      throwsE2e(() => cardFromUri(crypto, `umbra:card:${toBase64Url(bytes.subarray(0, 50))}`), 'bad-card');
      throwsE2e(() => cardFromUri(crypto, 'umbra:card:AAAA'), 'bad-card');
      throwsE2e(() => cardFromUri(crypto, 'umbra:card:'), 'bad-card'); // an empty card
    });

    test('encodeCard refuses a hand-made card outside the bounds', () => {
      throwsE2e(() => encodeCard({ ...card, signature: new Uint8Array(63) }), 'bad-card');
      throwsE2e(() => encodeCard({ ...card, x25519Public: new Uint8Array(31) }), 'bad-card');
      throwsE2e(() => encodeCard({ ...card, version: 2 } as unknown as ContactCard), 'bad-card');
      throwsE2e(() => encodeCard({ ...card, servers: Array.from({ length: 9 }, () => 'h') }), 'bad-card');
    });
  });

  describe(`safety number on ${crypto.name}`, () => {
    const alice = makeCard(crypto, identity(crypto, 10, 'Alice'), CREATED_AT);
    const bob = makeCard(crypto, identity(crypto, 11, 'Bob'), CREATED_AT);
    const number = safetyNumber(crypto, alice, bob);

    test('60 digits, the same whatever the order, shown as 12 groups of 5', () => {
      assert.match(number, /^\d{60}$/);
      assert.equal(safetyNumber(crypto, bob, alice), number);
      assert.match(formatSafetyNumber(number), /^\d{5}( \d{5}){11}$/);
      assert.equal(formatSafetyNumber(number).replaceAll(' ', ''), number);
      // Only the keys and the name count: a later card of the same identity keeps the number.
      const later = makeCard(crypto, identity(crypto, 10, 'Alice', ['other:1']), CREATED_AT + 86400);
      assert.equal(safetyNumber(crypto, later, bob), number);
    });

    test('changes when either key or the name of either side changes', () => {
      const other = identity(crypto, 12);
      const variants: ContactCard[] = [
        { ...alice, x25519Public: other.x25519Public },
        { ...alice, ed25519Public: other.ed25519Public },
        { ...alice, name: 'Alicé' },
      ];
      for (const variant of variants) assert.notEqual(safetyNumber(crypto, variant, bob), number);
      assert.notEqual(safetyNumber(crypto, alice, { ...bob, x25519Public: other.x25519Public }), number);
    });

    test("is Signal's numeric fingerprint: libsignal's displayable test vector", () => {
      // libsignal rust/protocol/src/fingerprint.rs: 5200 iterations, identity keys with the 0x05
      // type byte, phone numbers as stable identifiers.
      const aliceHalf = numericFingerprint(crypto, hex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868'), utf8.encode('+14152222222'));
      const bobHalf = numericFingerprint(crypto, hex('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b'), utf8.encode('+14153333333'));
      assert.equal([aliceHalf, bobHalf].sort().join(''), '300354477692869396892869876765458257569162576843440918079131');
    });
  });

  describe(`identity keystore encoding on ${crypto.name}`, () => {
    test('encode/decode round trip; the public keys check against the secrets', () => {
      fc.assert(
        fc.property(fc.integer(), nameArb, serversArb, (seed, name, servers) => {
          const id = identity(crypto, seed, name, servers);
          const bytes = encodeIdentity(id);
          assert.deepEqual(decodeIdentity(bytes), id);
          assert.deepEqual(decodeIdentity(bytes, crypto), id);
          assert.deepEqual(encodeIdentity(decodeIdentity(bytes)), bytes);
        }),
        runs(40, 6),
      );
      assert.equal(crypto.x25519Base(identity(crypto, 13).x25519Secret).length, 32);
    });

    test('garbage, truncations, extensions and mismatched keys are bad-state', () => {
      const id = identity(crypto, 14, 'Ünïcode', ['h:1']);
      const bytes = encodeIdentity(id);
      for (let length = 0; length < bytes.length; length++) throwsE2e(() => decodeIdentity(bytes.subarray(0, length)), 'bad-state');
      throwsE2e(() => decodeIdentity(new Uint8Array([...bytes, 0])), 'bad-state');
      throwsE2e(() => decodeIdentity(flipBit(bytes, 0)), 'bad-state'); // magic
      throwsE2e(() => decodeIdentity(flipBit(bytes, 32)), 'bad-state'); // version
      throwsE2e(() => decodeIdentity('x' as unknown as Uint8Array), 'bad-state');
      // A flipped bit in the X25519 public key parses but does not match its secret.
      throwsE2e(() => decodeIdentity(flipBit(bytes, (5 + 32) * 8 + 3), crypto), 'bad-state');
      throwsE2e(() => decodeIdentity(flipBit(bytes, (5 + 96) * 8 + 3), crypto), 'bad-state');
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (random, withHeader) => {
          const input = withHeader ? new Uint8Array([...bytes.subarray(0, 5), ...random]) : random;
          throwsE2e(() => decodeIdentity(input), 'bad-state');
        }),
        runs(300, 100),
      );
      throwsE2e(() => encodeIdentity({ ...id, mailboxSecret: new Uint8Array(16) }), 'bad-state');
      throwsE2e(() => encodeIdentity({ ...id, replySecret: new Uint8Array(16) }), 'bad-state');
    });

    test('a version 1 identity (no reply secret) is migrated: the reply secret is derived, and written as version 2', () => {
      const id = identity(crypto, 15, 'Old', ['h:1']);
      const v1 = new ByteWriter().bytes(utf8.encode('UMBI')).u8(1);
      for (const key of [id.x25519Secret, id.x25519Public, id.ed25519Seed, id.ed25519Public, id.mailboxSecret]) v1.bytes(key);
      const old = v1.text(1, 'Old').u8(1).text(1, 'h:1').finish();
      const migrated = decodeIdentity(old, crypto);
      // The own-address secret such identities used: their own address does not change.
      const expected = crypto.blake2b(32, utf8.encode('umbra own mailbox secret v1'), id.x25519Secret);
      assert.deepEqual(expected, ownMailboxSecret(crypto, id.x25519Secret));
      assert.deepEqual(migrated, { ...id, replySecret: expected });
      assert.deepEqual(migrated.replySecret, migrateReplySecret(crypto, id.x25519Secret));
      assert.deepEqual(decodeIdentity(old, crypto).replySecret, expected, 'the same at every reading');
      assert.notDeepEqual(migrated.replySecret, id.mailboxSecret);
      const rewritten = encodeIdentity(migrated);
      assert.equal(rewritten[4], 2);
      assert.deepEqual(decodeIdentity(rewritten), migrated);
      throwsE2e(() => decodeIdentity(old), 'bad-state'); // migrating needs the crypto
    });
  });

  describe(`reply secret on ${crypto.name}`, () => {
    test('keys the own address (ACKs, loops); drawn at random, not from any key a card holds', () => {
      const id = identity(crypto, 22);
      const endpoint = new MailEndpoint(crypto, seededRandom(crypto, 23), id);
      assert.deepEqual(endpoint.ownAddress(7), ownAddress(crypto, id.replySecret, 7));
      assert.notDeepEqual(id.replySecret, ownMailboxSecret(crypto, id.x25519Secret));
      assert.notDeepEqual(endpoint.ownAddress(7), mailboxAddress(crypto, id.mailboxSecret, 7));
    });
  });

  describe(`mailbox address on ${crypto.name}`, () => {
    const secret = identity(crypto, 20).mailboxSecret;

    test('BLAKE2b-256 keyed by the secret over the label and the u64 big-endian epoch', () => {
      const address = mailboxAddress(crypto, secret, 20_000);
      assert.equal(address.length, 32);
      const message = new ByteWriter().bytes(utf8.encode('umbra mailbox address')).u64(20_000).finish();
      assert.deepEqual(address, crypto.blake2b(32, message, secret));
      assert.deepEqual(mailboxAddress(crypto, secret, 20_000), address); // deterministic
      const other = backends[sodium ? 'noble' : 'sodium'];
      assert.deepEqual(mailboxAddress(other, secret, 20_000), address); // backend-independent
    });

    test('differs by epoch and by secret', () => {
      const epochs = [0, 1, 2, 255, 256, 2 ** 32, Number.MAX_SAFE_INTEGER];
      const seen = new Set<string>();
      for (const epoch of epochs) {
        seen.add(toBase64Url(mailboxAddress(crypto, secret, epoch)));
        seen.add(toBase64Url(mailboxAddress(crypto, identity(crypto, 21).mailboxSecret, epoch)));
      }
      assert.equal(seen.size, epochs.length * 2);
    });

    test('refuses a bad epoch or secret', () => {
      for (const epoch of [-1, 0.5, Number.NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
        assert.throws(() => mailboxAddress(crypto, secret, epoch), RangeError, String(epoch));
      }
      assert.throws(() => mailboxAddress(crypto, new Uint8Array(16), 0), /32/);
    });
  });
}
