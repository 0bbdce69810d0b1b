import { closeSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Crypto } from '../../crypto/types.js';
import type { ReplaySizing } from '../../mixing/replay-sizing.js';
import { RotatingReplayFilter } from '../../mixing/rotating-replay.js';
import { epochAt, epochStart, keptGraceMs, type EpochTiming } from '../../pki/index.js';
import type { ReplayFilter } from '../../sphinx/index.js';
import { destroyFile, ensureDir, readFileIfExists, writeFileAtomic } from './files.js';
import type { NodeMetrics } from './metrics.js';
import type { NodeLog } from '../log.js';

/**
 * A node's Sphinx keys, one X25519 key per epoch, each with its own replay filter of two rotating
 * Bloom generations (docs/nodes.md, "Keys" and "Replay filter"). Keys are random, published for the current and the next epoch (the
 * descriptor uploaded during epoch e covers e + 1 and e + 2), and destroyed once their epoch's
 * grace period is over: the secret is zeroed in memory and its file overwritten and deleted, and
 * the replay filter goes with it.
 *
 * Keys are kept in `<dataDir>/sphinx/<epoch>.key` (mode 0600) so that a restarted node still
 * holds the keys the consensus publishes for it. Each filter's new tags are appended to
 * `<dataDir>/replay/<epoch>.tags` and read back at start-up, so a restart does not reopen the
 * node to replays of packets it already processed (a crash may lose the last few tags).
 */
export interface EpochKey {
  readonly epoch: number;
  readonly secret: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly filter: ReplayFilter;
}

export interface KeyringOptions {
  readonly dataDir: string;
  readonly crypto: Crypto;
  readonly timing: EpochTiming;
  /** The configured grace: the shortest the previous epoch's key is kept after a boundary. */
  readonly graceMs: number;
  /**
   * The grace the consensus of `epoch` needs for the packets that left in it (graceFor of its
   * mixing, src/pki/grace.ts), when that document is held: after the boundary that ends `epoch` its
   * key is kept the longer of the two, at most an epoch (docs/nodes.md, "Keys").
   */
  readonly neededGraceMs?: (epoch: number) => number | undefined;
  /** The size of the next replay-filter generation for an epoch's key (read at each rotation). */
  readonly replaySizing: (epoch: number) => ReplaySizing;
  readonly metrics: NodeMetrics;
  readonly log: NodeLog;
}

const TAG_BYTES = 32;

/**
 * Appends replay tags to a file in batches (one write per turn of the event loop). The file stays
 * open between writes (opening and closing it each turn cost about 2 µs per packet at full
 * load); after a failed write it is opened again at the next one.
 */
class ReplayJournal {
  private pending: Uint8Array[] = [];
  private scheduled = false;
  private failed = false;
  private fd: number | undefined;

  constructor(
    readonly path: string,
    private readonly onError: (error: unknown) => void,
  ) {}

  append(tag: Uint8Array): void {
    this.pending.push(tag.slice(0, TAG_BYTES));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = Buffer.concat(this.pending);
    this.pending = [];
    try {
      this.fd ??= openSync(this.path, 'a', 0o600);
      for (let written = 0; written < batch.length;) written += writeSync(this.fd, batch, written);
      this.failed = false;
    } catch (error) {
      this.closeFile();
      if (!this.failed) this.onError(error);
      this.failed = true;
    }
  }

  /** Writes what is pending and closes the file. */
  close(): void {
    this.flush();
    this.closeFile();
  }

  /** Drops what is pending and closes the file (the key is being destroyed). */
  discard(): void {
    this.pending = [];
    this.closeFile();
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already unusable: nothing more to write to it
    }
    this.fd = undefined;
  }
}

/** A rotating Bloom filter whose new tags are journaled. */
class JournaledFilter implements ReplayFilter {
  constructor(
    private readonly bloom: RotatingReplayFilter,
    readonly journal: ReplayJournal,
  ) {}

  testAndSet(tag: Uint8Array): boolean {
    const seen = this.bloom.testAndSet(tag);
    if (!seen) this.journal.append(tag);
    return seen;
  }

  get size(): number {
    return this.bloom.size;
  }
}

interface Entry extends EpochKey {
  readonly filter: JournaledFilter;
}

export class SphinxKeyring {
  private readonly keys = new Map<number, Entry>();
  private readonly keyDir: string;
  private readonly replayDir: string;

  constructor(private readonly options: KeyringOptions) {
    this.keyDir = join(options.dataDir, 'sphinx');
    this.replayDir = join(options.dataDir, 'replay');
    ensureDir(this.keyDir);
    ensureDir(this.replayDir);
  }

  /** Loads the stored keys still needed at `nowMs`, destroys the others, and makes the missing ones. */
  load(nowMs: number): void {
    const stored = new Set<number>();
    for (const name of readdirSync(this.keyDir)) {
      const match = /^(0|[1-9][0-9]{0,15})\.key$/.exec(name);
      if (match === null) {
        if (name.includes('.key.tmp-')) rmSync(join(this.keyDir, name), { force: true });
        continue;
      }
      stored.add(Number(match[1]));
    }
    for (const epoch of stored) {
      if (!this.keeps(epoch, nowMs)) {
        this.destroyFiles(epoch);
        continue;
      }
      const secret = readFileIfExists(this.keyPath(epoch));
      if (secret === undefined || secret.length !== 32) {
        this.options.log(`node: a stored Sphinx key file for epoch ${epoch} is damaged; it is replaced`, 'warn');
        this.destroyFiles(epoch);
        continue;
      }
      this.keys.set(epoch, this.entry(epoch, secret, true));
    }
    // Journals of keys that are gone.
    for (const name of readdirSync(this.replayDir)) {
      const match = /^(0|[1-9][0-9]{0,15})\.tags$/.exec(name);
      if (match === null || !this.keys.has(Number(match[1]))) rmSync(join(this.replayDir, name), { force: true });
    }
    this.rotate(nowMs);
  }

