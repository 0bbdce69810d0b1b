import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { toBase64Url } from '../src/codec/bytes.js';
import type { Crypto } from '../src/crypto/index.js';
import { startAuthority, validateAuthorityConfig, type AuthorityHandle } from '../src/node/authority/index.js';
import type { MailboxStore, StoredMessage, StoreStats } from '../src/store/mailbox.js';
import { encodeDescriptor, makeDescriptor, type NodeRole } from '../src/pki/index.js';

/** Helpers for `npm run bench -- net` (bench/net.ts): temporary directories, waits, fake nodes, metrics. */

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Waits (real time) until `condition` holds; throws after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/**
 * Waits until `count()` reaches `target`, giving up when it has not moved for `stallMs` or at
 * `deadline` (performance.now() time). Returns whether the target was reached.
 */
export async function waitForCount(count: () => number, target: number, deadline: number, stallMs: number): Promise<boolean> {
  let last = count();
  let lastChange = performance.now();
  while (count() < target) {
    await sleep(5);
    const now = performance.now();
    const seen = count();
    if (seen !== last) {
      last = seen;
      lastChange = now;
    } else if (now - lastChange > stallMs || now > deadline) {
      return false;
    }
  }
  return true;
}

/** An authority on 127.0.0.1 (ephemeral port, wall clock) whose epoch 0 began a second ago. */
export async function startBenchAuthority(
  crypto: Crypto,
  dataDir: string,
  epochMs: number,
  network: Record<string, unknown>,
): Promise<{ authority: AuthorityHandle; authorityKey: Uint8Array; genesisMs: number }> {
  const seed = crypto.randomBytes(32);
  const authorityKey = crypto.ed25519PublicKey(seed);
  // Genesis just behind us and long epochs: no boundary during the run. The document for epoch 0
  // is made (on demand) once every layer has uploaded a descriptor, so it lists every node.
  const genesisMs = Date.now() - 1000;
  const authority = await startAuthority(
    validateAuthorityConfig({
      identitySeed: toBase64Url(seed),
      authorities: [toBase64Url(authorityKey)],
      genesisMs,
      epochMs,
      dataDir,
      network,
      openAdmission: true,
    }),
    { crypto },
  );
  return { authority, authorityKey, genesisMs };
}

export interface FakeNode {
  readonly name: string;
  readonly nodeId: Uint8Array;
  readonly sphinxSecret: Uint8Array;
  readonly sphinxPublic: Uint8Array;
  /** The signed descriptor for the epoch asked for. */
  readonly descriptor: Uint8Array;
}

/**
 * A node that exists only as a descriptor the bench signs (the bench plays its part itself, or no
 * one ever dials it): its identity, its Sphinx key for `epoch` and a throwaway one for `epoch + 1`.
 */
export function fakeNode(
  crypto: Crypto,
  fields: { name: string; role: NodeRole; layer: number; link: string; ws?: string; linkKey: Uint8Array; epoch: number },
): FakeNode {
  const identitySeed = crypto.randomBytes(32);
  const sphinxSecret = crypto.randomBytes(32);
  const sphinxPublic = crypto.x25519Base(sphinxSecret);
  const descriptor = makeDescriptor(crypto, identitySeed, {
    epoch: fields.epoch,
    serial: Date.now(),
    name: fields.name,
    family: `bench-${fields.name.replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, 64),
    role: fields.role,
    layer: fields.layer,
    addresses: fields.ws === undefined ? { link: fields.link } : { link: fields.link, ws: fields.ws },
    linkPublicKey: fields.linkKey,
    sphinxKeys: [
      { epoch: fields.epoch, publicKey: sphinxPublic },
      { epoch: fields.epoch + 1, publicKey: crypto.x25519Base(crypto.randomBytes(32)) },
    ],
  });
  return { name: fields.name, nodeId: descriptor.nodeId, sphinxSecret, sphinxPublic, descriptor: encodeDescriptor(descriptor) };
}

/** The non-zero `umbra_node_packets_*` lines of a node's /metrics page, as { "name{labels}": value }. */
export async function packetCounters(metricsUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('umbra_node_packets_')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (value !== 0) out[line.slice(0, space).replace('umbra_node_packets_', '')] = value;
  }
  return out;
}

/** Nanoseconds each thread of process `pid` ran and waited to run, by thread ID (Linux: /proc/PID/task/N/schedstat). */
export function threadClock(pid: number | 'self' = 'self'): Map<number, { ran: number; waited: number }> | undefined {
  try {
    const clock = new Map<number, { ran: number; waited: number }>();
    for (const id of readdirSync(`/proc/${pid}/task`)) {
      const [ran, waited] = readFileSync(`/proc/${pid}/task/${id}/schedstat`, 'utf8').split(' ').map(Number);
      clock.set(Number(id), { ran, waited });
    }
    return clock;
  } catch {
    return undefined;
  }
}

/**
 * Nanoseconds of CPU that process `pid` has used so far, all its threads together (threadClock).
 * A thread that ended is no longer counted: compare two readings over a span in which none ends.
 */
export function processCpuNs(pid: number | 'self'): number | undefined {
  const clock = threadClock(pid);
  if (clock === undefined) return undefined;
  let total = 0;
  for (const { ran } of clock.values()) total += ran;
  return Number.isFinite(total) ? total : undefined;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** A mailbox store that reports when each delivery is stored (after the inner store resolved). */
export class RecordingStore implements MailboxStore {
  constructor(
    private readonly inner: MailboxStore,
    private readonly onStored: (address: Uint8Array, atMs: number) => void,
  ) {}

  get maxCiphertextBytes(): number {
    return this.inner.maxCiphertextBytes;
  }

  async deliver(address: Uint8Array, epoch: number, ciphertext: Uint8Array, receivedAtMs: number): Promise<void> {
    await this.inner.deliver(address, epoch, ciphertext, receivedAtMs);
    this.onStored(address, performance.now());
  }

  fetchBucket(epoch: number, bucket: number, buckets: number): Promise<StoredMessage[]> {
    return this.inner.fetchBucket(epoch, bucket, buckets);
  }

  fetchEpoch(epoch: number): Promise<StoredMessage[]> {
    return this.inner.fetchEpoch(epoch);
  }

  deleteBefore(cutoffMs: number): Promise<number> {
    return this.inner.deleteBefore(cutoffMs);
  }

  stats(): Promise<StoreStats> {
    return this.inner.stats();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
