import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { backends, seededRandom, type Crypto, type RandomSource } from '../../src/crypto/index.js';
import {
  makeSuite,
  MemoryReplayFilter,
  Sphinx,
  SphinxError,
  SUITE_NAMES,
  type GeometryOptions,
  type HopCommand,
  type PathHop,
  type SphinxErrorCode,
  type UnwrapResult,
} from '../../src/sphinx/index.js';
import { flipBit } from '../support/bytes.js';
import { makeNode, runsFor, type TestNode } from '../support/sphinx-nodes.js';

/**
 * Property tests of the Sphinx core: every suite on every backend, over a few geometries. Each
 * run draws a path of 1..hops fresh nodes; fast-check's seeds are fixed so runs are reproducible.
 */

const SEED = 0x5eed;
const GEOMETRIES: readonly GeometryOptions[] = [
  { hops: 5, userForwardPayloadLength: 103, withSurb: false },
  { hops: 3, userForwardPayloadLength: 500, withSurb: true },
  { hops: 1, userForwardPayloadLength: 1, withSurb: false },
];

// --- helpers -------------------------------------------------------------------------------

/** What one run is built from: the seed of every random byte, the path length, delays and message. */
interface Scenario {
  readonly seed: number;
  readonly length: number;
  readonly delays: readonly number[];
  readonly message: Uint8Array;
}

function scenario(g: GeometryOptions): fc.Arbitrary<Scenario> {
  return fc.record({
    seed: fc.integer(),
    length: fc.integer({ min: 1, max: g.hops }),
    delays: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: g.hops, maxLength: g.hops }),
    message: fc.uint8Array({ maxLength: g.userForwardPayloadLength }),
  });
}

interface World {
  readonly random: RandomSource;
  readonly nodes: TestNode[];
  readonly recipient: Uint8Array;
  /** The forward path: delays on every hop but the last, the recipient on the last. */
  readonly path: PathHop[];
}

function world(crypto: Crypto, s: Scenario): World {
  const random = seededRandom(crypto, s.seed);
  const nodes = Array.from({ length: s.length }, () => makeNode(crypto, random));
  const recipient = random(32);
  const last: HopCommand[] = [{ type: 'recipient', recipient }];
  return { random, nodes, recipient, path: pathOver(nodes, s.delays, last) };
}

function pathOver(nodes: readonly TestNode[], delays: readonly number[], lastCommands: HopCommand[]): PathHop[] {
  return nodes.map((node, i) => ({
    id: node.id,
    publicKey: node.publicKey,
    commands: i < nodes.length - 1 ? [{ type: 'delay', delayMs: delays[i] }] : lastCommands,
  }));
}

/** A forward packet for the world's path; a geometry with SURBs carries random SURB bytes. */
function forwardPacket(sphinx: Sphinx, w: World, message: Uint8Array): { packet: Uint8Array; surb: Uint8Array | undefined } {
  const surb = sphinx.geometry.withSurb ? w.random(sphinx.geometry.surbLength) : undefined;
  return { packet: sphinx.newPacket(w.path, message, w.random, surb), surb };
}

/** Unwraps `packet` at nodes[from..to) (each must forward) and returns the packet for nodes[to]. */
function forwardThrough(sphinx: Sphinx, nodes: readonly TestNode[], packet: Uint8Array, from: number, to: number): Uint8Array {
  for (let i = from; i < to; i++) {
    const forward = expectKind(sphinx.unwrap(nodes[i].privateKey, packet), 'forward');
    assert.deepEqual(forward.nextHop, nodes[i + 1].id);
    packet = forward.packet;
  }
  return packet;
}

function expectKind<K extends UnwrapResult['kind']>(result: UnwrapResult, kind: K): Extract<UnwrapResult, { kind: K }> {
  assert.equal(result.kind, kind);
  return result as Extract<UnwrapResult, { kind: K }>;
}

function padded(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(bytes);
  return out;
}

/** Asserts `fn` throws a SphinxError whose code is one of `codes`. */
function throwsSphinx(fn: () => unknown, codes: readonly SphinxErrorCode[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SphinxError, `expected a SphinxError, got ${String(error)}`);
    assert.ok(codes.includes(error.code), `expected one of ${codes.join(', ')}, got ${error.code}`);
    return true;
  });
}

// --- properties ----------------------------------------------------------------------------

