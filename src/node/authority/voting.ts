import { hexOf, sameBytes } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import {
  addConsensusSignature,
  consensusDigest,
  consensusSignedBytes,
  decodeConsensusUnverified,
  decodeSignatureShare,
  decodeVote,
  encodeConsensus,
  encodeSignatureShare,
  epochAt,
  epochEnd,
  epochStart,
  majority,
  makeVote,
  PkiError,
  signConsensus,
  tallyVotes,
  topologyProblem,
  type ConsensusDocument,
  type EpochTiming,
  type NodeDescriptor,
  type Vote,
} from '../../pki/index.js';
import type { AuthorityConfig } from './config.js';
import { dishonestVoteInput } from './dishonest.js';
import { HttpError } from './http-error.js';
import type { AuthorityMetrics } from './metrics.js';
import type { AuthorityStore } from './store.js';
import type { NodeLog } from '../log.js';

/**
 * One authority's side of the voting protocol (docs/pki.md, "Voting"), for each epoch E:
 *
 * 1. vote, at E's vote time (publishLeadMs before E starts), from the descriptors held, once they
 *    make a complete topology (and every admitted node has uploaded, or a settle time has passed);
 * 2. tally, once every authority's vote is in, or at the tally time (half the lead later) with a
 *    majority of votes: tallyVotes gives the document, which this authority signs once, ever;
 * 3. gather the peers' signatures on the same document; with a majority, publish it.
 *
 * Everything is on disk before it is used or sent, so a restart never votes or signs twice. The
 * HTTP exchange with the peers is in peers.ts; this class only decides.
 */
export interface VotingDeps {
  readonly crypto: Crypto;
  readonly metrics: AuthorityMetrics;
  readonly log: NodeLog;
  readonly store: AuthorityStore;
  /** This authority's per-mille reliability scores to vote for an epoch (by node ID hex). */
  readonly scores?: (epoch: number) => ReadonlyMap<string, number>;
  /** The packets per second this authority measured each node to carry, to vote for an epoch (by node ID hex). */
  readonly measured?: (epoch: number) => ReadonlyMap<string, number>;
}

interface HeldVote {
  readonly vote: Vote;
  readonly bytes: Uint8Array;
}

interface Round {
  own?: HeldVote & { readonly atMs: number };
  readonly votes: Map<string, HeldVote>;
  readonly equivocators: Set<string>;
  /** When the descriptors held first made a complete topology (the settle time runs from there). */
  completeSinceMs?: number;
  /** The tallied document, signed by this authority, with the peers' signatures gathered so far. */
  candidate?: ConsensusDocument;
  digest?: Uint8Array;
  problem?: string;
}

const PKI_STATUS: Record<string, number> = { malformed: 400, invalid: 400, 'bad-signature': 403, 'unknown-authority': 403, 'wrong-epoch': 422 };

export class Voting {
  readonly threshold: number;
  private readonly rounds = new Map<number, Round>();
  private readonly timing: EpochTiming;
  private readonly publicKey: Uint8Array;
  private readonly ownHex: string;

  constructor(
    private readonly config: AuthorityConfig,
    private readonly deps: VotingDeps,
    nowMs: number,
  ) {
    this.timing = { genesisMs: config.genesisMs, epochMs: config.epochMs };
    this.threshold = majority(config.authorities.length);
    this.publicKey = deps.crypto.ed25519PublicKey(config.identitySeed);
    this.ownHex = hexOf(this.publicKey);
    this.restore(nowMs);
  }

  get authorityCount(): number {
    return this.config.authorities.length;
  }

  voteTime(epoch: number): number {
    return epochStart(epoch, this.timing) - this.config.publishLeadMs;
  }

  tallyTime(epoch: number): number {
    return this.voteTime(epoch) + Math.floor(this.config.publishLeadMs / 2);
  }

  private get settleMs(): number {
    return this.authorityCount === 1 ? 0 : Math.floor(this.config.publishLeadMs / 4);
  }

