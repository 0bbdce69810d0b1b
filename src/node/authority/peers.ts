import { hexOf } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import { fetchConsensus } from '../../net/authority-client.js';
import { pinnedFetch } from '../../net/pinned-https.js';
import type { Clock } from '../../net/clock.js';
import type { AuthorityConfig, AuthorityPeer } from './config.js';
import type { AuthorityMetrics } from './metrics.js';
import type { AuthorityState } from './state.js';
import { ThrottledLog, type NodeLog } from '../log.js';

/**
 * The HTTP side of the voting (docs/pki.md, "Voting"): sends this authority's vote and its
 * signature on its tally to every peer until each has taken them, and, once the tally time has
 * passed without a document here, fetches a peer's published document (taken when a majority
 * signed it). One run at a time; the schedule starts a run at every tick.
 */
const REFUSALS_THAT_END_SENDING = new Set([400, 403, 409, 413, 415, 422]);

export class PeerExchange {
  /** Peers (hex) that took our vote / our signature, by epoch. */
  private readonly votesTaken = new Map<number, Set<string>>();
  private readonly sharesTaken = new Map<number, Set<string>>();
  private running: Promise<void> | undefined;
  private readonly timeoutMs: number;
  /** Failures repeat at every run while a peer is down: logged throttled, per peer and kind. */
  private readonly failures: ThrottledLog;

  constructor(
    private readonly config: AuthorityConfig,
    private readonly state: AuthorityState,
    private readonly crypto: Crypto,
    private readonly clock: Clock,
    private readonly metrics: AuthorityMetrics,
    log: NodeLog,
  ) {
    this.timeoutMs = Math.max(200, Math.min(5_000, Math.floor(config.epochMs / 8)));
    this.failures = new ThrottledLog(log, () => clock.now(), Math.max(10_000, config.epochMs));
  }

  /** Peers are named by their place in the config's list (1 = first), not by address or key. */
  private peerFailed(peer: AuthorityPeer, kind: string, problem: string): void {
    const place = this.config.peers.indexOf(peer) + 1;
    this.failures.note(`${place}|${kind}`, `authority: peer authority ${place} ${problem}`, 'warn', { kind });
  }

  run(): Promise<void> {
    if (this.config.peers.length === 0) return Promise.resolve();
    this.running ??= this.exchange().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async exchange(): Promise<void> {
    const now = this.clock.now();
    const current = this.state.currentEpoch(now);
    for (const epoch of [...this.votesTaken.keys()]) if (epoch < current) this.votesTaken.delete(epoch);
    for (const epoch of [...this.sharesTaken.keys()]) if (epoch < current) this.sharesTaken.delete(epoch);
    const work: Promise<void>[] = [];
    for (const epoch of [current, current + 1]) {
      if (epoch < 0 || this.state.document(epoch) !== undefined) continue;
      const vote = this.state.voting.ownVote(epoch);
      if (vote !== undefined) work.push(...this.sendToAll('/v1/votes', vote, this.taken(this.votesTaken, epoch), 'vote'));
      const share = this.state.voting.ownShare(epoch);
      if (share !== undefined) work.push(...this.sendToAll('/v1/signatures', share, this.taken(this.sharesTaken, epoch), 'signature'));
      if (now >= this.state.voting.tallyTime(epoch)) work.push(this.fetchPublished(epoch));
    }
    await Promise.all(work);
  }

  private taken(map: Map<number, Set<string>>, epoch: number): Set<string> {
    let set = map.get(epoch);
    if (set === undefined) {
      set = new Set();
      map.set(epoch, set);
    }
    return set;
  }

  private sendToAll(path: string, body: Uint8Array, taken: Set<string>, kind: string): Promise<void>[] {
    return this.config.peers
      .filter((peer) => !taken.has(hexOf(peer.publicKey)))
      .map(async (peer) => {
        const { status, code } = await this.post(peer, path, body);
        // Taken, or refused for a reason that sending again will not change; 'not-ready' (a peer
        // that has not tallied yet), 5xx and no answer are retried at the next run.
        if (status === 200 || status === 201) taken.add(hexOf(peer.publicKey));
        else if (REFUSALS_THAT_END_SENDING.has(status) && code !== 'not-ready') {
          taken.add(hexOf(peer.publicKey));
          this.peerFailed(peer, kind, `refused our ${kind} (${code ?? status})`);
        } else if (code !== 'not-ready') {
          this.metrics.add('umbra_authority_peer_failures_total', 1, { kind });
          this.peerFailed(peer, kind, status === 0 ? `did not answer our ${kind}` : `answered our ${kind} with status ${status}`);
        }
      });
  }

  private async post(peer: AuthorityPeer, path: string, body: Uint8Array): Promise<{ status: number; code?: string }> {
    try {
      // Pinned to the peer's own key: its API's certificate carries it (docs/links.md, "Authority API").
      const target = { url: peer.url, keys: [peer.publicKey], pinnedBy: 'the configuration' };
      const response = await pinnedFetch(target, path, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body }, this.timeoutMs);
      const text = (await response.text()).slice(0, 4096);
      let code: string | undefined;
      try {
        const parsed = JSON.parse(text) as { error?: unknown };
        if (typeof parsed.error === 'string') code = parsed.error;
      } catch {
        // not the authority's JSON: the status says enough
      }
      return { status: response.status, ...(code === undefined ? {} : { code }) };
    } catch {
      return { status: 0 };
    }
  }

  /** Takes the first peer's document for `epoch` that a majority signed. */
  private async fetchPublished(epoch: number): Promise<void> {
    for (const peer of this.config.peers) {
      if (this.state.document(epoch) !== undefined) return;
      try {
        const fetched = await fetchConsensus(this.crypto, peer.url, epoch, { authorities: this.config.authorities, nowMs: this.clock.now() }, { timeoutMs: this.timeoutMs, tlsKeys: [peer.publicKey] });
        if (fetched !== undefined && this.state.adopt(epoch, fetched.bytes)) return;
      } catch (error) {
        this.metrics.add('umbra_authority_peer_failures_total', 1, { kind: 'consensus' });
        this.peerFailed(peer, 'consensus', `did not give its document for epoch ${epoch} (${codeOf(error)})`);
      }
    }
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'error';
}
