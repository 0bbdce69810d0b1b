import { getCrypto } from '../../crypto/index.js';
import { systemRandom } from '../../crypto/seeded-random.js';
import type { Crypto } from '../../crypto/types.js';
import { systemClock, type Clock } from '../../net/clock.js';
import { AuthorityConfigError, authorityConfigProblems, DEFAULT_THROUGHPUT_CHUNKS, type AuthorityConfig } from './config.js';
import { AuthorityHttpApi, listenAuthorityHttp } from './http-api.js';
import { AuthorityMetrics } from './metrics.js';
import { probeNode } from '../../net/link-probe.js';
import { makeGeometry, makeSuite } from '../../sphinx/index.js';
import { tlsIdentity } from '../../net/tls-identity.js';
import { PeerExchange } from './peers.js';
import { AuthorityProber, type ProbeNode } from './prober.js';
import { PublishSchedule } from './schedule.js';
import { AuthorityState } from './state.js';
import type { NodeLog } from '../log.js';

/**
 * The directory authority (docs/pki.md, "Authority"): takes node descriptors over HTTP, votes with
 * its peer authorities, and stores and serves the one consensus document per epoch that a majority
 * of them signed. Its parts: the state (state.ts), the voting (voting.ts), the exchange with the
 * peers (peers.ts), the schedule (schedule.ts) and the HTTP API (http-api.ts).
 */
export interface AuthorityDeps {
  /** Default: the sodium backend. */
  readonly crypto?: Crypto;
  /** Default: the wall clock and Node timers. */
  readonly clock?: Clock;
  /** One line per notable event (documents made, refusals, failures, files skipped), with its level. Default: nothing. */
  readonly log?: NodeLog;
  /** How a node is probed (docs/network.md, "Authority probes"). Default: `probeLink` to its link address, with this authority's certificate. */
  readonly probe?: ProbeNode;
}

export interface AuthorityHandle {
  /** "https://host:port" of the listener (TLS 1.3, a certificate of the identity key). */
  readonly url: string;
  readonly port: number;
  /** The authority's Ed25519 public key (its ID in consensus signatures). */
  readonly publicKey: Uint8Array;
  /** Runs the schedule now: makes every document that is due. The timer calls it too. */
  tick(): void;
  /** Probes every node of the current epoch now; resolves once the counts are stored. The timer calls it too. */
  probeRound(): Promise<void>;
  /** The stored document for `epoch`, exactly the served bytes, if made. */
  documentBytes(epoch: number): Uint8Array | undefined;
  readonly metrics: AuthorityMetrics;
  /** Stops the timer and the listener, closing open connections. */
  close(): Promise<void>;
}

export async function startAuthority(config: AuthorityConfig, deps: AuthorityDeps = {}): Promise<AuthorityHandle> {
  const crypto = deps.crypto ?? getCrypto();
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? (() => {});
  const problems = authorityConfigProblems(config, crypto);
  if (problems.length > 0) throw new AuthorityConfigError(problems);

  const metrics = new AuthorityMetrics();
  const state = new AuthorityState(config, { crypto, clock, metrics, log });
  const peers = new PeerExchange(config, state, crypto, clock, metrics, log);
  const schedule = new PublishSchedule(state, clock, log, config.peers.length === 0 ? undefined : () => peers.run());
  // The API's certificate carries the identity key: what clients and nodes pin (docs/links.md, "Authority API").
  const http = await listenAuthorityHttp(config.listen, new AuthorityHttpApi(state, clock, metrics, log), tlsIdentity(config.identitySeed), log);
  schedule.tick();
  const prober = new AuthorityProber(config.probeIntervalMs, {
    clock,
    book: state.probes,
    metrics,
    log,
    probe: deps.probe ?? defaultProbe(config, crypto),
    random: systemRandom(crypto),
    epochAt: (now) => state.currentEpoch(now),
    nodesOf: (epoch) => state.nodesOf(epoch),
  });
  prober.start();

  return {
    url: http.url,
    port: http.port,
    publicKey: state.publicKey,
    tick: schedule.tick,
    probeRound: () => prober.round(),
    documentBytes: (epoch) => state.document(epoch),
    metrics,
    close: async () => {
      schedule.stop();
      await prober.stop();
      await http.close();
    },
  };
}

/**
 * TLS to the node's link address, presenting a certificate of this authority's identity key (nodes
 * know it); a throughput probe asks for `probeThroughputChunks` chunks and counts them in packets
 * of the network's Sphinx geometry.
 */
function defaultProbe(config: AuthorityConfig, crypto: Crypto): ProbeNode {
  const identity = tlsIdentity(config.identitySeed);
  const packetLength = makeGeometry(makeSuite(config.network.suite, crypto), config.network.geometry).packetLength;
  const chunks = config.probeThroughputChunks ?? DEFAULT_THROUGHPUT_CHUNKS;
  return async (node, signal, measure) => {
    const target = { address: node.addresses.link, linkKey: node.linkPublicKey };
    const result = await probeNode(target, identity, config.probeTimeoutMs, signal, measure && chunks > 0 ? chunks : undefined);
    return result.bytesPerSec === undefined ? { outcome: result.outcome } : { outcome: result.outcome, packetsPerSec: result.bytesPerSec / packetLength };
  };
}
