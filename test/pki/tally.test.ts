import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import { getCrypto } from '../../src/crypto/index.js';
import {
  consensusDigest,
  decodeConsensusUnverified,
  decodeSignatureShare,
  decodeVote,
  DEFAULT_NETWORK_PARAMETERS,
  encodeConsensus,
  encodeSignatureShare,
  makeVote,
  MAX_VOTE_BYTES,
  PkiError,
  tallyVotes,
  type NetworkParameters,
  type NodeDescriptor,
  type PkiErrorCode,
  type Vote,
} from '../../src/pki/index.js';
import { flipBit } from '../support/bytes.js';
import { makeFixtureNetwork, makeFixtureNode, testSeed } from './network-fixture.js';

/**
 * Votes and the tally (docs/pki.md, "Voting", "Tally"): a vote's encoding and its refusals, and the
 * tally's promises, as properties over seeded random vote sets: order of votes does not matter, a
 * minority can neither add a node nor change (lower) a parameter, and the same votes give the same bytes.
 */
const crypto = getCrypto();
const timing = { genesisMs: 1_700_000_000_000, epochMs: 2000 };
const EPOCH = 7;
const GRACE = 500;
const seeds = [0, 1, 2, 3, 4].map((i) => testSeed(crypto, `authority ${i}`));
const keys = seeds.map((seed) => crypto.ed25519PublicKey(seed));
const honestNodes = makeFixtureNetwork(crypto, { epoch: EPOCH }).map((node) => node.descriptor);
const extraNode = makeFixtureNode(crypto, 'intruder', 'mix', 1, EPOCH, 30000).descriptor;
const network = DEFAULT_NETWORK_PARAMETERS;
const lowDelay: NetworkParameters = { ...network, mixing: { ...network.mixing, meanDelayMs: 1 } };

function vote(index: number, descriptors: readonly NodeDescriptor[] = honestNodes, params: NetworkParameters = network, epoch = EPOCH): Vote {
  return makeVote(crypto, seeds[index], { ...timing, epoch, graceMs: GRACE, network: params, descriptors }).vote;
}

function tally(votes: readonly Vote[]) {
  return tallyVotes({ ...timing, epoch: EPOCH, authorities: keys, votes });
}

function codeOf(run: () => unknown): PkiErrorCode | 'accepted' {
  try {
    run();
    return 'accepted';
  } catch (error) {
    if (error instanceof PkiError) return error.code;
    throw error;
  }
}

describe('votes', () => {
  test('a vote round-trips and is refused when forged, unknown, for another epoch, garbage or oversized', () => {
    const { vote: made, bytes } = makeVote(crypto, seeds[0], { ...timing, epoch: EPOCH, graceMs: GRACE, network, descriptors: [...honestNodes].reverse() });
    const decoded = decodeVote(crypto, bytes, { authorities: keys, epoch: EPOCH });
    assert.deepEqual(decoded.nodes.map((n) => n.name), made.nodes.map((n) => n.name));
    assert.deepEqual(decoded.voter, keys[0]);
    // A bit of the signature, a bit of the mean delay (after the header and the suite name): forged.
    assert.equal(codeOf(() => decodeVote(crypto, flipBit(bytes, (bytes.length - 10) * 8), { authorities: keys })), 'bad-signature');
    assert.equal(codeOf(() => decodeVote(crypto, flipBit(bytes, 87 * 8), { authorities: keys })), 'bad-signature');
    // A bit of the voter's key: nobody listed.
    assert.equal(codeOf(() => decodeVote(crypto, flipBit(bytes, 20 * 8), { authorities: keys })), 'unknown-authority');
    assert.equal(codeOf(() => decodeVote(crypto, bytes, { authorities: keys.slice(1) })), 'unknown-authority');
    assert.equal(codeOf(() => decodeVote(crypto, bytes, { authorities: keys, epoch: EPOCH + 1 })), 'wrong-epoch');
    assert.equal(codeOf(() => decodeVote(crypto, bytes.subarray(0, 100), { authorities: keys })), 'malformed');
    assert.equal(codeOf(() => decodeVote(crypto, new Uint8Array(MAX_VOTE_BYTES + 1), { authorities: keys })), 'malformed');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (garbage) => {
        assert.equal(codeOf(() => decodeVote(crypto, garbage, { authorities: keys })), 'malformed');
      }),
      { seed: 11, numRuns: 200 },
    );
  });

  test('a signature share round-trips; other lengths are malformed', () => {
    const share = { epoch: EPOCH, signer: keys[1], digest: new Uint8Array(32).fill(3), signature: new Uint8Array(64).fill(4) };
    assert.deepEqual(decodeSignatureShare(encodeSignatureShare(share)), share);
    assert.equal(codeOf(() => decodeSignatureShare(new Uint8Array(12))), 'malformed');
  });
});

