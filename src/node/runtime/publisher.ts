import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sameBytes } from '../../codec/bytes.js';
import type { Crypto } from '../../crypto/types.js';
import {
  decodeDescriptor,
  encodeDescriptor,
  epochAt,
  epochEnd,
  makeDescriptor,
  sphinxKeyFor,
  type EpochTiming,
  type NodeAddresses,
  type NodeDescriptor,
  type NodeRole,
} from '../../pki/index.js';
import { AuthorityRequestError, uploadDescriptor } from '../../net/authority-client.js';
import type { Clock } from '../../net/clock.js';
import { ensureDir, readFileIfExists, writeFileAtomic } from './files.js';
import type { SphinxKeyring } from './keyring.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeLog } from '../log.js';

/**
 * Makes, keeps and uploads this node's descriptors (docs/nodes.md, "Descriptors"), following
 * docs/pki.md's advice: at start-up for the current and the next epoch, then at the start of every
 * epoch e for e + 1, to every configured authority, retrying transient failures (no answer, 5xx,
 * 429, wrong-epoch from a skewed clock) with a backoff until the epoch is over.
 *
 * Each descriptor is saved in `<dataDir>/descriptors/<epoch>.bin` and uploaded again byte for byte
 * after a restart when nothing in it changed (the authority answers 'unchanged'); otherwise a new
 * one is made with a larger serial.
 */
export interface PublisherOptions {
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly timing: EpochTiming;
  readonly dataDir: string;
  readonly identitySeed: Uint8Array;
  readonly name: string;
  readonly family: string;
  /** Declared packets per second. */
  readonly bandwidth: number;
  readonly role: NodeRole;
  readonly layer: number;
  readonly addresses: NodeAddresses;
  readonly linkPublicKey: Uint8Array;
  readonly keyring: SphinxKeyring;
  readonly authorityUrls: readonly string[];
  /** The keys the authorities' TLS certificates may carry (the trusted authority keys). */
  readonly authorities: readonly Uint8Array[];
  readonly metrics: NodeMetrics;
  readonly log: NodeLog;
}

const FIRST_RETRY_MS = 250;
const UPLOAD_TIMEOUT_MS = 10_000;
/** Refusals worth retrying: the authority may take the same bytes later. */
const TRANSIENT_CODES = new Set(['full', 'wrong-epoch']);
/** Fixed labels for the answers an authority gives (anything else is 'other'). */
const KNOWN_CODES = new Set(['malformed', 'bad-signature', 'unknown-node', 'conflict', 'too-late', 'too-large', 'bad-content-type', 'wrong-epoch', 'full']);

export class DescriptorPublisher {
  private readonly dir: string;
  /** Epoch → the URLs that accepted its descriptor. */
  private readonly accepted = new Map<number, Set<string>>();
  private readonly timers = new Set<unknown>();
  private readonly started = new Set<number>();
  private closed = false;

  constructor(private readonly options: PublisherOptions) {
    this.dir = join(options.dataDir, 'descriptors');
    ensureDir(this.dir);
  }

  /** At start-up: the current epoch's descriptor (from genesis on) and the next one's. */
  start(nowMs: number): void {
    const current = epochAt(nowMs, this.options.timing);
    this.prune(current);
    if (current >= 0) this.publish(current);
    this.publish(current + 1);
  }

  /** At the start of epoch `current`: the descriptor for the next epoch. */
  onEpoch(nowMs: number): void {
    const current = epochAt(nowMs, this.options.timing);
    this.prune(current);
    this.publish(current + 1);
  }

