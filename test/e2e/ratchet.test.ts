import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, seededRandom, type Crypto } from '../../src/crypto/index.js';
import { E2eError, type E2eErrorCode } from '../../src/e2e/errors.js';
import { RatchetSession, type RatchetKeyPair } from '../../src/e2e/ratchet.js';
import { concat, flipBit, SMALL_ORDER_POINTS } from '../support/bytes.js';

/**
 * The Double Ratchet with header encryption (docs/e2e-ratchet.md): round trips, out-of-order
 * delivery, bounds, replays, tampering, forward secrecy, break-in recovery and the stored state,
 * on both crypto backends (noble's X25519 is ~20x slower, so it runs fewer cases).
 */

const encoder = new TextEncoder();
const AD = encoder.encode('umbra ratchet test ad');
const ZERO32 = new Uint8Array(32);
const HEADER_BYTES = 80;
const MAX_PLAINTEXT = 16 * 1024 * 1024;

type Side = 'alice' | 'bob';
type Options = Parameters<typeof RatchetSession.initSender>[4];

interface Pair {
  alice: RatchetSession;
  bob: RatchetSession;
  sk: Uint8Array;
  bobKeys: RatchetKeyPair;
}

/** Bob's identity key pair and SK from one seed; each side has its own seeded randomness. */
function makePair(crypto: Crypto, seed: number, options?: Options): Pair {
  const setup = seededRandom(crypto, seed);
  const secret = setup(32);
  const bobKeys = { secret, public: crypto.x25519Base(secret) };
  const sk = setup(32);
  const alice = RatchetSession.initSender(crypto, seededRandom(crypto, seed + 0.25), sk, bobKeys.public, options);
  const bob = RatchetSession.initReceiver(crypto, seededRandom(crypto, seed + 0.5), sk, bobKeys, options);
  return { alice, bob, sk, bobKeys };
}

/** The E2eError code `fn` raises, or 'ok'; any other exception fails the test. */
function codeOf(fn: () => unknown): E2eErrorCode | 'ok' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (error instanceof E2eError) return error.code;
    throw error;
  }
}

/** Asserts `fn` fails with one of `codes` and leaves `session`'s state byte for byte as it was. */
function refuses(session: RatchetSession, fn: () => unknown, codes: readonly E2eErrorCode[], what = ''): E2eErrorCode {
  const before = session.encode();
  const code = codeOf(fn);
  assert.ok(code !== 'ok' && codes.includes(code), `${what}: expected ${codes.join(' or ')}, got ${code}`);
  assert.deepEqual(session.encode(), before, `${what}: state changed by a refused message`);
  return code as E2eErrorCode;
}

const plaintextFor = (tag: string): Uint8Array => encoder.encode(`message ${tag}`);
const runsFor = (crypto: Crypto, sodium: number, noble: number): number => (crypto.name === 'sodium' ? sodium : noble);

// --- a conversation simulator ---------------------------------------------------------------

interface Sent {
  id: number;
  from: Side;
  to: Side;
  message: Uint8Array;
  plaintext: Uint8Array;
}

interface Round {
  count: number;
  /** Which of the round's messages arrive at once; the rest arrive at the end, shuffled. */
  deliverNow: boolean[];
  /** Replace both sessions by decode(encode()) after this round. */
  reload: boolean;
}

const roundArb = fc.record({
  count: fc.integer({ min: 1, max: 4 }),
  deliverNow: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  reload: fc.boolean(),
});

/**
 * Alternating rounds (Alice first, as she must); each round's sender sends `count` messages and
 * the receiver gets some at once. Then everything still in flight arrives in the order given by
 * `priority`, and every message is replayed. Every plaintext must come out right, every replay
 * must be 'replay' and leave the state alone.
 */