describe('tally', () => {
  test('five honest votes give the document of the honest view', () => {
    const result = tally([0, 1, 2, 3, 4].map((i) => vote(i)));
    assert.ok(result.ok);
    assert.equal(result.doc.nodes.length, honestNodes.length);
    assert.equal(result.doc.mixing.meanDelayMs, network.mixing.meanDelayMs);
    assert.equal(result.doc.validUntilMs, timing.genesisMs + (EPOCH + 1) * timing.epochMs + GRACE);
  });

  test('fewer than a majority of voters, or no majority on a parameter, give no document', () => {
    const two = tally([vote(0), vote(1)]);
    assert.ok(!two.ok && /2 of 5 authorities voted, 3 needed/.test(two.problem));
    const split = tally([vote(0), vote(1), vote(2, honestNodes, lowDelay), vote(3, honestNodes, lowDelay)]);
    assert.ok(!split.ok && /mixing.meanDelayMs/.test(split.problem));
  });

  test('votes by unlisted keys, for other epochs, and an equivocating voter count for nothing', () => {
    const stranger = makeVote(crypto, testSeed(crypto, 'stranger'), { ...timing, epoch: EPOCH, graceMs: GRACE, network, descriptors: honestNodes }).vote;
    assert.equal(tally([vote(0), vote(1), stranger]).ok, false);
    const otherEpoch = makeFixtureNetwork(crypto, { epoch: EPOCH + 1 }).map((node) => node.descriptor);
    assert.equal(tally([vote(0), vote(1), vote(2, otherEpoch, network, EPOCH + 1)]).ok, false);
    // Authority 2 votes twice, differently: neither counts, so 2 of 5 remain.
    assert.equal(tally([vote(0), vote(1), vote(2), vote(2, [...honestNodes, extraNode])]).ok, false);
    // The same vote twice is one vote.
    assert.equal(tally([vote(0), vote(1), vote(2), vote(2)]).ok, true);
  });

  test('property: the order of the votes does not matter and the bytes are deterministic', () => {
    const all = [0, 1, 2, 3, 4].map((i) => vote(i, i === 4 ? [...honestNodes, extraNode] : honestNodes));
    const reference = tally(all);
    assert.ok(reference.ok);
    const referenceBytes = encodeConsensus(reference.doc);
    fc.assert(
      fc.property(fc.shuffledSubarray(all, { minLength: 3 }).chain((subset) => fc.shuffledSubarray(subset, { minLength: subset.length })), (votes) => {
        const result = tally(votes);
        assert.ok(result.ok);
        assert.deepEqual(encodeConsensus(result.doc), referenceBytes);
        assert.deepEqual(consensusDigest(crypto, result.doc), consensusDigest(crypto, reference.doc));
      }),
      { seed: 3, numRuns: 60 },
    );
  });

  test('property: a minority can neither add a node nor change a parameter', () => {
    const meanDelay = fc.integer({ min: 0, max: network.mixing.maxDelayMs });
    fc.assert(
      fc.property(
        fc.integer({ min: 3, max: 5 }),
        fc.integer({ min: 0, max: 2 }),
        meanDelay,
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (voting, liarsWanted, liarDelay, order) => {
          // `voting` authorities vote; up to voting - 3 of them (a minority of the five) lie.
          const liars = Math.min(liarsWanted, voting - 3, 2);
          const votes = Array.from({ length: voting }, (_, i) =>
            i < liars ? vote(i, [...honestNodes.slice(1), extraNode], { ...network, mixing: { ...network.mixing, meanDelayMs: liarDelay } }) : vote(i),
          );
          const rotated = [...votes.slice(order % voting), ...votes.slice(0, order % voting)];
          const result = tally(rotated);
          assert.ok(result.ok);
          assert.equal(result.doc.mixing.meanDelayMs, network.mixing.meanDelayMs);
          assert.equal(result.doc.nodes.length, honestNodes.length);
          assert.ok(!result.doc.nodes.some((node) => node.name === extraNode.name));
        },
      ),
      { seed: 9, numRuns: 60 },
    );
  });

  test('a node some honest authorities missed is listed when a majority holds it, left out otherwise', () => {
    const missing = honestNodes.filter((node) => node.layer !== 1 || node !== honestNodes.find((n) => n.layer === 1));
    const three = tally([vote(0), vote(1), vote(2), vote(3, missing), vote(4, missing)]);
    assert.ok(three.ok && three.doc.nodes.length === honestNodes.length);
    const two = tally([vote(0), vote(1), vote(2, missing), vote(3, missing), vote(4, missing)]);
    assert.ok(two.ok && two.doc.nodes.length === honestNodes.length - 1);
  });
});

