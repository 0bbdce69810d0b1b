import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { concatBytes } from '../../src/codec/bytes.js';
import { backends, type Crypto } from '../../src/crypto/index.js';
import {
  CONSENSUS_SIGNATURE_LABEL,
  consensusDigest,
  consensusSignedBytes,
  decodeConsensusUnverified,
  DEFAULT_NETWORK_PARAMETERS,
  encodeConsensus,
  encodeDescriptor,
  epochEnd,
  findNode,
  majority,
  makeConsensus,
  MAX_CONSENSUS_BYTES,
  pathLayers,
  PKI_SUITE_NAMES,
  PkiError,
  signConsensus,
  verifyConsensus,
  type ConsensusDocument,
  type ConsensusInput,
  type NetworkParameters,
  type PkiErrorCode,
} from '../../src/pki/index.js';
import { SUITE_NAMES } from '../../src/sphinx/index.js';
import { flipBit } from '../support/bytes.js';
import { makeFixtureNetwork, makeFixtureNode, testSeed } from './network-fixture.js';

const timing = { genesisMs: 1_700_000_000_000, epochMs: 2000 };
const EPOCH = 42;

function pkiCode(run: () => unknown): PkiErrorCode | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof PkiError) return error.code;
    throw error;
  }
}

function expectCode(code: PkiErrorCode, run: () => unknown): void {
  assert.equal(pkiCode(run), code);
}

test('the PKI knows exactly the Sphinx suites', () => {
  assert.deepEqual([...PKI_SUITE_NAMES].sort(), [...SUITE_NAMES].sort());
});