  /** Makes sure the keys needed at `nowMs` exist and destroys those past their grace period. */
  rotate(nowMs: number): void {
    for (const epoch of [...this.keys.keys()]) if (!this.keeps(epoch, nowMs)) this.destroy(epoch);
    const current = epochAt(nowMs, this.options.timing);
    for (let epoch = Math.max(0, current); epoch <= current + 2; epoch++) this.ensure(epoch);
  }

  /** The public key for `epoch`, made now if needed. */
  publicKey(epoch: number): Uint8Array {
    return this.ensure(epoch).publicKey;
  }

  /** The key for `epoch` if held (tests, descriptor checks). */
  has(epoch: number): boolean {
    return this.keys.has(epoch);
  }

  /** The keys a packet arriving at `nowMs` may be for: the current epoch's, then (within grace) the previous one's. */
  candidates(nowMs: number): EpochKey[] {
    const current = epochAt(nowMs, this.options.timing);
    const out: EpochKey[] = [];
    const own = this.keys.get(current);
    if (own !== undefined) out.push(own);
    if (current >= 1 && this.inGrace(current, nowMs)) {
      const previous = this.keys.get(current - 1);
      if (previous !== undefined) out.push(previous);
    }
    return out;
  }

  /** The epochs whose keys are held, ascending. */
  epochs(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  /** When the previous epoch's key must be destroyed, if that is still ahead of `nowMs`. */
  graceEnd(nowMs: number): number | undefined {
    const current = epochAt(nowMs, this.options.timing);
    if (current < 1 || !this.keys.has(current - 1)) return undefined;
    const end = epochStart(current, this.options.timing) + this.graceAfter(current - 1);
    return end > nowMs ? end : undefined;
  }

  /** How long after its epoch ends the key of `epoch` is kept: the configured grace, or what that epoch's consensus needs. */
  graceAfter(epoch: number): number {
    return keptGraceMs(this.options.graceMs, this.options.timing.epochMs, this.options.neededGraceMs?.(epoch));
  }

  /** Writes pending journal entries and zeroes every secret held in memory (the files stay for a restart). */
  close(): void {
    for (const entry of this.keys.values()) {
      entry.filter.journal.close();
      entry.secret.fill(0);
    }
    this.keys.clear();
  }

  private inGrace(current: number, nowMs: number): boolean {
    return nowMs < epochStart(current, this.options.timing) + this.graceAfter(current - 1);
  }

  private keeps(epoch: number, nowMs: number): boolean {
    const current = epochAt(nowMs, this.options.timing);
    if (epoch >= current && epoch <= Math.max(current, 0) + 2) return true;
    return epoch === current - 1 && this.inGrace(current, nowMs);
  }

  private ensure(epoch: number): Entry {
    const existing = this.keys.get(epoch);
    if (existing !== undefined) return existing;
    const secret = this.options.crypto.randomBytes(32);
    try {
      writeFileAtomic(this.keyPath(epoch), secret);
    } catch (error) {
      this.options.metrics.count('node_key_errors_total', { operation: 'store' });
      this.options.log(`node: could not store the Sphinx key for epoch ${epoch} (${codeOf(error)}); a restart will not have it`, 'error');
    }
    rmSync(this.journalPath(epoch), { force: true });
    const entry = this.entry(epoch, secret, false);
    this.keys.set(epoch, entry);
    return entry;
  }

  private entry(epoch: number, secret: Uint8Array, restore: boolean): Entry {
    const bloom = new RotatingReplayFilter(
      () => this.options.replaySizing(epoch),
      () => this.options.metrics.count('node_replay_filter_rotations_total'),
    );
    const journalPath = this.journalPath(epoch);
    if (restore) {
      try {
        const tags = readFileIfExists(journalPath);
        if (tags !== undefined) {
          for (let offset = 0; offset + TAG_BYTES <= tags.length; offset += TAG_BYTES) bloom.testAndSet(tags.subarray(offset, offset + TAG_BYTES));
        }
      } catch (error) {
        this.options.metrics.count('node_replay_journal_errors_total', { operation: 'read' });
        this.options.log(`node: could not read the replay journal of epoch ${epoch} (${codeOf(error)})`, 'error');
      }
    }
    const journal = new ReplayJournal(journalPath, (error) => {
      this.options.metrics.count('node_replay_journal_errors_total', { operation: 'write' });
      this.options.log(`node: could not append to the replay journal of epoch ${epoch} (${codeOf(error)})`, 'error');
    });
    return { epoch, secret, publicKey: this.options.crypto.x25519Base(secret), filter: new JournaledFilter(bloom, journal) };
  }

  private destroy(epoch: number): void {
    const entry = this.keys.get(epoch);
    if (entry === undefined) return;
    this.keys.delete(epoch);
    entry.filter.journal.discard();
    entry.secret.fill(0);
    this.destroyFiles(epoch);
  }

  private destroyFiles(epoch: number): void {
    try {
      destroyFile(this.keyPath(epoch));
      rmSync(this.journalPath(epoch), { force: true });
    } catch (error) {
      this.options.metrics.count('node_key_errors_total', { operation: 'destroy' });
      this.options.log(`node: could not delete the Sphinx key file of epoch ${epoch} (${codeOf(error)})`, 'error');
    }
  }

  private keyPath(epoch: number): string {
    return join(this.keyDir, `${epoch}.key`);
  }

  private journalPath(epoch: number): string {
    return join(this.replayDir, `${epoch}.tags`);
  }
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'error';
}