  /**
   * How long a vote waits, after the topology became complete, for admitted nodes still missing:
   * the settle time; at bootstrap (no document of the epoch before) the whole lead, however many
   * authorities, since nodes that start together upload over a second or more and a vote taken
   * without them keeps them out of the next epoch's document too.
   */
  private voteSettleMs(bootstrap: boolean): number {
    return bootstrap ? this.config.publishLeadMs : this.settleMs;
  }

  /** Why epoch E has no document yet, as last seen. */
  problem(epoch: number): string | undefined {
    return this.rounds.get(epoch)?.problem;
  }

  /** Votes held and signatures gathered for `epoch`. */
  status(epoch: number): { votes: number; signatures: number; problem?: string } {
    const round = this.rounds.get(epoch);
    return { votes: round?.votes.size ?? 0, signatures: round?.candidate?.signatures.length ?? 0, ...(round?.problem === undefined ? {} : { problem: round.problem }) };
  }

  ownVote(epoch: number): Uint8Array | undefined {
    return this.rounds.get(epoch)?.own?.bytes;
  }

  /** This authority's signature on its tallied document, as sent to the peers. */
  ownShare(epoch: number): Uint8Array | undefined {
    const round = this.rounds.get(epoch);
    const own = round?.candidate?.signatures.find((entry) => sameBytes(entry.authorityId, this.publicKey));
    if (round?.digest === undefined || own === undefined) return undefined;
    return encodeSignatureShare({ epoch, signer: this.publicKey, digest: round.digest, signature: own.signature });
  }

  /**
   * Takes the round of `epoch` as far as it goes now; returns the document to publish once a
   * majority has signed it. `descriptors` are the ones held for the epoch; `allUploaded` says
   * whether every admitted node has uploaded; `bootstrap`, whether no document of the epoch
   * before is known (the network is starting).
   */
  step(epoch: number, now: number, descriptors: readonly NodeDescriptor[], allUploaded: boolean, bootstrap: boolean): Uint8Array | undefined {
    if (epoch < 0 || now < this.voteTime(epoch) || now >= epochEnd(epoch, this.timing)) return undefined;
    const round = this.round(epoch);
    if (round.own === undefined && !this.vote(epoch, round, now, descriptors, allUploaded, bootstrap)) return undefined;
    if (round.candidate === undefined && !this.tally(epoch, round, now)) return undefined;
    const candidate = round.candidate!;
    if (candidate.signatures.length >= this.threshold) return encodeConsensus(candidate);
    this.note(round, epoch, `${candidate.signatures.length} of ${this.authorityCount} authorities signed, ${this.threshold} needed`);
    return undefined;
  }

  private vote(epoch: number, round: Round, now: number, descriptors: readonly NodeDescriptor[], allUploaded: boolean, bootstrap: boolean): boolean {
    const topology = topologyProblem(descriptors);
    if (topology !== undefined) {
      round.completeSinceMs = undefined;
      this.deps.metrics.add('umbra_authority_documents_failed_total', 1, { reason: 'incomplete-topology' });
      this.note(round, epoch, `no vote yet: ${topology}`);
      return false;
    }
    round.completeSinceMs ??= now;
    if (!allUploaded && now < round.completeSinceMs + this.voteSettleMs(bootstrap)) return false;
    const scores = this.deps.scores?.(epoch);
    const measured = this.deps.measured?.(epoch);
    const honest = {
      ...this.timing, epoch, graceMs: this.config.graceMs, network: this.config.network, descriptors,
      ...(scores === undefined ? {} : { scores }),
      ...(measured === undefined ? {} : { measured }),
    };
    const lie = this.config.dishonestVote;
    const input = lie === undefined ? honest : dishonestVoteInput(this.deps.crypto, this.config.identitySeed, honest, lie);
    const { vote, bytes } = makeVote(this.deps.crypto, this.config.identitySeed, input);
    this.deps.store.writeVote(epoch, this.ownHex, bytes); // on disk before anyone sees it
    round.own = { vote, bytes, atMs: now };
    round.votes.set(this.ownHex, { vote, bytes });
    this.deps.metrics.add('umbra_authority_votes_cast_total');
    this.deps.log(`authority: voted for epoch ${epoch} (${vote.nodes.length} nodes)`);
    return true;
  }

