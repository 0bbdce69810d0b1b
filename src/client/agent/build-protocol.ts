import type { BackendName } from '../../crypto/types.js';
import type { FragmentParams } from '../../e2e/fragment.js';
import type { GeometryOptions, PathHop, SuiteName } from '../../sphinx/index.js';
import type { MailDraft } from '../mail-build.js';

/**
 * What the agent's packet builder is asked to do (docs/client.md, "The packet builder"), as plain
 * data that crosses a worker_threads boundary by structured clone: build inputs in, bytes out. The
 * main thread keeps every decision (paths, ratchet steps, what goes in which slot); the builder
 * only does the heavy, pure work of one mail: writing the RFC 5322 bytes, erasure-coding its
 * frame (Reed–Solomon), and per shard: its ACK SURB, its seal (one X25519) and its Sphinx packet.
 */
export type BuildJob = MailJob | FragmentsJob | FragmentPacketJob;

/** The RFC 5322 bytes of a draft, and its subject as the Sent folder shows it. */
export interface MailJob {
  readonly kind: 'mail';
  readonly draft: MailDraft;
}

/** The erasure-coded chunks of a framed message, for the shards listed (still to be sealed). */
export interface FragmentsJob {
  readonly kind: 'fragments';
  readonly params: FragmentParams;
  readonly frame: Uint8Array;
  readonly dataShards: number;
  readonly shards: readonly number[];
}

/** What sealing one shard takes besides its SURB (MailEndpoint.sealShard's inputs). */
export interface FragmentShard {
  readonly params: FragmentParams;
  /** The recipient's X25519 identity key. */
  readonly recipient: Uint8Array;
  readonly messageId: Uint8Array;
  readonly senderTag: Uint8Array;
  readonly dataShards: number;
  readonly shardIndex: number;
  readonly chunk: Uint8Array;
}

/**
 * A forward Sphinx packet carrying one shard sealed with a fresh SURB inside (paths chosen by the
 * caller): the SURB is made on `surbPath`, usable in `epoch`; the packet goes along `path`, whose
 * last hop is a SURB-reply hop (the one stored-item layout).
 */
export interface FragmentPacketJob extends FragmentShard {
  readonly kind: 'fragment-packet';
  readonly backend: BackendName;
  readonly suite: SuiteName;
  readonly geometry: GeometryOptions;
  readonly path: readonly PathHop[];
  readonly surbPath: readonly PathHop[];
  readonly epoch: number;
}

export interface MailResult {
  readonly mail: Uint8Array;
  readonly subject: string;
}

export interface FragmentsResult {
  readonly chunks: Uint8Array[];
}

export interface FragmentPacketResult {
  readonly packet: Uint8Array;
  readonly decryptionToken: Uint8Array;
}

export type ResultOf<J extends BuildJob> = J extends MailJob ? MailResult : J extends FragmentsJob ? FragmentsResult : FragmentPacketResult;
export type BuildResult = MailResult | FragmentsResult | FragmentPacketResult;

/**
 * Main thread → worker. `seed` (32 bytes) seeds the job's randomness when the agent runs on an
 * injected random source (tests, simulations); without it the worker draws from the operating system.
 */
export interface BuildRequest {
  readonly id: number;
  readonly job: BuildJob;
  readonly seed?: Uint8Array;
}

/** Worker → main thread. */
export type BuildResponse =
  | { readonly id: number; readonly ok: true; readonly result: BuildResult }
  | { readonly id: number; readonly ok: false; readonly message: string; readonly code?: string };

/** The buffers a result can hand over without a copy. */
export function transferablesOf(result: BuildResult): ArrayBuffer[] {
  const arrays = 'chunks' in result ? result.chunks : 'packet' in result ? [result.packet, result.decryptionToken] : [result.mail];
  const buffers = new Set<ArrayBuffer>();
  for (const array of arrays) {
    if (array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength) buffers.add(array.buffer);
  }
  return [...buffers];
}