function converse(crypto: Crypto, seed: number, rounds: Round[], priority: number[], reload: boolean): void {
  const pair = makePair(crypto, seed);
  const sessions: Record<Side, RatchetSession> = { alice: pair.alice, bob: pair.bob };
  const all: Sent[] = [];
  const inFlight: Sent[] = [];
  let reloads = 0;
  const receive = (sent: Sent) => {
    assert.deepEqual(sessions[sent.to].decrypt(sent.message, AD), sent.plaintext, `message ${sent.id}`);
  };
  rounds.forEach((round, r) => {
    const from: Side = r % 2 === 0 ? 'alice' : 'bob';
    const to: Side = from === 'alice' ? 'bob' : 'alice';
    for (let k = 0; k < round.count; k++) {
      const id = all.length;
      const plaintext = plaintextFor(`${id} ${from}`);
      const sent = { id, from, to, plaintext, message: sessions[from].encrypt(plaintext, AD) };
      all.push(sent);
      // Bob must hear from Alice before he can send, so Alice's very first message arrives.
      if (round.deliverNow[k] || (r === 0 && k === 0)) receive(sent);
      else inFlight.push(sent);
    }
    if (reload && round.reload) {
      for (const side of ['alice', 'bob'] as const) {
        const bytes = sessions[side].encode();
        sessions[side] = RatchetSession.decode(crypto, seededRandom(crypto, seed + 100 + reloads++), bytes);
        assert.deepEqual(sessions[side].encode(), bytes, 'encode(decode(state)) = state');
      }
    }
  });
  inFlight.sort((a, b) => priority[a.id % priority.length] - priority[b.id % priority.length] || a.id - b.id);
  for (const sent of inFlight) receive(sent);
  for (const sent of all) refuses(sessions[sent.to], () => sessions[sent.to].decrypt(sent.message, AD), ['replay'], `replay of ${sent.id}`);
  // The session still works both ways after all that.
  for (const [from, to] of [['alice', 'bob'], ['bob', 'alice']] as const) {
    const plaintext = plaintextFor(`final ${from}`);
    assert.deepEqual(sessions[to].decrypt(sessions[from].encrypt(plaintext, AD), AD), plaintext);
  }
}

// --- the byte-level construction of docs/e2e-ratchet.md, rebuilt independently ------------------

const u32 = (value: number): Uint8Array => {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, false);
  return out;
};

function bodyKey(crypto: Crypto, mk: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const okm = crypto.hkdfSha256(mk, ZERO32, encoder.encode('umbra ratchet message'), 56);
  return { key: okm.subarray(0, 32), nonce: okm.subarray(32) };
}

/** True if `mk`, taken as a message key, opens `message`'s body. */
function opensBodyWith(crypto: Crypto, mk: Uint8Array, message: Uint8Array, ad: Uint8Array): boolean {
  const encryptedHeader = message.subarray(2, 2 + HEADER_BYTES);
  const { key, nonce } = bodyKey(crypto, mk);
  try {
    crypto.xchacha20Poly1305Open(key, nonce, message.subarray(2 + HEADER_BYTES), concat(ad, encryptedHeader));
    return true;
  } catch {
    return false;
  }
}

function headerKeys(crypto: Crypto, sk: Uint8Array): { hka: Uint8Array; nhkb: Uint8Array } {
  const okm = crypto.hkdfSha256(sk, ZERO32, encoder.encode('umbra ratchet header keys'), 64);
  return { hka: okm.slice(0, 32), nhkb: okm.slice(32) };
}

/** A message whose header is sealed under `hk`, as a peer holding that header key could make it. */
function forgedMessage(crypto: Crypto, hk: Uint8Array, dhPublic: Uint8Array, pn: number, n: number): Uint8Array {
  const nonce = new Uint8Array(24).fill(7);
  const encryptedHeader = concat(nonce, crypto.xchacha20Poly1305Seal(hk, nonce, concat(dhPublic, u32(pn), u32(n))));
  return concat(Uint8Array.of(0, HEADER_BYTES), encryptedHeader, new Uint8Array(40));
}