  private tally(epoch: number, round: Round, now: number): boolean {
    const counted = [...round.votes].filter(([hex]) => !round.equivocators.has(hex)).map(([, held]) => held.vote);
    const settled = now >= Math.max(this.tallyTime(epoch), (round.own?.atMs ?? now) + this.settleMs);
    if (counted.length < this.authorityCount && !(counted.length >= this.threshold && settled)) {
      this.note(round, epoch, `${counted.length} of ${this.authorityCount} authorities voted, ${this.threshold} needed${settled ? '' : ' (waiting for the tally time)'}`);
      return false;
    }
    const result = tallyVotes({ ...this.timing, epoch, authorities: this.config.authorities, votes: counted });
    if (!result.ok) {
      this.deps.metrics.add('umbra_authority_documents_failed_total', 1, { reason: 'tally' });
      this.note(round, epoch, `no document: ${result.problem}`);
      return false;
    }
    const candidate = signConsensus(this.deps.crypto, result.doc, this.config.identitySeed);
    this.deps.store.writeCandidate(epoch, encodeConsensus(candidate)); // signed once, ever
    round.candidate = candidate;
    round.digest = consensusDigest(this.deps.crypto, candidate);
    this.deps.log(`authority: signed the tally of ${result.voters} votes for epoch ${epoch} (${candidate.nodes.length} nodes)`);
    return true;
  }

  /** A peer's vote: verified, for the current or next epoch, one per peer and epoch (a second, different one is evidence of equivocation). */
  receiveVote(bytes: Uint8Array, now: number): { result: 'new' | 'unchanged'; epoch: number } {
    let vote: Vote;
    try {
      vote = decodeVote(this.deps.crypto, bytes, { authorities: this.config.authorities });
    } catch (error) {
      if (error instanceof PkiError) throw new HttpError(PKI_STATUS[error.code] ?? 400, error.code, error.message);
      throw error;
    }
    const hex = hexOf(vote.voter);
    if (hex === this.ownHex) throw new HttpError(403, 'own-vote', "a vote under this authority's own key is not taken from outside");
    if (vote.genesisMs !== this.timing.genesisMs || vote.epochMs !== this.timing.epochMs) throw new HttpError(422, 'wrong-timing', "the vote's genesis or epoch length differs from this authority's");
    this.checkEpoch(vote.epoch, now);
    const round = this.round(vote.epoch);
    const earlier = round.votes.get(hex);
    if (earlier !== undefined && sameBytes(earlier.bytes, bytes)) return { result: 'unchanged', epoch: vote.epoch };
    if (earlier !== undefined || round.equivocators.has(hex)) {
      if (!round.equivocators.has(hex) && earlier !== undefined) {
        round.equivocators.add(hex);
        this.deps.store.writeEvidence(vote.epoch, hex, [earlier.bytes, bytes]);
        this.deps.metrics.add('umbra_authority_equivocations_total');
        this.deps.log(`authority: an authority voted twice for epoch ${vote.epoch}; both votes kept as evidence, neither counts`, 'warn');
      }
      throw new HttpError(409, 'equivocation', `a different vote by this authority for epoch ${vote.epoch} is held`);
    }
    this.deps.store.writeVote(vote.epoch, hex, bytes);
    round.votes.set(hex, { vote, bytes: bytes.slice() });
    return { result: 'new', epoch: vote.epoch };
  }