for (const crypto of Object.values(backends)) {
  describe(`consensus (${crypto.name})`, () => {
    const authoritySeeds = [0, 1, 2].map((i) => testSeed(crypto, `authority ${i}`));
    const authorities = authoritySeeds.map((seed) => crypto.ed25519PublicKey(seed));
    const stranger = testSeed(crypto, 'not an authority');
    const network = makeFixtureNetwork(crypto, { epoch: EPOCH });
    const descriptors = network.map((node) => node.descriptor);
    const input: ConsensusInput = { ...timing, epoch: EPOCH, network: DEFAULT_NETWORK_PARAMETERS, descriptors };
    const unsigned = makeConsensus(input);
    const signedBy = (doc: ConsensusDocument, ...seeds: Uint8Array[]) => seeds.reduce((d, seed) => signConsensus(crypto, d, seed), doc);
    const oneSigned = encodeConsensus(signedBy(unsigned, authoritySeeds[0]));
    const twoSigned = encodeConsensus(signedBy(unsigned, authoritySeeds[2], authoritySeeds[0]));
    const now = timing.genesisMs + EPOCH * timing.epochMs + 10;
    const verify = (bytes: Uint8Array, options: Partial<Parameters<typeof verifyConsensus>[2]> = {}) =>
      verifyConsensus(crypto, bytes, { authorities, nowMs: now, ...options });

    test('round trip: make, sign, encode, verify gives the same document and bytes', () => {
      const doc = verify(twoSigned, { epoch: EPOCH });
      assert.equal(doc.epoch, EPOCH);
      assert.equal(doc.validUntilMs, epochEnd(EPOCH, timing) + timing.epochMs / 4);
      assert.deepEqual(doc.geometry, DEFAULT_NETWORK_PARAMETERS.geometry);
      assert.deepEqual(doc.traffic, DEFAULT_NETWORK_PARAMETERS.traffic);
      assert.equal(doc.nodes.length, descriptors.length);
      assert.equal(doc.signatures.length, 2);
      assert.deepEqual(encodeConsensus(doc), twoSigned);
      assert.deepEqual(doc.nodes.map(encodeDescriptor).sort(compareHex), descriptors.map(encodeDescriptor).sort(compareHex));
    });

    test('deterministic: descriptor order and signing order do not change the bytes', () => {
      const reversed = makeConsensus({ ...input, descriptors: [...descriptors].reverse() });
      assert.deepEqual(encodeConsensus(reversed), encodeConsensus(unsigned));
      assert.deepEqual(encodeConsensus(signedBy(reversed, authoritySeeds[0], authoritySeeds[2])), twoSigned);
      // Signing again by the same authority replaces its signature (Ed25519 is deterministic).
      assert.deepEqual(encodeConsensus(signedBy(unsigned, authoritySeeds[0], authoritySeeds[2], authoritySeeds[0])), twoSigned);
      assert.deepEqual(consensusDigest(crypto, reversed), consensusDigest(crypto, verify(twoSigned)));
    });

    test('pathLayers groups the nodes by layer; findNode finds them', () => {
      const layers = pathLayers(unsigned);
      assert.deepEqual(layers.map((layer) => layer.length), [1, 2, 2, 2, 2]);
      layers.forEach((layer, index) => layer.forEach((node) => assert.equal(node.layer, index)));
      assert.equal(findNode(unsigned, descriptors[3].nodeId)?.name, descriptors[3].name);
      assert.equal(findNode(unsigned, new Uint8Array(32)), undefined);
    });

    test('threshold: 1 of 3 signatures is refused, 2 and 3 are accepted (default majority)', () => {
      assert.equal(majority(3), 2);
      expectCode('not-enough-signatures', () => verify(oneSigned));
      assert.equal(verify(twoSigned).epoch, EPOCH);
      assert.equal(verify(encodeConsensus(signedBy(unsigned, ...authoritySeeds))).signatures.length, 3);
      expectCode('not-enough-signatures', () => verify(twoSigned, { threshold: 3 }));
      // A threshold below a majority is refused: a minority cannot make a document.
      expectCode('invalid', () => verify(oneSigned, { threshold: 1 }));
      assert.equal(verify(oneSigned, { authorities: [authorities[0]] }).epoch, EPOCH);
      expectCode('not-enough-signatures', () => verify(encodeConsensus(unsigned)));
      expectCode('invalid', () => verify(twoSigned, { threshold: 4 }));
      expectCode('invalid', () => verify(twoSigned, { threshold: 0 }));
      expectCode('invalid', () => verify(twoSigned, { authorities: [] }));
    });

    test('a signature by an unknown authority is refused, even with enough trusted ones', () => {
      expectCode('unknown-authority', () => verify(encodeConsensus(signedBy(unsigned, stranger))));
      expectCode('unknown-authority', () => verify(encodeConsensus(signedBy(unsigned, ...authoritySeeds, stranger))));
    });

    test('a wrong signature by a known authority is refused', () => {
      const doc = verify(twoSigned);
      // A signature by authority 1 over other bytes, under authority 1's ID.
      const wrong = crypto.ed25519Sign(authoritySeeds[1], concatBytes(CONSENSUS_SIGNATURE_LABEL, new Uint8Array(10)));
      const forged = signConsensus(crypto, doc, authoritySeeds[1]);
      const replaced: ConsensusDocument = {
        ...forged,
        signatures: forged.signatures.map((entry) => (sameHex(entry.authorityId, authorities[1]) ? { ...entry, signature: wrong } : entry)),
      };
      expectCode('bad-signature', () => verify(encodeConsensus(replaced)));
      // Authority 0's signature under authority 1's ID.
      const swapped = encodeConsensus({ ...doc, signatures: [{ authorityId: authorities[1], signature: doc.signatures[0].signature }] });
      expectCode('bad-signature', () => verify(swapped, { authorities: [authorities[1]] }));
    });

    test('a document for another epoch is wrong-epoch; after validUntilMs it is expired', () => {
      expectCode('wrong-epoch', () => verify(twoSigned, { epoch: EPOCH + 1 }));
      const doc = verify(twoSigned);
      assert.equal(verify(twoSigned, { nowMs: doc.validUntilMs }).epoch, EPOCH);
      expectCode('expired', () => verify(twoSigned, { nowMs: doc.validUntilMs + 1 }));
    });

    test('every bit flip is refused with a PkiError', () => {
      // A minimal network keeps the document small; noble (milliseconds per verification) flips
      // every 13th bit, sodium every bit.
      const small = makeFixtureNetwork(crypto, { epoch: EPOCH, mixesPerLayer: 1, providers: 1, label: 'small' }).map((n) => n.descriptor);
      const bytes = encodeConsensus(signedBy(makeConsensus({ ...input, descriptors: small }), authoritySeeds[0], authoritySeeds[1]));
      assert.equal(verify(bytes).nodes.length, 5);
      const step = crypto.name === 'sodium' ? 1 : 13;
      const seen = new Set<string>();
      for (let bit = 0; bit < bytes.length * 8; bit += step) {
        const code = pkiCode(() => verify(flipBit(bytes, bit)));
        assert.notEqual(code, 'accepted', `bit ${bit}`);
        seen.add(code);
      }
      assert.ok(seen.has('malformed') && seen.has('bad-signature') && seen.has('unknown-authority'), [...seen].join());
    });

    test('every truncation and any trailing byte is malformed', () => {
      const step = crypto.name === 'sodium' ? 1 : 7;
      for (let length = 0; length < twoSigned.length; length += step) {
        expectCode('malformed', () => verify(twoSigned.subarray(0, length)));
      }
      expectCode('malformed', () => verify(concatBytes(twoSigned, new Uint8Array(1))));
      expectCode('malformed', () => verify(new Uint8Array(MAX_CONSENSUS_BYTES + 1)));
    });

    test('property: arbitrary bytes are refused with a PkiError', () => {
      fc.assert(
        fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.uint8Array({ maxLength: 64 }).map((tail) => concatBytes(twoSigned.subarray(0, 120), tail))), (bytes) => {
          assert.notEqual(pkiCode(() => verify(bytes)), 'accepted');
        }),
        { seed: 99, numRuns: 300 },
      );
    });

    test('a descriptor whose own signature is forged is caught unless verifyDescriptors is false', () => {
      const forgedDescriptor = { ...descriptors[2], signature: new Uint8Array(64) };
      const bytes = encodeConsensus(signedBy(makeConsensus({ ...input, descriptors: [...descriptors.slice(0, 2), forgedDescriptor, ...descriptors.slice(3)] }), ...authoritySeeds));
      expectCode('bad-signature', () => verify(bytes));
      assert.equal(verify(bytes, { verifyDescriptors: false }).nodes.length, descriptors.length);
      expectCode('bad-signature', () => decodeConsensusUnverified(crypto, bytes));
      assert.equal(decodeConsensusUnverified(crypto, bytes, false).doc.epoch, EPOCH);
    });

    test('makeConsensus refuses missing layers, duplicates, other epochs and bad parameters', () => {
      for (const [what, drop] of [['gateway', 0], ['layer 1', 1], ['layer 2', 2], ['layer 3', 3], ['provider', 4]] as const) {
        const rest = descriptors.filter((d) => d.layer !== drop);
        assert.equal(pkiCode(() => makeConsensus({ ...input, descriptors: rest })), 'incomplete-topology', what);
      }
      const newer = makeFixtureNode(crypto, 'net-mix-1-0', 'mix', 1, EPOCH, 20001, 2).descriptor;
      expectCode('conflict', () => makeConsensus({ ...input, descriptors: [...descriptors, newer] }));
      const later = makeFixtureNode(crypto, 'late', 'mix', 1, EPOCH + 1, 3000).descriptor;
      expectCode('wrong-epoch', () => makeConsensus({ ...input, descriptors: [...descriptors, later] }));
      const params = (change: Partial<NetworkParameters>): ConsensusInput => ({ ...input, network: { ...DEFAULT_NETWORK_PARAMETERS, ...change } });
      const bad: [string, ConsensusInput][] = [
        ['hops below 5', params({ geometry: { hops: 4, userForwardPayloadLength: 100, withSurb: true } })],
        ['zero payload', params({ geometry: { hops: 5, userForwardPayloadLength: 0, withSurb: true } })],
        ['unknown suite', params({ suite: 'rot13' as 'umbra-v1' })],
        ['max below mean', params({ mixing: { meanDelayMs: 10, maxDelayMs: 5 } })],
        ['delay over u32', params({ mixing: { meanDelayMs: 10, maxDelayMs: 2 ** 32 } })],
        ['zero send rate', params({ traffic: { ...DEFAULT_NETWORK_PARAMETERS.traffic, clientSendRate: 0 } })],
        ['NaN loop rate', params({ traffic: { ...DEFAULT_NETWORK_PARAMETERS.traffic, loopRate: Number.NaN } })],
        ['negative zero drop rate', params({ traffic: { ...DEFAULT_NETWORK_PARAMETERS.traffic, dropRate: -0 } })],
        ['infinite gateway rate', params({ traffic: { ...DEFAULT_NETWORK_PARAMETERS.traffic, gatewayClientRate: Infinity } })],
        ['unknown retrieval', params({ retrieval: 'carrier-pigeon' as 'pir' })],
        ['grace over an epoch', { ...input, graceMs: timing.epochMs + 1 }],
        ['zero epoch length', { ...input, epochMs: 0 }],
      ];
      for (const [what, value] of bad) assert.equal(pkiCode(() => makeConsensus(value)), 'invalid', what);
    });

    test('property: any valid network parameters round-trip', () => {
      const rate = (positive: boolean) => fc.double({ min: positive ? Number.MIN_VALUE : 0, max: 1e6, noNaN: true }).filter((x) => !Object.is(x, -0));
      const small = makeFixtureNetwork(crypto, { epoch: EPOCH, mixesPerLayer: 1, providers: 1, label: 'small' }).map((n) => n.descriptor);
      fc.assert(
        fc.property(
          fc.constantFrom(...PKI_SUITE_NAMES),
          fc.record({ hops: fc.integer({ min: 5, max: 32 }), userForwardPayloadLength: fc.integer({ min: 1, max: 1 << 20 }), withSurb: fc.boolean() }),
          fc.integer({ min: 0, max: 0xffffffff }).chain((mean) => fc.record({ meanDelayMs: fc.constant(mean), maxDelayMs: fc.integer({ min: mean, max: 0xffffffff }) })),
          fc.record({ clientSendRate: rate(true), loopRate: rate(false), dropRate: rate(false), gatewayClientRate: rate(true) }),
          fc.constantFrom('bucket', 'download', 'pir' as const),
          fc.integer({ min: 0, max: timing.epochMs }),
          (suite, geometry, mixing, traffic, retrieval, graceMs) => {
            const network: NetworkParameters = { suite, geometry, mixing, traffic, retrieval, pir: { rowBytes: 4096 + 64 * (graceMs % 100), queriesPerPoll: 1 + (graceMs % 64) }, retentionMs: 1000 + graceMs * 7919, reliability: { mixLoopRate: graceMs / 7, floor: graceMs % 1001 } };
            const doc = signConsensus(crypto, makeConsensus({ ...input, graceMs, network, descriptors: small }), authoritySeeds[0]);
            const bytes = encodeConsensus(doc);
            const decoded = verify(bytes, { authorities: [authorities[0]], verifyDescriptors: false, nowMs: timing.genesisMs });
            assert.deepEqual({ ...decoded, nodes: [] }, { ...doc, nodes: [] });
            assert.deepEqual(encodeConsensus(decoded), bytes);
          },
        ),
        { seed: 5, numRuns: crypto.name === 'sodium' ? 100 : 15 },
      );
    });

    test('the signed bytes are the label and the encoding without signatures', () => {
      const doc = verify(twoSigned);
      const signed = consensusSignedBytes(doc);
      const withoutSignatures = encodeConsensus({ ...doc, signatures: [] });
      assert.deepEqual(signed, concatBytes(CONSENSUS_SIGNATURE_LABEL, withoutSignatures.subarray(0, withoutSignatures.length - 1)));
      for (const { authorityId, signature } of doc.signatures) assert.ok(crypto.ed25519Verify(authorityId, signed, signature));
    });
  });
}

test('both backends make the same document bytes', () => {
  const [a, b] = Object.values(backends).map((crypto: Crypto) => {
    const descriptors = makeFixtureNetwork(crypto, { epoch: EPOCH }).map((n) => n.descriptor);
    const doc = makeConsensus({ ...timing, epoch: EPOCH, network: DEFAULT_NETWORK_PARAMETERS, descriptors });
    return encodeConsensus(signConsensus(crypto, doc, testSeed(crypto, 'authority 0')));
  });
  assert.deepEqual(a, b);
});

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function compareHex(a: Uint8Array, b: Uint8Array): number {
  return hexOf(a) < hexOf(b) ? -1 : hexOf(a) > hexOf(b) ? 1 : 0;
}

function sameHex(a: Uint8Array, b: Uint8Array): boolean {
  return hexOf(a) === hexOf(b);
}
