import type { BackendName } from '../../crypto/index.js';
import type { SuiteName } from '../../sphinx/index.js';

/** What `umbra sphinx-walk` runs with and what it reports: the --json output is a SphinxWalkReport. */
export interface SphinxWalkOptions {
  readonly suite: SuiteName;
  readonly backend: BackendName;
  /** Number of mix nodes on the path. */
  readonly hops: number;
  /** Present: all randomness is derived from it, so the run is reproducible (timings aside). */
  readonly seed: number | undefined;
}

/** What one node saw while removing its layer. IDs and tags in full hex; no plaintext, ever. */
export interface HopRecord {
  /** 1-based position on its leg. */
  readonly hop: number;
  readonly nodeId: string;
  readonly packetLength: number;
  readonly action: 'forward' | 'deliver' | 'surb-reply';
  readonly nextHop?: string;
  readonly delayMs?: number;
  readonly recipient?: string;
  readonly surbId?: string;
  readonly replayTag: string;
  /** First bytes of the payload ciphertext this node sends on: different at every hop. */
  readonly payloadOut?: string;
  readonly unwrapMs: number;
}

export interface LegReport {
  readonly hops: HopRecord[];
  /** First bytes of the payload ciphertext as the sender sent it. */
  readonly payloadIn: string;
  readonly sent: string;
  /** What the receiving end decoded, or null if the packet never got there. */
  readonly read: string | null;
  readonly arrived: boolean;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export interface SphinxWalkReport {
  readonly ok: boolean;
  readonly suite: SuiteName;
  readonly backend: BackendName;
  readonly seed: number | null;
  readonly pathLength: number;
  readonly meanDelayMs: number;
  readonly geometry: {
    readonly hops: number;
    readonly packetLength: number;
    readonly headerLength: number;
    readonly payloadLength: number;
    readonly userPayloadLength: number;
    readonly surbLength: number;
  };
  /** The mailbox (recipient) IDs the final hops name; the nodes see only these, not names. */
  readonly alice: { readonly recipientId: string; readonly surbId: string };
  readonly bob: { readonly recipientId: string };
  readonly forward: LegReport;
  readonly reply: LegReport;
  readonly checks: Check[];
}