  /** A peer's signature on the document it tallied: kept when it is on this authority's document and verifies. */
  receiveSignature(bytes: Uint8Array, now: number): { result: 'new' | 'unchanged'; epoch: number } {
    let share;
    try {
      share = decodeSignatureShare(bytes);
    } catch (error) {
      if (error instanceof PkiError) throw new HttpError(400, error.code, error.message);
      throw error;
    }
    if (!this.config.authorities.some((key) => sameBytes(key, share.signer)) || sameBytes(share.signer, this.publicKey)) {
      throw new HttpError(403, 'unknown-authority', 'the signer is not one of the other authorities');
    }
    this.checkEpoch(share.epoch, now);
    const round = this.round(share.epoch);
    if (round.candidate === undefined || round.digest === undefined) throw new HttpError(409, 'not-ready', `no tally for epoch ${share.epoch} yet; send again later`);
    if (!sameBytes(share.digest, round.digest)) {
      this.deps.log(`authority: a peer signed a different document for epoch ${share.epoch}`, 'warn');
      throw new HttpError(409, 'different-document', `this authority tallied a different document for epoch ${share.epoch}`);
    }
    if (!this.deps.crypto.ed25519Verify(share.signer, consensusSignedBytes(round.candidate), share.signature)) {
      throw new HttpError(403, 'bad-signature', 'the signature does not verify on the document tallied here');
    }
    if (round.candidate.signatures.some((entry) => sameBytes(entry.authorityId, share.signer) && sameBytes(entry.signature, share.signature))) {
      return { result: 'unchanged', epoch: share.epoch };
    }
    round.candidate = addConsensusSignature(round.candidate, { authorityId: share.signer, signature: share.signature });
    this.deps.store.writeCandidate(share.epoch, encodeConsensus(round.candidate));
    return { result: 'new', epoch: share.epoch };
  }

  /** Forgets the rounds of epochs before `current` (and their files; evidence is kept as long as documents). */
  prune(current: number): void {
    for (const epoch of [...this.rounds.keys()]) if (epoch < current) this.rounds.delete(epoch);
    this.deps.store.pruneVotingBefore(current, current - this.config.retainEpochs + 1);
  }

  private checkEpoch(epoch: number, now: number): void {
    const current = epochAt(now, this.timing);
    if (epoch !== Math.max(0, current) && epoch !== current + 1) throw new HttpError(422, 'wrong-epoch', `for epoch ${epoch}; this authority votes on epochs ${current} and ${current + 1}`);
  }

  private round(epoch: number): Round {
    let round = this.rounds.get(epoch);
    if (round === undefined) {
      round = { votes: new Map(), equivocators: new Set() };
      this.rounds.set(epoch, round);
    }
    return round;
  }

  /** Records why an epoch has no document, logging it once per change. */
  private note(round: Round, epoch: number, problem: string): void {
    if (round.problem === problem) return;
    round.problem = problem;
    this.deps.log(`authority: epoch ${epoch}: ${problem}`, 'warn');
  }

  /** Reads back the votes and the signed tally of the current and next epochs. */
  private restore(nowMs: number): void {
    const current = epochAt(nowMs, this.timing);
    for (const [epoch, byVoter] of this.deps.store.readVotes()) {
      if (epoch < current) continue;
      for (const [hex, bytes] of byVoter) {
        try {
          const vote = decodeVote(this.deps.crypto, bytes, { authorities: this.config.authorities, epoch });
          if (hexOf(vote.voter) !== hex) throw new Error('the file name is not its voter');
          const round = this.round(epoch);
          round.votes.set(hex, { vote, bytes });
          if (hex === this.ownHex) round.own = { vote, bytes, atMs: nowMs };
        } catch (error) {
          this.deps.log(`authority: skipping stored vote ${epoch}/${hex}: ${error instanceof Error ? error.message : String(error)}`, 'warn');
        }
      }
    }
    for (const [epoch, bytes] of this.deps.store.readCandidates()) {
      if (epoch < current) continue;
      try {
        const { doc, signedBytes } = decodeConsensusUnverified(this.deps.crypto, bytes, false);
        const valid = doc.signatures.filter((entry) => this.config.authorities.some((key) => sameBytes(key, entry.authorityId)) && this.deps.crypto.ed25519Verify(entry.authorityId, signedBytes, entry.signature));
        if (doc.epoch !== epoch || !valid.some((entry) => sameBytes(entry.authorityId, this.publicKey))) throw new Error('not signed by this authority for its epoch');
        const round = this.round(epoch);
        round.candidate = { ...doc, signatures: Object.freeze(valid) };
        round.digest = consensusDigest(this.deps.crypto, round.candidate);
      } catch (error) {
        this.deps.log(`authority: skipping stored tally ${epoch}.bin: ${error instanceof Error ? error.message : String(error)}`, 'warn');
      }
    }
  }
}