for (const suiteName of SUITE_NAMES) {
  for (const crypto of Object.values(backends)) {
    for (const options of GEOMETRIES) {
      const sphinx = new Sphinx(makeSuite(suiteName, crypto), options);
      const g = sphinx.geometry;
      const params = { seed: SEED, numRuns: runsFor(suiteName, crypto, 40, 6) };
      const label = `${suiteName} on ${crypto.name}, ${g.hops} hops, ${g.userForwardPayloadLength}-byte payload${g.withSurb ? ' + SURB' : ''}`;

      describe(label, () => {
        test('packets keep packetLength at every hop; message, recipient and delays arrive intact', () => {
          fc.assert(fc.property(scenario(g), (s) => {
            const w = world(crypto, s);
            const { packet: first, surb } = forwardPacket(sphinx, w, s.message);
            let packet = first;
            for (let i = 0; i < w.nodes.length; i++) {
              assert.equal(packet.length, g.packetLength, `packet length at hop ${i}`);
              const result = sphinx.unwrap(w.nodes[i].privateKey, packet);
              if (i < w.nodes.length - 1) {
                const forward = expectKind(result, 'forward');
                assert.deepEqual(forward.nextHop, w.nodes[i + 1].id);
                assert.equal(forward.delayMs, s.delays[i]);
                packet = forward.packet;
              } else {
                const deliver = expectKind(result, 'deliver');
                assert.deepEqual(deliver.recipient, w.recipient);
                assert.equal(deliver.payload.length, g.forwardPayloadLength);
                const split = sphinx.splitForwardPayload(deliver.payload);
                assert.deepEqual(split.message, padded(s.message, g.userForwardPayloadLength));
                assert.deepEqual(split.surb, surb);
              }
            }
          }), params);
        });

        test('a single flipped header bit is rejected by the next hop', () => {
          const arbitrary = fc.record({ s: scenario(g), at: fc.nat(), bit: fc.nat({ max: g.headerLength * 8 - 1 }) });
          fc.assert(fc.property(arbitrary, ({ s, at, bit }) => {
            const w = world(crypto, s);
            const hop = at % w.nodes.length;
            const packet = forwardThrough(sphinx, w.nodes, forwardPacket(sphinx, w, s.message).packet, 0, hop);
            const byte = bit >> 3;
            const geEnd = g.additionalDataLength + g.groupElementLength;
            const expected: SphinxErrorCode[] =
              byte < g.additionalDataLength ? ['bad-version']
                : byte < geEnd ? ['bad-mac', 'bad-group-element'] // a flipped group element may have small order
                  : ['bad-mac'];
            throwsSphinx(() => sphinx.unwrap(w.nodes[hop].privateKey, flipBit(packet, bit)), expected);
          }), params);
        });

        test('a single flipped payload bit fails the final integrity check of a forward packet', () => {
          const arbitrary = fc.record({ s: scenario(g), at: fc.nat(), bit: fc.nat({ max: g.payloadLength * 8 - 1 }) });
          fc.assert(fc.property(arbitrary, ({ s, at, bit }) => {
            const w = world(crypto, s);
            const last = w.nodes.length - 1;
            const hop = at % w.nodes.length;
            let packet = forwardThrough(sphinx, w.nodes, forwardPacket(sphinx, w, s.message).packet, 0, hop);
            packet = flipBit(packet, g.headerLength * 8 + bit);
            // The header is untouched, so every hop still forwards; only the last hop notices.
            packet = forwardThrough(sphinx, w.nodes, packet, hop, last);
            throwsSphinx(() => sphinx.unwrap(w.nodes[last].privateKey, packet), ['bad-payload']);
          }), params);
        });

        test('a single flipped payload bit of a SURB reply fails decryptSurbPayload', () => {
          const arbitrary = fc.record({
            s: scenario(g),
            surbId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
            at: fc.nat(),
            bit: fc.nat({ max: g.payloadLength * 8 - 1 }),
          });
          fc.assert(fc.property(arbitrary, ({ s, surbId, at, bit }) => {
            const w = world(crypto, s);
            const last = w.nodes.length - 1;
            const path = pathOver(w.nodes, s.delays, [{ type: 'recipient', recipient: w.recipient }, { type: 'surb-reply', surbId }]);
            const { surb, decryptionToken } = sphinx.newSurb(path, w.random);
            const hop = at % w.nodes.length;
            let packet = forwardThrough(sphinx, w.nodes, sphinx.newPacketFromSurb(surb, s.message).packet, 0, hop);
            packet = forwardThrough(sphinx, w.nodes, flipBit(packet, g.headerLength * 8 + bit), hop, last);
            const reply = expectKind(sphinx.unwrap(w.nodes[last].privateKey, packet), 'surb-reply');
            throwsSphinx(() => sphinx.decryptSurbPayload(reply.payload, decryptionToken), ['bad-payload']);
          }), params);
        });

        test('with a MemoryReplayFilter every hop rejects a packet it has seen, and only those', () => {
          const arbitrary = fc.record({ s: scenario(g), bit: fc.nat({ max: g.headerLength * 8 - 1 }) });
          fc.assert(fc.property(arbitrary, ({ s, bit }) => {
            const w = world(crypto, s);
            const filters = w.nodes.map(() => new MemoryReplayFilter());
            const packets = [forwardPacket(sphinx, w, s.message).packet, forwardPacket(sphinx, w, s.message).packet];
            // A copy with a corrupted header fails before the filter is consulted, so it does not
            // poison it: the intact packet still goes through afterwards.
            assert.throws(() => sphinx.unwrap(w.nodes[0].privateKey, flipBit(packets[0], bit), filters[0]), SphinxError);
            const seen: Uint8Array[][] = w.nodes.map(() => []); // what each hop accepted
            for (let packet of packets) {
              for (let i = 0; i < w.nodes.length; i++) {
                seen[i].push(packet);
                const result = sphinx.unwrap(w.nodes[i].privateKey, packet, filters[i]);
                if (result.kind === 'forward') packet = result.packet;
              }
            }
            for (let i = 0; i < w.nodes.length; i++) {
              assert.equal(filters[i].size, packets.length);
              for (const packet of seen[i]) throwsSphinx(() => sphinx.unwrap(w.nodes[i].privateKey, packet, filters[i]), ['replay']);
              // Without the filter the same packet still unwraps: the rejection is the filter's alone.
              sphinx.unwrap(w.nodes[i].privateKey, seen[i][0]);
            }
          }), params);
        });

        test("only the intended hop's key unwraps a packet", () => {
          const arbitrary = fc.record({
            s: scenario(g),
            at: fc.nat(),
            stranger: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          });
          fc.assert(fc.property(arbitrary, ({ s, at, stranger }) => {
            const w = world(crypto, s);
            const hop = at % w.nodes.length;
            const packet = forwardThrough(sphinx, w.nodes, forwardPacket(sphinx, w, s.message).packet, 0, hop);
            const others = [...w.nodes.filter((_, i) => i !== hop).map((node) => node.privateKey), stranger];
            for (const key of others) throwsSphinx(() => sphinx.unwrap(key, packet), ['bad-mac']);
            sphinx.unwrap(w.nodes[hop].privateKey, packet);
          }), params);
        });

        test('SURB round trip: the reply reaches the last hop with its SURB ID and decrypts to what was sent', () => {
          const arbitrary = fc.record({
            s: scenario(g),
            surbId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
            reply: fc.uint8Array({ maxLength: g.forwardPayloadLength }),
          });
          fc.assert(fc.property(arbitrary, ({ s, surbId, reply }) => {
            const w = world(crypto, s);
            const path = pathOver(w.nodes, s.delays, [{ type: 'recipient', recipient: w.recipient }, { type: 'surb-reply', surbId }]);
            const { surb, decryptionToken } = sphinx.newSurb(path, w.random);
            assert.equal(surb.length, g.surbLength);
            const made = sphinx.newPacketFromSurb(surb, reply);
            assert.deepEqual(made.firstHop, w.nodes[0].id);
            let packet = made.packet;
            for (let i = 0; i < w.nodes.length; i++) {
              assert.equal(packet.length, g.packetLength, `packet length at hop ${i}`);
              const result = sphinx.unwrap(w.nodes[i].privateKey, packet);
              if (i < w.nodes.length - 1) {
                const forward = expectKind(result, 'forward');
                assert.deepEqual(forward.nextHop, w.nodes[i + 1].id);
                assert.equal(forward.delayMs, s.delays[i]);
                packet = forward.packet;
              } else {
                const surbReply = expectKind(result, 'surb-reply');
                assert.deepEqual(surbReply.surbId, surbId);
                assert.deepEqual(surbReply.recipient, w.recipient);
                assert.deepEqual(sphinx.decryptSurbPayload(surbReply.payload, decryptionToken), padded(reply, g.forwardPayloadLength));
              }
            }
          }), params);
        });
      });
    }
  }
}
