import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, seededRandom, type Crypto } from '../../src/crypto/index.js';
import {
  makeSuite,
  Sphinx,
  SphinxError,
  SUITE_NAMES,
  type HopCommand,
  type PathHop,
  type SphinxErrorCode,
  type SuiteName,
  type UnwrapResult,
} from '../../src/sphinx/index.js';
import { concat, flipBit, SMALL_ORDER_POINTS } from '../support/bytes.js';
import { makeNode, runsFor, type TestNode } from '../support/sphinx-nodes.js';

/**
 * Bad input of every kind must end in a SphinxError with the right code, never an untyped
 * exception, and must leave the Sphinx object working: after each bad input a valid packet still
 * goes through the whole path.
 */

const SEED = 0xbad;
const GEOMETRY = { hops: 3, userForwardPayloadLength: 200, withSurb: true } as const;

// --- helpers -------------------------------------------------------------------------------

function pathOver(nodes: readonly TestNode[], lastCommands: HopCommand[]): PathHop[] {
  return nodes.map((node, i) => ({
    id: node.id,
    publicKey: node.publicKey,
    commands: i < nodes.length - 1 ? [{ type: 'delay', delayMs: 10 * (i + 1) }] : lastCommands,
  }));
}

/** Asserts `fn` throws a SphinxError whose code is one of `codes`. */
function throwsSphinx(fn: () => unknown, codes: readonly SphinxErrorCode[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SphinxError, `expected a SphinxError, got ${String(error)}`);
    assert.ok(codes.includes(error.code), `expected one of ${codes.join(', ')}, got ${error.code}`);
    return true;
  });
}

/** Casts bad input past the type checker, as a caller in JavaScript could. */
const untyped = (value: unknown): Uint8Array => value as Uint8Array;

/** One fixed network per suite and backend: three nodes, a forward path, a SURB path and a SURB. */
function fixture(suiteName: SuiteName, crypto: Crypto) {
  const sphinx = new Sphinx(makeSuite(suiteName, crypto), GEOMETRY);
  const g = sphinx.geometry;
  const random = seededRandom(crypto, SEED);
  const nodes = Array.from({ length: g.hops }, () => makeNode(crypto, random));
  const recipient = random(32);
  const surbId = random(16);
  const message = new TextEncoder().encode('a valid message');
  const path = pathOver(nodes, [{ type: 'recipient', recipient }]);
  const surbPath = pathOver(nodes, [{ type: 'recipient', recipient }, { type: 'surb-reply', surbId }]);
  const { surb, decryptionToken } = sphinx.newSurb(surbPath, random);
  const packet = sphinx.newPacket(path, message, random, surb);

  /** Unwraps at each node in turn while the packet is forwarded; returns the last result. */
  const throughPath = (start: Uint8Array): UnwrapResult => {
    let result = sphinx.unwrap(nodes[0].privateKey, start);
    for (let i = 1; i < nodes.length && result.kind === 'forward'; i++) result = sphinx.unwrap(nodes[i].privateKey, result.packet);
    return result;
  };

  /** The valid packet still goes all the way and delivers its message and SURB. */
  const stillWorks = (): void => {
    const result = throughPath(packet);
    assert.equal(result.kind, 'deliver');
    if (result.kind !== 'deliver') return;
    const split = sphinx.splitForwardPayload(result.payload);
    assert.deepEqual(split.surb, surb);
    assert.deepEqual(split.message.subarray(0, message.length), message);
  };

  return { sphinx, g, random, nodes, recipient, surbId, path, surbPath, surb, decryptionToken, packet, throughPath, stillWorks };
}

// --- tests ---------------------------------------------------------------------------------

