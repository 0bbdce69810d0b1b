import type { BackendName } from '../../crypto/types.js';
import type { FragmentParams } from '../../e2e/fragment.js';
import type { GeometryOptions, PathHop, SuiteName } from '../../sphinx/index.js';
import type { FrameRecipe } from '../../e2e/frame-seal.js';
import type { MailDraft } from '../mail-build.js';
import type { ColumnSeal } from '../store-seal.js';

/**
 * What the agent's packet builder is asked to do (docs/client.md, "The packet builder"), as plain
 * data that crosses a worker_threads boundary by structured clone: build inputs in, bytes out. The
 * main thread keeps every decision (paths, ratchet steps, what goes in which slot); the builder
 * only does the heavy, pure work of one mail: writing the RFC 5322 bytes, erasure-coding its
 * frame (Reed–Solomon), and per shard: its ACK SURB, its seal (one X25519) and its Sphinx packet.
 */
export type BuildJob = MailJob | EnvelopesJob | FragmentsJob | FragmentPacketJob;

/** The RFC 5322 bytes of a draft, and its subject as the Sent folder shows it. */
export interface MailJob {
  readonly kind: 'mail';
  readonly draft: MailDraft;
}

/**
 * The heavy half of a send (docs/client.md, "Sending"), after the main thread stepped each
 * recipient's ratchet (MailEndpoint.prepareFrame): each envelope's frame (sealFrameWith), its
 * erasure-coded chunks, and the mail store's sealed values (store-seal.ts): the sender's copy for
 * the Sent row, and each envelope's outgoing body naming mail `mailId`. The recipes and seals hold
 * the message keys and the store key: the job is as secret as the mail.
 */
export interface EnvelopesJob {
  readonly kind: 'envelopes';
  readonly backend: BackendName;
  readonly params: FragmentParams;
  readonly mailId: number;
  readonly sent: { readonly mail: Uint8Array; readonly seal: ColumnSeal };
  /** Each distinct copy of the mail and the envelopes made of it, in the order of the result. */
  readonly copies: readonly { readonly mail: Uint8Array; readonly envelopes: readonly { readonly recipe: FrameRecipe; readonly bodySeal: ColumnSeal }[] }[];
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

export interface EnvelopesResult {
  /** The sender's copy sealed for its Sent row. */
  readonly sentRaw: Uint8Array;
  /** Per envelope (the copies' envelopes in order): the frame, its outgoing body sealed, and every shard's chunk. */
  readonly envelopes: readonly { readonly frame: Uint8Array; readonly body: Uint8Array; readonly chunks: Uint8Array[] }[];
}

export interface FragmentsResult {
  readonly chunks: Uint8Array[];
}

export interface FragmentPacketResult {
  readonly packet: Uint8Array;
  readonly decryptionToken: Uint8Array;
}

export type ResultOf<J extends BuildJob> = J extends MailJob ? MailResult : J extends EnvelopesJob ? EnvelopesResult : J extends FragmentsJob ? FragmentsResult : FragmentPacketResult;
export type BuildResult = MailResult | EnvelopesResult | FragmentsResult | FragmentPacketResult;

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
  const arrays = 'sentRaw' in result
    ? [result.sentRaw, ...result.envelopes.flatMap((envelope) => [envelope.frame, envelope.body, ...envelope.chunks])]
    : 'chunks' in result ? result.chunks : 'packet' in result ? [result.packet, result.decryptionToken] : [result.mail];
  const buffers = new Set<ArrayBuffer>();
  for (const array of arrays) {
    if (array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength) buffers.add(array.buffer);
  }
  return [...buffers];
}