describe('measured bandwidth', () => {
  const target = honestNodes[3];
  const targetHex = Buffer.from(target.nodeId).toString('hex');
  const measuredVote = (index: number, pps: number): Vote =>
    makeVote(crypto, seeds[index], { ...timing, epoch: EPOCH, graceMs: GRACE, network, descriptors: honestNodes, measured: new Map([[targetHex, pps]]) }).vote;
  const measuredOf = (votes: readonly Vote[]): number => {
    const result = tally(votes);
    assert.ok(result.ok, result.ok ? '' : result.problem);
    return result.doc.measured[result.doc.nodes.findIndex((node) => node.name === target.name)];
  };

  test('a vote carries each node\'s measured bandwidth through its encoding', () => {
    const { vote: made, bytes } = makeVote(crypto, seeds[0], { ...timing, epoch: EPOCH, graceMs: GRACE, network, descriptors: honestNodes, measured: new Map([[targetHex, 4321]]) });
    const decoded = decodeVote(crypto, bytes, { authorities: keys });
    assert.deepEqual(decoded.measured, made.measured);
    assert.equal(decoded.measured.filter((pps) => pps !== 0).length, 1);
    const result = tally([0, 1, 2].map((i) => measuredVote(i, 4321)));
    assert.ok(result.ok);
    const index = result.doc.nodes.findIndex((node) => node.name === target.name);
    assert.equal(result.doc.measured[index], 4321);
    assert.deepEqual(decodeConsensusUnverified(crypto, encodeConsensus(result.doc)).doc.measured, result.doc.measured, 'the document carries it too');
  });

  test('property: fewer than half the voters can neither lower nor raise it past what the others measured; unmeasured by most, it is 0', () => {
    const pps = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 0xffffffff }));
    fc.assert(
      fc.property(fc.array(pps, { minLength: 3, maxLength: 3 }), fc.array(pps, { minLength: 0, maxLength: 2 }), (honest, liars) => {
        const votes = [...honest.map((value, i) => measuredVote(i, value)), ...liars.map((value, i) => measuredVote(3 + i, value))];
        const unbounded = (value: number): number => (value === 0 ? Infinity : value);
        const result = unbounded(measuredOf(votes));
        const sorted = honest.map(unbounded).sort((a, b) => a - b);
        assert.ok(result >= sorted[0] && result <= sorted[2], `${result} outside the honest range ${sorted.join(', ')}`);
        if (honest.filter((value) => value === 0).length === 3) assert.equal(measuredOf(votes), 0);
      }),
      { seed: 23, numRuns: 60 },
    );
  });
});