  /** Epochs whose descriptor every authority has accepted (or already held). */
  uploadedEpochs(): number[] {
    const all = this.options.authorityUrls.length;
    return [...this.accepted].filter(([, urls]) => urls.size === all).map(([epoch]) => epoch).sort((a, b) => a - b);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) this.options.clock.clearTimer(timer);
    this.timers.clear();
  }

  /** Makes (or reuses) the descriptor for `epoch` and uploads it to every authority. */
  publish(epoch: number): void {
    if (this.closed || this.started.has(epoch)) return;
    this.started.add(epoch);
    let bytes: Uint8Array;
    try {
      bytes = this.descriptorFor(epoch);
    } catch (error) {
      this.options.metrics.count('node_descriptor_upload_failures_total', { reason: 'make' });
      this.options.log(`node: could not make the descriptor for epoch ${epoch}: ${error instanceof Error ? error.message : String(error)}`, 'error');
      return;
    }
    for (const url of this.options.authorityUrls) void this.upload(epoch, url, bytes, 0);
  }

  private async upload(epoch: number, url: string, bytes: Uint8Array, attempt: number): Promise<void> {
    if (this.closed) return;
    const { metrics, log } = this.options;
    try {
      const result = await uploadDescriptor({ url, keys: this.options.authorities, pinnedBy: 'the node configuration' }, bytes, { timeoutMs: UPLOAD_TIMEOUT_MS });
      if (this.closed) return;
      metrics.count('node_descriptor_uploads_total', { result: result.status });
      this.markAccepted(epoch, url);
      return;
    } catch (error) {
      if (this.closed) return;
      if (!(error instanceof AuthorityRequestError)) {
        metrics.count('node_descriptor_upload_failures_total', { reason: 'error' });
        log(`node: descriptor upload for epoch ${epoch} failed: ${error instanceof Error ? error.message : String(error)}`, 'warn');
        return this.retry(epoch, url, bytes, attempt);
      }
      const code = KNOWN_CODES.has(error.code) ? error.code : error.status === 0 ? 'unreachable' : error.status >= 500 ? 'http-5xx' : 'other';
      if (code === 'too-late') {
        // The document for this epoch is already made; it is checked when fetched.
        metrics.count('node_descriptor_uploads_total', { result: 'too-late' });
        this.markAccepted(epoch, url);
        log(`node: the document for epoch ${epoch} was made before this node's descriptor arrived`, 'warn');
        return;
      }
      metrics.count('node_descriptor_upload_failures_total', { reason: code });
      if (code === 'unreachable' || code === 'http-5xx' || TRANSIENT_CODES.has(code)) return this.retry(epoch, url, bytes, attempt);
      log(`node: an authority refused the descriptor for epoch ${epoch} (${code}); not retried`, 'warn');
    }
  }

  private retry(epoch: number, url: string, bytes: Uint8Array, attempt: number): void {
    const { clock, timing } = this.options;
    const now = clock.now();
    if (now >= epochEnd(epoch, timing)) return; // too late to matter
    const cap = Math.max(1000, Math.min(60_000, Math.floor(timing.epochMs / 4)));
    const delay = Math.min(cap, FIRST_RETRY_MS * 2 ** Math.min(attempt, 20));
    const timer = clock.setTimer(() => {
      this.timers.delete(timer);
      void this.upload(epoch, url, bytes, attempt + 1);
    }, delay);
    this.timers.add(timer);
  }

  private markAccepted(epoch: number, url: string): void {
    let urls = this.accepted.get(epoch);
    if (urls === undefined) {
      urls = new Set();
      this.accepted.set(epoch, urls);
    }
    urls.add(url);
  }

  /** The saved descriptor for `epoch` if it still says what this node would say now, else a new one (saved). */
  private descriptorFor(epoch: number): Uint8Array {
    const { crypto, identitySeed, keyring, clock } = this.options;
    const keys = [keyring.publicKey(epoch), keyring.publicKey(epoch + 1)];
    const path = join(this.dir, `${epoch}.bin`);
    const stored = readFileIfExists(path);
    let previousSerial = -1;
    if (stored !== undefined) {
      try {
        const old = decodeDescriptor(crypto, stored, epoch);
        previousSerial = old.serial;
        if (this.matches(old, keys)) return stored;
      } catch {
        // damaged or another node's: replaced below
      }
    }
    const descriptor = makeDescriptor(crypto, identitySeed, {
      epoch,
      serial: Math.max(clock.now(), previousSerial + 1),
      name: this.options.name,
      family: this.options.family,
      bandwidth: this.options.bandwidth,
      role: this.options.role,
      layer: this.options.layer,
      addresses: this.options.addresses,
      linkPublicKey: this.options.linkPublicKey,
      sphinxKeys: keys.map((publicKey, i) => ({ epoch: epoch + i, publicKey })),
    });
    const bytes = encodeDescriptor(descriptor);
    try {
      writeFileAtomic(path, bytes);
    } catch {
      // Uploading matters more than keeping a copy; a restart makes a new one.
    }
    return bytes;
  }

  private matches(old: NodeDescriptor, keys: Uint8Array[]): boolean {
    const o = this.options;
    return (
      sameBytes(old.nodeId, o.crypto.ed25519PublicKey(o.identitySeed)) &&
      old.name === o.name &&
      old.family === o.family &&
      old.bandwidth === o.bandwidth &&
      old.role === o.role &&
      old.layer === o.layer &&
      old.addresses.link === o.addresses.link &&
      old.addresses.ws === o.addresses.ws &&
      sameBytes(old.linkPublicKey, o.linkPublicKey) &&
      sameBytes(sphinxKeyFor(old, old.epoch) ?? new Uint8Array(0), keys[0]) &&
      sameBytes(sphinxKeyFor(old, old.epoch + 1) ?? new Uint8Array(0), keys[1])
    );
  }

  /** Forgets descriptors of epochs before the previous one. */
  private prune(current: number): void {
    for (const name of readdirSync(this.dir)) {
      const match = /^(0|[1-9][0-9]{0,15})\.bin$/.exec(name);
      if (match === null || Number(match[1]) < current - 1) rmSync(join(this.dir, name), { force: true });
    }
    for (const epoch of [...this.accepted.keys()]) if (epoch < current - 1) this.accepted.delete(epoch);
    for (const epoch of [...this.started]) if (epoch < current - 1) this.started.delete(epoch);
  }
}