for (const suiteName of SUITE_NAMES) {
  for (const crypto of Object.values(backends)) {
    describe(`${suiteName} on ${crypto.name}`, () => {
      const f = fixture(suiteName, crypto);
      const { sphinx, g, nodes, packet, stillWorks } = f;
      const params = { seed: SEED, numRuns: runsFor(suiteName, crypto, 60, 12) };
      const firstKey = nodes[0].privateKey;

      test('the fixture packet goes through', () => {
        stillWorks();
      });

      test('a packet of the wrong length, or not a Uint8Array, is wrong-size', () => {
        const bad: [string, unknown][] = [
          ['truncated by one byte', packet.subarray(0, g.packetLength - 1)],
          ['truncated to its header', packet.subarray(0, g.headerLength)],
          ['one byte too long', concat(packet, new Uint8Array(1))],
          ['twice as long', concat(packet, packet)],
          ['empty', new Uint8Array(0)],
          ['a string of the right length', 'x'.repeat(g.packetLength)],
          ['null', null],
          ['undefined', undefined],
          ['a number array', Array.from(packet)],
          ['an ArrayBuffer', packet.slice().buffer],
          ['a Uint16Array', new Uint16Array(g.packetLength)],
        ];
        for (const [what, value] of bad) {
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.unwrap(firstKey, untyped(value)), ['wrong-size']), what);
          stillWorks();
        }
      });

      test('a private key that is not 32 bytes is invalid-key', () => {
        for (const value of [new Uint8Array(31), new Uint8Array(33), null, 'k'.repeat(32)]) {
          throwsSphinx(() => sphinx.unwrap(untyped(value), packet), ['invalid-key']);
        }
        stillWorks();
      });

      test('a malformed hop or command is invalid-path or malformed-commands, never a TypeError', () => {
        const random = f.random;
        const hopOf = (commands: unknown): PathHop => ({ ...f.path[0], commands: commands as HopCommand[] });
        throwsSphinx(() => sphinx.newPacket([untyped(null) as unknown as PathHop], new Uint8Array(1), random, f.surb), ['invalid-path']);
        throwsSphinx(() => sphinx.newPacket([hopOf(null)], new Uint8Array(1), random, f.surb), ['invalid-path']);
        throwsSphinx(() => sphinx.newPacket([hopOf([null])], new Uint8Array(1), random, f.surb), ['malformed-commands']);
        throwsSphinx(() => sphinx.newPacket([hopOf([{ type: 'teleport' }])], new Uint8Array(1), random, f.surb), ['malformed-commands']);
        throwsSphinx(() => sphinx.splitForwardPayload(untyped(null)), ['wrong-size']);
        stillWorks();
      });

      test('random bytes of the right length are bad-version, bad-mac or bad-group-element', () => {
        fc.assert(fc.property(fc.uint8Array({ minLength: g.packetLength, maxLength: g.packetLength }), (bytes) => {
          const versionOk = sphinx.suite.additionalData.every((byte, i) => bytes[i] === byte);
          throwsSphinx(() => sphinx.unwrap(firstKey, bytes), versionOk ? ['bad-mac', 'bad-group-element'] : ['bad-version']);
          stillWorks();
        }), params);
      });

      test('random bytes after the right additional data are bad-mac or bad-group-element', () => {
        const rest = g.packetLength - g.additionalDataLength;
        fc.assert(fc.property(fc.uint8Array({ minLength: rest, maxLength: rest }), (bytes) => {
          throwsSphinx(() => sphinx.unwrap(firstKey, concat(sphinx.suite.additionalData, bytes)), ['bad-mac', 'bad-group-element']);
          stillWorks();
        }), params);
      });

      test('a small-order group element is bad-group-element', () => {
        for (const point of SMALL_ORDER_POINTS) {
          const bad = packet.slice();
          bad.set(point, g.additionalDataLength);
          throwsSphinx(() => sphinx.unwrap(firstKey, bad), ['bad-group-element']);
          stillWorks();
        }
      });

      test('a wrong private key is bad-mac', () => {
        for (const node of nodes.slice(1)) throwsSphinx(() => sphinx.unwrap(node.privateKey, packet), ['bad-mac']);
        stillWorks();
        fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
          throwsSphinx(() => sphinx.unwrap(key, packet), ['bad-mac']);
          stillWorks();
        }), params);
      });

      test('a SURB of the wrong length is wrong-size', () => {
        const reply = new Uint8Array(10);
        const bad: [string, unknown][] = [
          ['truncated by one byte', f.surb.subarray(0, g.surbLength - 1)],
          ['one byte too long', concat(f.surb, new Uint8Array(1))],
          ['empty', new Uint8Array(0)],
          ['a string', 'x'.repeat(g.surbLength)],
          ['null', null],
        ];
        for (const [what, value] of bad) {
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.newPacketFromSurb(untyped(value), reply), ['wrong-size']), `reply: ${what}`);
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.newPacket(f.path, reply, f.random, untyped(value)), ['wrong-size']), `forward: ${what}`);
          stillWorks();
        }
      });

      test('a SURB with a flipped header bit yields a reply that a hop rejects', () => {
        fc.assert(fc.property(fc.nat({ max: g.headerLength * 8 - 1 }), (bit) => {
          const surb = flipBit(f.surb, bit);
          if (bit < g.additionalDataLength * 8) {
            // The replier can already see that the SURB is for another suite or version.
            throwsSphinx(() => sphinx.newPacketFromSurb(surb, new Uint8Array(10)), ['bad-version']);
          } else {
            const reply = sphinx.newPacketFromSurb(surb, new Uint8Array(10));
            throwsSphinx(() => f.throughPath(reply.packet), ['bad-mac', 'bad-version', 'bad-group-element']);
          }
          stillWorks();
        }), params);
      });

      /** Flips one bit of the SURB's key part, in bytes [from, to) of the key, and expects bad-payload. */
      const surbKeyFlipIsBadPayload = (from: number, to: number): void => {
        const keyStart = g.headerLength + 32;
        fc.assert(fc.property(fc.integer({ min: (keyStart + from) * 8, max: (keyStart + to) * 8 - 1 }), (bit) => {
          const reply = sphinx.newPacketFromSurb(flipBit(f.surb, bit), new TextEncoder().encode('reply'));
          const result = f.throughPath(reply.packet);
          assert.equal(result.kind, 'surb-reply');
          if (result.kind !== 'surb-reply') return;
          throwsSphinx(() => sphinx.decryptSurbPayload(result.payload, f.decryptionToken), ['bad-payload']);
          stillWorks();
        }), params);
      };
      // Every byte of the key counts: for umbra-v1 the SURB key is expanded to all four LIONESS
      // round keys, so a change anywhere in it scrambles the tag (a change confined to one round
      // key would leave the tag intact).
      test("a SURB with a flipped bit anywhere in its key makes the reply's payload bad-payload", () => {
        surbKeyFlipIsBadPayload(0, sphinx.suite.payloadKeyLength);
      });

      test('a decryption token or reply payload of the wrong length is wrong-size', () => {
        const reply = f.throughPath(sphinx.newPacketFromSurb(f.surb, new Uint8Array(10)).packet);
        assert.equal(reply.kind, 'surb-reply');
        const payload = reply.kind === 'surb-reply' ? reply.payload : new Uint8Array(0);
        const keyLength = sphinx.suite.payloadKeyLength;
        const token = f.decryptionToken;
        const badTokens: [string, unknown][] = [
          ['empty', new Uint8Array(0)],
          ['one key only', token.subarray(0, keyLength)],
          ['more keys than hops + 1', new Uint8Array(keyLength * (g.hops + 2))],
          ['truncated by one byte', token.subarray(0, token.length - 1)],
          ['one byte too long', concat(token, new Uint8Array(1))],
          ['null', null],
          ['a string', 'x'.repeat(token.length)],
        ];
        for (const [what, value] of badTokens) {
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.decryptSurbPayload(payload, untyped(value)), ['wrong-size']), `token: ${what}`);
        }
        const badPayloads: [string, unknown][] = [
          ['truncated by one byte', payload.subarray(1)],
          ['one byte too long', concat(payload, new Uint8Array(1))],
          ['null', null],
        ];
        for (const [what, value] of badPayloads) {
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.decryptSurbPayload(untyped(value), token), ['wrong-size']), `payload: ${what}`);
        }
        stillWorks();
      });

      test('a path that is empty, too long, or has a bad public key or node ID is invalid-path', () => {
        const random = seededRandom(crypto, 7);
        const extra = makeNode(crypto, random);
        const tooLong = pathOver([...nodes, extra], [{ type: 'recipient', recipient: f.recipient }]);
        const withHop = (index: number, change: Partial<PathHop>): PathHop[] =>
          f.path.map((hop, i) => (i === index ? { ...hop, ...change } : hop));
        const bad: [string, PathHop[]][] = [
          ['no hops', []],
          [`${g.hops + 1} hops`, tooLong],
          ['a 31-byte public key', withHop(1, { publicKey: nodes[1].publicKey.subarray(0, 31) })],
          ['a 33-byte public key', withHop(0, { publicKey: concat(nodes[0].publicKey, new Uint8Array(1)) })],
          ['a 31-byte node ID', withHop(2, { id: nodes[2].id.subarray(0, 31) })],
          ...SMALL_ORDER_POINTS.map((point, i): [string, PathHop[]] => [`small-order public key #${i}`, withHop(i % g.hops, { publicKey: point })]),
        ];
        for (const [what, path] of bad) {
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.newPacket(path, new Uint8Array(1), f.random, f.surb), ['invalid-path']), `packet: ${what}`);
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.newSurb(path, f.random), ['invalid-path']), `SURB: ${what}`);
          stillWorks();
        }
      });

      test('a message or reply longer than the payload is payload-too-long', () => {
        const tooLong = new Uint8Array(g.userForwardPayloadLength + 1);
        throwsSphinx(() => sphinx.newPacket(f.path, tooLong, f.random, f.surb), ['payload-too-long']);
        throwsSphinx(() => sphinx.newPacketFromSurb(f.surb, new Uint8Array(g.forwardPayloadLength + 1)), ['payload-too-long']);
        // The longest message and reply that fit are fine.
        sphinx.newPacket(f.path, new Uint8Array(g.userForwardPayloadLength), f.random, f.surb);
        sphinx.newPacketFromSurb(f.surb, new Uint8Array(g.forwardPayloadLength));
        // This geometry carries a SURB in every forward packet; one without SURBs has no room for one.
        throwsSphinx(() => sphinx.newPacket(f.path, new Uint8Array(1), f.random), ['payload-too-long']);
        const noSurb = new Sphinx(sphinx.suite, { ...GEOMETRY, withSurb: false });
        throwsSphinx(() => noSurb.newPacket(f.path, new Uint8Array(1), f.random, f.surb), ['payload-too-long']);
        stillWorks();
      });

      test('commands that do not fit their slot or are malformed are malformed-commands', () => {
        const recipient = { type: 'recipient', recipient: f.recipient } as const;
        const surbReply = { type: 'surb-reply', surbId: f.surbId } as const;
        const lastHop = (commands: unknown[]): PathHop[] => pathOver(nodes, commands as HopCommand[]);
        const middleHop = (commands: unknown[]): PathHop[] =>
          f.path.map((hop, i) => (i === 0 ? { ...hop, commands: commands as HopCommand[] } : hop));
        const bad: [string, PathHop[]][] = [
          ['three recipient commands', lastHop([recipient, recipient, recipient])],
          ['next hop + recipient + SURB reply on a middle hop', middleHop([recipient, surbReply])],
          ['a negative delay', middleHop([{ type: 'delay', delayMs: -1 }])],
          ['a delay of 2^32 ms', middleHop([{ type: 'delay', delayMs: 2 ** 32 }])],
          ['a fractional delay', middleHop([{ type: 'delay', delayMs: 1.5 }])],
          ['a 31-byte recipient', lastHop([{ type: 'recipient', recipient: f.recipient.subarray(0, 31) }])],
          ['a 15-byte SURB ID', lastHop([recipient, { type: 'surb-reply', surbId: f.surbId.subarray(0, 15) }])],
          ['an unknown command', lastHop([{ type: 'teleport' }])],
        ];
        for (const [what, path] of bad) {
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.newPacket(path, new Uint8Array(1), f.random, f.surb), ['malformed-commands']), `packet: ${what}`);
          assert.doesNotThrow(() => throwsSphinx(() => sphinx.newSurb(path, f.random), ['malformed-commands']), `SURB: ${what}`);
          stillWorks();
        }
      });

      test('arbitrary bytes of arbitrary length only ever raise SphinxError', () => {
        const nearLength = fc
          .integer({ min: g.packetLength - 2, max: g.packetLength + 2 })
          .chain((length) => fc.uint8Array({ minLength: length, maxLength: length }));
        const bytes = fc.oneof(fc.uint8Array({ maxLength: 2 * g.packetLength }), nearLength);
        fc.assert(fc.property(bytes, (bytes) => {
          for (const node of nodes) {
            assert.throws(() => sphinx.unwrap(node.privateKey, bytes), (error: unknown) => {
              assert.ok(error instanceof SphinxError, `expected a SphinxError, got ${String(error)}`);
              return true;
            });
          }
          stillWorks();
        }), params);
      });
    });
  }
}