for (const crypto of Object.values(backends)) {
  describe(`Double Ratchet (${crypto.name})`, () => {
    test('the first messages are the documented construction, byte for byte', () => {
      const seed = 1;
      const { alice, bob, sk, bobKeys } = makePair(crypto, seed);
      const aliceRandom = seededRandom(crypto, seed + 0.25);
      const aliceSecret = aliceRandom(32);
      const alicePublic = crypto.x25519Base(aliceSecret);
      const { hka, nhkb } = headerKeys(crypto, sk);
      const root = crypto.hkdfSha256(crypto.x25519(aliceSecret, bobKeys.public), sk, encoder.encode('umbra ratchet root'), 96);
      let ck: Uint8Array = root.slice(32, 64);
      for (let n = 0; n < 2; n++) {
        const mk = crypto.hmacSha256(ck, Uint8Array.of(1));
        ck = crypto.hmacSha256(ck, Uint8Array.of(2));
        const headerNonce = aliceRandom(24);
        const encryptedHeader = concat(headerNonce, crypto.xchacha20Poly1305Seal(hka, headerNonce, concat(alicePublic, u32(0), u32(n))));
        const plaintext = plaintextFor(`${n}`);
        const { key, nonce } = bodyKey(crypto, mk);
        const expected = concat(Uint8Array.of(0, 80), encryptedHeader, crypto.xchacha20Poly1305Seal(key, nonce, plaintext, concat(AD, encryptedHeader)));
        const message = alice.encrypt(plaintext, AD);
        assert.deepEqual(message, expected, `message ${n}`);
        assert.equal(message.length, 2 + 80 + plaintext.length + 16);
        assert.deepEqual(bob.decrypt(message, AD), plaintext);
      }
      // Bob's first reply: header sealed under shared_nhkb, a fresh ratchet key, PN = N = 0.
      const reply = bob.encrypt(plaintextFor('reply'), AD);
      const header = crypto.xchacha20Poly1305Open(nhkb, reply.subarray(2, 26), reply.subarray(26, 82));
      assert.equal(header.length, 40);
      assert.notDeepEqual(header.subarray(0, 32), bobKeys.public);
      assert.deepEqual(header.subarray(32), new Uint8Array(8));
      assert.deepEqual(alice.decrypt(reply, AD), plaintextFor('reply'));
    });

    test('round trips both ways, alternating and bursty, with any plaintext and associated data', () => {
      fc.assert(
        fc.property(
          fc.array(fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }),
          fc.uint8Array({ maxLength: 32 }),
          fc.integer({ min: 1, max: 1 << 20 }),
          (turns, ad, seed) => {
            const { alice, bob } = makePair(crypto, seed);
            turns.forEach((plaintexts, t) => {
              const [from, to] = t % 2 === 0 ? [alice, bob] : [bob, alice];
              const messages = plaintexts.map((p) => from.encrypt(p, ad));
              messages.forEach((m, i) => assert.deepEqual(to.decrypt(m, ad), plaintexts[i]));
            });
          },
        ),
        { seed: 0x7a71, numRuns: runsFor(crypto, 40, 6) },
      );
    });

    test('the receiver cannot send before its first message (bad-state)', () => {
      const { bob } = makePair(crypto, 2);
      assert.equal(codeOf(() => bob.encrypt(plaintextFor('too early'), AD)), 'bad-state');
    });

    test('out-of-order delivery within chains and across DH steps; every replay is refused', () => {
      fc.assert(
        fc.property(
          fc.array(roundArb, { minLength: 1, maxLength: 7 }),
          fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
          fc.integer({ min: 1, max: 1 << 20 }),
          (rounds, priority, seed) => converse(crypto, seed, rounds, priority, false),
        ),
        { seed: 0x0dd, numRuns: runsFor(crypto, 40, 5) },
      );
    });

    test('encode/decode at any point preserves behaviour (skipped and retired keys included)', () => {
      fc.assert(
        fc.property(
          fc.array(roundArb, { minLength: 1, maxLength: 7 }),
          fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
          fc.integer({ min: 1, max: 1 << 20 }),
          (rounds, priority, seed) => converse(crypto, seed, rounds, priority, true),
        ),
        { seed: 0x5a7e, numRuns: runsFor(crypto, 25, 4) },
      );
    });

    test('MAX_SKIP (default 1000) per chain: N = 1000 skips, N = 1001 is too-many-skipped', () => {
      const { alice, bob } = makePair(crypto, 3);
      const messages = Array.from({ length: 1002 }, (_, i) => alice.encrypt(plaintextFor(`${i}`), AD));
      refuses(bob, () => bob.decrypt(messages[1001], AD), ['too-many-skipped'], 'N = 1001');
      assert.deepEqual(bob.decrypt(messages[1000], AD), plaintextFor('1000'));
      for (const i of crypto.name === 'sodium' ? [...messages.keys()].slice(0, 1000) : [0, 499, 999]) {
        assert.deepEqual(bob.decrypt(messages[i], AD), plaintextFor(`${i}`));
      }
      assert.deepEqual(bob.decrypt(messages[1001], AD), plaintextFor('1001'));
    });

    test('MAX_SKIP also bounds the keys skipped at a DH step (PN)', () => {
      const { alice, bob } = makePair(crypto, 4, { maxSkip: 5 });
      assert.deepEqual(bob.decrypt(alice.encrypt(plaintextFor('a0'), AD), AD), plaintextFor('a0'));
      const reply = bob.encrypt(plaintextFor('b0'), AD);
      const late = Array.from({ length: 6 }, (_, i) => alice.encrypt(plaintextFor(`late ${i}`), AD)); // N = 1..6
      alice.decrypt(reply, AD);
      const next = alice.encrypt(plaintextFor('a-next'), AD); // new chain, PN = 7
      refuses(bob, () => bob.decrypt(next, AD), ['too-many-skipped'], 'PN = 7, Nr = 1, MAX_SKIP = 5');
      // Once the old chain has caught up (N = 6 skips 5 keys), the DH step goes through.
      assert.deepEqual(bob.decrypt(late[5], AD), plaintextFor('late 5'));
      assert.deepEqual(bob.decrypt(next, AD), plaintextFor('a-next'));
      for (let i = 0; i < 5; i++) assert.deepEqual(bob.decrypt(late[i], AD), plaintextFor(`late ${i}`));
    });

    test('the total number of stored skipped keys is bounded; the oldest go first', () => {
      const { alice, bob } = makePair(crypto, 5, { maxSkip: 10, maxSkippedKeys: 12 });
      const chain1 = Array.from({ length: 11 }, (_, i) => alice.encrypt(plaintextFor(`c1 ${i}`), AD));
      bob.decrypt(chain1[10], AD); // stores 10 keys (N = 0..9)
      alice.decrypt(bob.encrypt(plaintextFor('reply'), AD), AD);
      const chain2 = Array.from({ length: 6 }, (_, i) => alice.encrypt(plaintextFor(`c2 ${i}`), AD));
      bob.decrypt(chain2[5], AD); // stores 5 more: 15 > 12, so chain 1's N = 0, 1, 2 are dropped
      for (const i of [0, 1, 2]) refuses(bob, () => bob.decrypt(chain1[i], AD), ['replay'], `dropped key ${i}`);
      for (let i = 3; i < 10; i++) assert.deepEqual(bob.decrypt(chain1[i], AD), plaintextFor(`c1 ${i}`));
      for (let i = 0; i < 5; i++) assert.deepEqual(bob.decrypt(chain2[i], AD), plaintextFor(`c2 ${i}`));
    });

    test('tampering with any byte is bad-message or unknown-session and changes nothing', () => {
      const { alice, bob } = makePair(crypto, 6);
      const a0 = alice.encrypt(plaintextFor('a0'), AD);
      const a1 = alice.encrypt(plaintextFor('a1'), AD); // will need a skipped key
      const a2 = alice.encrypt(plaintextFor('a2'), AD);
      bob.decrypt(a0, AD);
      const run = ([what, message, plaintext]: [string, Uint8Array, Uint8Array]) => {
        const stride = runsFor(crypto, 1, 5);
        for (let byte = 0; byte < message.length; byte += stride) {
          const tampered = flipBit(message, byte * 8 + (byte % 8));
          const code = refuses(bob, () => bob.decrypt(tampered, AD), ['bad-message', 'unknown-session'], `${what}, byte ${byte}`);
          if (byte >= 2 + HEADER_BYTES) assert.equal(code, 'bad-message', `${what}: a tampered body`);
          if (byte >= 2 && byte < 2 + HEADER_BYTES) assert.equal(code, 'unknown-session', `${what}: a tampered header`);
        }
        refuses(bob, () => bob.decrypt(message, encoder.encode('other ad')), ['bad-message'], `${what}, other AD`);
        refuses(bob, () => bob.decrypt(message.subarray(0, message.length - 1), AD), ['bad-message'], `${what}, truncated`);
        refuses(bob, () => bob.decrypt(concat(message, Uint8Array.of(0)), AD), ['bad-message'], `${what}, extended`);
        assert.deepEqual(bob.decrypt(message, AD), plaintext, `${what}: the genuine message after tampering`);
      };
      run(['next in chain', a2, plaintextFor('a2')]);
      run(['skipped key', a1, plaintextFor('a1')]);
      // A message that makes a DH step.
      alice.decrypt(bob.encrypt(plaintextFor('b0'), AD), AD);
      run(['DH step', alice.encrypt(plaintextFor('a3'), AD), plaintextFor('a3')]);
    });

    test('malformed and oversized messages are bad-message; the size bound is 16 MiB + overhead', () => {
      const { alice, bob } = makePair(crypto, 7);
      const message = alice.encrypt(plaintextFor('m'), AD);
      const withHeaderLength = (length: number) =>
        concat(Uint8Array.of(length >> 8, length & 0xff), message.subarray(2, 2 + Math.min(length, 80)), message.subarray(82));
      for (const bad of [new Uint8Array(0), message.subarray(0, 97), withHeaderLength(79), withHeaderLength(81), withHeaderLength(0), new Uint8Array(MAX_PLAINTEXT + 2 + 80 + 16 + 1)]) {
        refuses(bob, () => bob.decrypt(bad, AD), ['bad-message'], `malformed of ${bad.length} bytes`);
        assert.equal(bob.opensHeader(bad), false);
      }
      assert.equal(codeOf(() => alice.encrypt(new Uint8Array(MAX_PLAINTEXT + 1), AD)), 'too-large');
      if (crypto.name === 'sodium') {
        const largest = alice.encrypt(new Uint8Array(MAX_PLAINTEXT), AD);
        assert.equal(largest.length, MAX_PLAINTEXT + 2 + 80 + 16);
        bob.decrypt(message, AD);
        assert.equal(bob.decrypt(largest, AD).length, MAX_PLAINTEXT);
      }
    });

    test('a message of another session is unknown-session; opensHeader tells which session', () => {
      const one = makePair(crypto, 8);
      const two = makePair(crypto, 9);
      const toTwo = two.alice.encrypt(plaintextFor('for two'), AD);
      assert.equal(one.bob.opensHeader(toTwo), false);
      assert.equal(two.bob.opensHeader(toTwo), true);
      refuses(one.bob, () => one.bob.decrypt(toTwo, AD), ['unknown-session']);
      assert.deepEqual(two.bob.decrypt(toTwo, AD), plaintextFor('for two'));
      // After some traffic in both, still only the right session opens each message.
      one.bob.decrypt(one.alice.encrypt(plaintextFor('for one'), AD), AD);
      const reply = two.bob.encrypt(plaintextFor('two replies'), AD);
      assert.equal(one.alice.opensHeader(reply), false);
      assert.equal(two.alice.opensHeader(reply), true);
      refuses(one.alice, () => one.alice.decrypt(reply, AD), ['unknown-session']);
      refuses(two.bob, () => two.bob.decrypt(toTwo, AD), ['replay']);
      assert.equal(two.bob.opensHeader(toTwo), true, 'a replay still belongs to its session');
    });

    test('replays: a replayed message is refused; beyond the retired-key window it is unknown-session', () => {
      const { alice, bob } = makePair(crypto, 10, { maxRetiredHeaderKeys: 1 });
      const first = alice.encrypt(plaintextFor('first'), AD);
      bob.decrypt(first, AD);
      refuses(bob, () => bob.decrypt(first, AD), ['replay']);
      for (let step = 0; step < 3; step++) {
        alice.decrypt(bob.encrypt(plaintextFor(`b${step}`), AD), AD);
        bob.decrypt(alice.encrypt(plaintextFor(`a${step}`), AD), AD);
        refuses(bob, () => bob.decrypt(first, AD), step === 0 ? ['replay'] : ['unknown-session'], `after ${step + 1} DH steps`);
      }
    });

    test('a small-order ratchet key from the peer is bad-message', () => {
      const { bob, sk, bobKeys } = makePair(crypto, 11);
      const { hka } = headerKeys(crypto, sk); // Bob's NHKr before his first message
      for (const point of SMALL_ORDER_POINTS) {
        refuses(bob, () => bob.decrypt(forgedMessage(crypto, hka, point, 0, 0), AD), ['bad-message']);
        assert.equal(codeOf(() => RatchetSession.initSender(crypto, seededRandom(crypto, 1), sk, point)), 'bad-message');
      }
      // A header that opens but asks for N = 2^32 - 1 is bad-message too.
      refuses(bob, () => bob.decrypt(forgedMessage(crypto, hka, bobKeys.public, 0, 0xffffffff), AD), ['bad-message']);
    });

    test('forward secrecy: Bob\'s state after message i opens none of the earlier messages', () => {
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 8 }),
          fc.nat(),
          fc.integer({ min: 1, max: 1 << 20 }),
          (turns, theftPick, seed) => {
            const { alice, bob } = makePair(crypto, seed);
            const captured: Uint8Array[] = [];
            const total = turns.filter((_, t) => t % 2 === 0).reduce((a, b) => a + b, 0);
            const theftAfter = theftPick % total; // steal after Bob decrypted captured[theftAfter]
            let stolen: Uint8Array | undefined;
            turns.forEach((count, t) => {
              for (let k = 0; k < count; k++) {
                if (t % 2 === 1) {
                  alice.decrypt(bob.encrypt(plaintextFor(`b ${t} ${k}`), AD), AD);
                  continue;
                }
                const message = alice.encrypt(plaintextFor(`a ${captured.length}`), AD);
                bob.decrypt(message, AD);
                captured.push(message);
                if (captured.length - 1 === theftAfter) stolen = bob.encode();
              }
            });
            assert.ok(stolen !== undefined);
            for (let j = 0; j <= theftAfter; j++) {
              const attacker = RatchetSession.decode(crypto, seededRandom(crypto, seed + 0.75), stolen);
              const code = codeOf(() => attacker.decrypt(captured[j], AD));
              assert.ok(code !== 'ok', `the stolen state decrypted message ${j}`);
            }
          },
        ),
        { seed: 0xf5, numRuns: runsFor(crypto, 30, 5) },
      );
    });

    test('forward secrecy: no 32 bytes of the stolen state are (or derive) an earlier message key', () => {
      const { alice, bob } = makePair(crypto, 12);
      const captured: Uint8Array[] = [];
      const send = (count: number) => {
        for (let i = 0; i < count; i++) {
          const message = alice.encrypt(plaintextFor(`a ${captured.length}`), AD);
          bob.decrypt(message, AD);
          captured.push(message);
        }
      };
      send(3);
      alice.decrypt(bob.encrypt(plaintextFor('b'), AD), AD);
      send(3);
      const stolen = bob.encode();
      // The last message of the previous chain and the previous message of the current one.
      for (const message of [captured[2], captured[4]]) {
        for (let offset = 0; offset + 32 <= stolen.length; offset++) {
          const window = stolen.subarray(offset, offset + 32);
          assert.equal(opensBodyWith(crypto, window, message, AD), false, `state bytes at ${offset} are a message key`);
          const asChainKey = crypto.hmacSha256(window, Uint8Array.of(1));
          assert.equal(opensBodyWith(crypto, asChainKey, message, AD), false, `state bytes at ${offset} are a chain key`);
        }
      }
      // The check has teeth: the current chain key does derive the next message's key.
      const next = alice.encrypt(plaintextFor('next'), AD);
      let found = false;
      for (let offset = 0; offset + 32 <= stolen.length && !found; offset++) {
        found = opensBodyWith(crypto, crypto.hmacSha256(stolen.subarray(offset, offset + 32), Uint8Array.of(1)), next, AD);
      }
      assert.ok(found, 'the scan finds the current chain key');
    });

    test('break-in recovery: a stolen Bob state reads Alice exactly until Bob\'s next fresh ratchet key reaches her', () => {
      let readBeforeRecovery = 0;
      let refusedAfterRecovery = 0;
      fc.assert(
        fc.property(
          fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 4, maxLength: 9 }),
          fc.nat(),
          fc.integer({ min: 1, max: 1 << 20 }),
          (turns, theftPick, seed) => {
            const { alice, bob } = makePair(crypto, seed);
            // Which Bob ratchet key generation each message's chain uses (0 = Bob's identity key).
            let aliceGen = 1;
            let aliceSeesBob = 0;
            let bobGen = 0;
            let bobSeesAlice = 0;
            const deliveries = turns.reduce((a, b) => a + b, 0);
            const theftAt = theftPick % deliveries; // steal before delivery number theftAt
            let attacker: RatchetSession | undefined;
            let theftBobGen = -1;
            let delivery = 0;
            turns.forEach((count, t) => {
              for (let k = 0; k < count; k++, delivery++) {
                if (delivery === theftAt) {
                  attacker = RatchetSession.decode(crypto, seededRandom(crypto, seed + 0.75), bob.encode());
                  theftBobGen = bobGen;
                }
                const plaintext = plaintextFor(`${t} ${k}`);
                if (t % 2 === 1) {
                  const message = bob.encrypt(plaintext, AD);
                  const tag = bobGen;
                  alice.decrypt(message, AD);
                  if (tag > aliceSeesBob) [aliceSeesBob, aliceGen] = [tag, aliceGen + 1];
                  if (attacker !== undefined) codeOf(() => attacker!.decrypt(message, AD)); // it sees everything
                  continue;
                }
                const message = alice.encrypt(plaintext, AD);
                const [tagAlice, tagBob] = [aliceGen, aliceSeesBob];
                assert.deepEqual(bob.decrypt(message, AD), plaintext);
                if (tagAlice > bobSeesAlice) [bobSeesAlice, bobGen] = [tagAlice, bobGen + 1];
                if (attacker === undefined) continue;
                let read: Uint8Array | undefined;
                const code = codeOf(() => (read = attacker!.decrypt(message, AD)));
                if (tagBob <= theftBobGen) {
                  assert.equal(code, 'ok', `before recovery the stolen state reads Alice (delivery ${delivery})`);
                  assert.deepEqual(read, plaintext);
                  readBeforeRecovery++;
                } else {
                  assert.notEqual(code, 'ok', `after recovery the stolen state must not read Alice (delivery ${delivery})`);
                  refusedAfterRecovery++;
                }
              }
            });
          },
        ),
        { seed: 0xbc5, numRuns: runsFor(crypto, 30, 5) },
      );
      assert.ok(readBeforeRecovery > 0 && refusedAfterRecovery > 0, 'both sides of recovery were exercised');
    });

    test('break-in recovery: the two orders of theft and round trip', () => {
      const say = (from: RatchetSession, to: RatchetSession, tag: string) => {
        const message = from.encrypt(plaintextFor(tag), AD);
        assert.deepEqual(to.decrypt(message, AD), plaintextFor(tag));
        return message;
      };
      const attackerReads = (attacker: RatchetSession, message: Uint8Array) => codeOf(() => attacker.decrypt(message, AD)) === 'ok';

      // (a) Stolen before Bob takes Alice's new ratchet key: one round trip (Bob replies, Alice
      // answers) locks the attacker out, because Bob's reply key is generated after the theft.
      {
        const { alice, bob } = makePair(crypto, 13);
        say(alice, bob, 'a0');
        say(bob, alice, 'b0');
        const attacker = RatchetSession.decode(crypto, seededRandom(crypto, 99), bob.encode());
        const a1 = say(alice, bob, 'a1'); // Alice's new key; Bob makes a fresh one
        assert.equal(attackerReads(attacker, a1), true);
        const b1 = say(bob, alice, 'b1');
        codeOf(() => attacker.decrypt(b1, AD));
        for (const tag of ['a2', 'a3']) assert.equal(attackerReads(attacker, say(alice, bob, tag)), false, tag);
      }
      // (b) Stolen after Bob already made the key he replies with: Alice's answer on that key is
      // still readable; the next round trip locks the attacker out.
      {
        const { alice, bob } = makePair(crypto, 14);
        say(alice, bob, 'a0');
        say(bob, alice, 'b0');
        say(alice, bob, 'a1');
        const attacker = RatchetSession.decode(crypto, seededRandom(crypto, 99), bob.encode());
        say(bob, alice, 'b1');
        assert.equal(attackerReads(attacker, say(alice, bob, 'a2')), true, 'the answer on the stolen key');
        say(bob, alice, 'b2');
        for (const tag of ['a3', 'a4']) assert.equal(attackerReads(attacker, say(alice, bob, tag)), false, tag);
      }
    });

    test('decode of random bytes, truncations and inconsistent states is bad-state', () => {
      const { alice, bob } = makePair(crypto, 15);
      const messages = Array.from({ length: 4 }, (_, i) => alice.encrypt(plaintextFor(`${i}`), AD));
      bob.decrypt(messages[3], AD); // three skipped keys
      alice.decrypt(bob.encrypt(plaintextFor('b'), AD), AD);
      bob.decrypt(alice.encrypt(plaintextFor('a'), AD), AD); // one retired header key
      const state = bob.encode();
      const random = seededRandom(crypto, 1);
      const decodes = (bytes: Uint8Array) => codeOf(() => RatchetSession.decode(crypto, random, bytes));
      assert.equal(decodes(state), 'ok');
      const step = runsFor(crypto, 1, 7);
      for (let length = 0; length < state.length; length += step) assert.equal(decodes(state.subarray(0, length)), 'bad-state', `prefix ${length}`);
      assert.equal(decodes(concat(state, Uint8Array.of(0))), 'bad-state', 'trailing byte');
      const patched = (offset: number, ...values: number[]) => {
        const copy = state.slice();
        copy.set(values, offset);
        return copy;
      };
      // Layout: version (1), MAX_SKIP, skipped-key bound, retired-key bound (u32 each), DHs (32), flags.
      assert.equal(decodes(patched(0, 2)), 'bad-state', 'unknown version');
      assert.equal(decodes(patched(1 + 12 + 32, 0x02)), 'bad-state', 'sending chain without DHr');
      assert.equal(decodes(patched(1 + 12 + 32, 0x08)), 'bad-state', 'unknown flag');
      assert.equal(decodes(patched(1, 0xff)), 'bad-state', 'MAX_SKIP out of range');
      assert.equal(decodes(patched(1, 0, 0, 0, 0)), 'bad-state', 'MAX_SKIP of 0');
      assert.equal(decodes(patched(5, 0, 0, 0, 1)), 'bad-state', 'more skipped keys stored than allowed');
      assert.equal(decodes(patched(9, 0, 0, 0, 0)), 'bad-state', 'more retired keys stored than allowed');
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 700 }), fc.boolean(), (bytes, versioned) => {
          const input = versioned && bytes.length > 0 ? concat(Uint8Array.of(1), bytes) : bytes;
          assert.equal(decodes(input), 'bad-state');
        }),
        { seed: 0xde, numRuns: runsFor(crypto, 300, 100) },
      );
    });
  });
}
