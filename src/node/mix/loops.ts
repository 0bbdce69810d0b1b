import { hexOf } from '../../codec/bytes.js';
import { systemRandom, type RandomSource } from '../../crypto/seeded-random.js';
import { delayMs, exponential } from '../../mixing/exponential.js';
import { AuthorityRequestError, uploadLoopReport } from '../../net/authority-client.js';
import {
  choosePath,
  consensusWeights,
  epochAt,
  findNode,
  GATEWAY_LAYER,
  makeLoopReport,
  PROVIDER_LAYER,
  pathLayers,
  sphinxKeyFor,
  type ConsensusDocument,
  type NodeDescriptor,
} from '../../pki/index.js';
import { RECIPIENT_ID_LENGTH } from '../../sphinx/index.js';
import type { PathHop } from '../../sphinx/sphinx.js';
import { LoopLedger } from '../../traffic/loop-ledger.js';
import { ALERT_RATE_FACTOR, LoopAlerts } from '../../traffic/loop-alert.js';
import type { NodeRuntime } from '../runtime/node.js';
import { LoopEntry } from './loop-entry.js';

/** A node's Sphinx key for `epoch`; throws when it has none (the loop is then unroutable). */
function keyOf(node: NodeDescriptor, epoch: number): Uint8Array {
  const publicKey = sphinxKeyFor(node, epoch);
  if (publicKey === undefined) throw new Error(`no Sphinx key of ${node.name} for the epoch`);
  return publicKey;
}

/**
 * A mix's own loops (docs/network.md, "Mix loops"): a Poisson stream at the consensus's
 * `reliability.mixLoopRate` of packets that take a client's way through the network and come back:
 * in through a gateway (as a client's packets do, LoopEntry), through one mix of each layer (this
 * mix itself on its own layer), to a provider, which sends it back to this mix. So no mix sees a
 * loop on a hop that client traffic does not take: a mix cannot spare loops and drop mail. The last
 * hop names a fresh random recipient ID, which only this mix knows, so a returning packet is
 * recognised by it. A loop not back within its deadline is lost; each fate counts against the two
 * other mixes it crossed (LoopLedger). The gateway and the provider are not judged by loops: each
 * knows a mix's loop when it carries one (a mix's connection; a packet sent on to a mix), so its
 * loops say nothing of how it treats mail; the authorities' probes measure them. Loops start with the first
 * whole epoch after start-up. Every quarter epoch the counts of the current and previous epoch go
 * to every authority as a signed loop report.
 *
 * Paths are drawn by choosePath weighted by bandwidth only (declared, capped by measured), below-floor nodes included: the
 * loops must keep measuring a node that was left out of client paths, so that it can come back.
 *
 * High alert (docs/network.md, "Mix loops"): at each report the fates counted since are judged by
 * the clients' test (LoopAlerts, src/traffic/loop-attribution.ts). A suspect puts the mix on high
 * alert for that epoch and the next: it logs the suspects, counts them, and sends its loops at
 * ALERT_RATE_FACTOR times the consensus rate, so that its reports convict sooner. It does not leave
 * the suspects out of its loops: those loops are the evidence that takes them out of everyone's
 * paths through the authorities' scores.
 */
const LOOP_SLACK_MS = 2_000;

/** The two mix layers other than `layer`, in path order: those whose mixes a loop is judged on. */
function otherLayers(layer: number): number[] {
  return [1, 2, 3].filter((l) => l !== layer);
}

export class MixLoops {
  private readonly alerts = new LoopAlerts();
  /** Each fate also goes to the alert test; a loop's i-th node is on the i-th of otherLayers. */
  private readonly ledger = new LoopLedger((epoch, nodes, lost) => {
    const layers = otherLayers(this.runtime.config.layer);
    this.alerts.record(epoch, { hops: nodes.map((node, i) => ({ node, layer: layers[i] })), lost });
  });
  private readonly random: RandomSource;
  private readonly entry: LoopEntry;
  private sendTimer: unknown;
  private reportTimer: unknown;
  private closed = false;
  /** Loops start with the first whole epoch after start-up (links and keys settle first). */
  private firstEpoch = Number.MAX_SAFE_INTEGER;

  constructor(
    private readonly runtime: NodeRuntime,
    private readonly family: string,
  ) {
    this.random = systemRandom(runtime.crypto);
    this.entry = new LoopEntry(runtime.linkSeed, runtime.log);
    runtime.metrics.gauge('node_mix_loops_outstanding', 'Mix: own loops not yet returned or given up.', () => this.ledger.outstandingCount);
    runtime.metrics.gauge('node_mix_high_alert', 'Mix: 1 while on high alert (its loops point to a suspect), else 0.', () => (this.onAlert() ? 1 : 0));
  }

  start(): void {
    this.firstEpoch = epochAt(this.runtime.clock.now(), this.runtime.timing) + 1;
    this.scheduleSend();
    this.scheduleReport();
  }

  /** A packet whose last hop is this mix, for recipient `recipient`: true when it was one of its loops. */
  returned(recipient: Uint8Array | undefined): boolean {
    if (recipient === undefined || !this.ledger.returned(hexOf(recipient))) return false;
    this.runtime.metrics.count('node_mix_loops_total', { fate: 'returned' });
    return true;
  }

  close(): void {
    this.closed = true;
    this.entry.close();
    const { clock } = this.runtime;
    if (this.sendTimer !== undefined) clock.clearTimer(this.sendTimer);
    if (this.reportTimer !== undefined) clock.clearTimer(this.reportTimer);
  }

  private scheduleSend(): void {
    if (this.closed) return;
    const { clock, consensus } = this.runtime;
    const rate = (consensus.active(clock.now())?.reliability.mixLoopRate ?? 0) * (this.onAlert() ? ALERT_RATE_FACTOR : 1);
    // No document or no loops: look again in a second.
    const waitMs = rate > 0 ? exponential(this.random, 1000 / rate) : 1000;
    this.sendTimer = clock.setTimer(() => {
      this.sendTimer = undefined;
      if (rate > 0) this.sendOne();
      this.scheduleSend();
    }, Math.min(waitMs, 60_000));
  }

  private sendOne(): void {
    const { clock, consensus, metrics } = this.runtime;
    const now = clock.now();
    this.expire(now);
    const doc = consensus.active(now);
    if (doc === undefined) return;
    const epoch = epochAt(now, this.runtime.timing);
    if (epoch < this.firstEpoch) return;
    try {
      const { gateway, hops, judged } = this.loopPath(doc, epoch);
      const loopId = this.random(RECIPIENT_ID_LENGTH);
      const path: PathHop[] = [...hops, this.selfHop(doc, epoch, loopId)];
      const { sphinx } = this.runtime;
      const packet = sphinx.newPacket(path, new Uint8Array(0), this.random, sphinx.geometry.withSurb ? this.random(sphinx.geometry.surbLength) : undefined);
      if (!this.entry.send(gateway, path[0].id, packet)) return metrics.count('node_mix_loops_total', { fate: 'unroutable' });
      // Three mixes hold it, each at most maxDelayMs.
      const deadline = now + 3 * doc.mixing.maxDelayMs + LOOP_SLACK_MS;
      this.ledger.left(hexOf(loopId), epoch, judged.map((node) => hexOf(node.nodeId)), deadline);
      metrics.count('node_mix_loops_total', { fate: 'sent' });
    } catch {
      metrics.count('node_mix_loops_total', { fate: 'unroutable' });
    }
  }

  /**
   * A loop's way: the gateway it enters through, its Sphinx hops up to the provider (a mix of each
   * layer, this mix on its own, with the usual delays; the provider with none), and the two other
   * mixes, whose fates it counts in. Families are kept apart as in clients' paths.
   */
  private loopPath(doc: ConsensusDocument, epoch: number): { gateway: NodeDescriptor; hops: PathHop[]; judged: NodeDescriptor[] } {
    const layers = pathLayers(doc);
    const ownLayer = this.runtime.config.layer;
    const [gateway, ...chosen] = choosePath([GATEWAY_LAYER, ...otherLayers(ownLayer), PROVIDER_LAYER].map((l) => layers[l]), {
      weight: consensusWeights(doc).bandwidth,
      family: (node) => node.family,
      usedFamilies: [this.family],
      random: this.random,
    });
    const provider = chosen.pop() as NodeDescriptor;
    const self = findNode(doc, this.runtime.nodeId);
    if (self === undefined) throw new Error('this mix is not in the consensus');
    const mixes = [1, 2, 3].map((l) => (l === ownLayer ? self : chosen.find((node) => node.layer === l) as NodeDescriptor));
    const { meanDelayMs, maxDelayMs } = doc.mixing;
    const hops = mixes.map((node): PathHop => ({ id: node.nodeId, publicKey: keyOf(node, epoch), commands: [{ type: 'delay', delayMs: delayMs(this.random, meanDelayMs, maxDelayMs) }] }));
    hops.push({ id: provider.nodeId, publicKey: keyOf(provider, epoch), commands: [{ type: 'delay', delayMs: 0 }] });
    return { gateway, hops, judged: chosen };
  }

  /** The loop's last hop: this mix, with the loop ID only it knows. */
  private selfHop(doc: ConsensusDocument, epoch: number, loopId: Uint8Array): PathHop {
    const self = findNode(doc, this.runtime.nodeId) as NodeDescriptor;
    return { id: self.nodeId, publicKey: keyOf(self, epoch), commands: [{ type: 'recipient', recipient: loopId }] };
  }

  /** Whether the current epoch is on high alert. */
  private onAlert(): boolean {
    return this.alerts.high(epochAt(this.runtime.clock.now(), this.runtime.timing));
  }

  /** Judges the fates counted since the last judgement; logs (by the nodes' public names) and counts new suspects. */
  private judge(): void {
    const doc = this.runtime.consensus.active(this.runtime.clock.now());
    const nameOf = (hex: string): string => (doc === undefined ? undefined : findNode(doc, Uint8Array.from(Buffer.from(hex, 'hex')))?.name) ?? `node ${hex.slice(0, 8)}`;
    for (const alert of this.alerts.judge()) {
      for (const suspect of alert.suspects) this.runtime.metrics.count('node_mix_alerts_total', { scope: suspect.scope });
      const named = alert.suspects.map((s) => (s.node !== undefined ? `${nameOf(s.node)} (${s.lost} of ${s.loops} loops lost)` : `all paths (${s.lost} of ${s.loops} lost)`));
      this.runtime.log(`mix: high alert: the loops of epoch ${alert.epoch} point to ${named.join(', ')}`, 'warn');
    }
  }

  private expire(now: number): void {
    const lost = this.ledger.expire(now);
    if (lost > 0) this.runtime.metrics.count('node_mix_loops_total', { fate: 'lost' }, lost);
  }

  private scheduleReport(): void {
    if (this.closed) return;
    const { clock, timing } = this.runtime;
    this.reportTimer = clock.setTimer(() => {
      this.reportTimer = undefined;
      this.report();
      this.scheduleReport();
    }, Math.max(500, Math.floor(timing.epochMs / 4)));
  }

  /** Signs the counts of the current and the previous epoch and posts them to every authority. */
  private report(): void {
    const { clock, timing, crypto, identitySeed, config, metrics } = this.runtime;
    const now = clock.now();
    this.expire(now);
    const current = epochAt(now, timing);
    this.judge();
    this.ledger.prune(current - 1);
    for (const epoch of [current - 1, current]) {
      const fates = this.ledger.fatesOf(epoch);
      if (fates === undefined || epoch < 0) continue;
      let bytes: Uint8Array;
      try {
        const nodes = [...fates.nodes].map(([hex, counts]) => ({ nodeId: Uint8Array.from(Buffer.from(hex, 'hex')), ...counts }));
        bytes = makeLoopReport(crypto, identitySeed, { epoch, serial: now, total: { ...fates.total }, nodes }).bytes;
      } catch {
        metrics.count('node_loop_reports_total', { result: 'invalid' });
        continue;
      }
      for (const url of config.authorityUrls) {
        uploadLoopReport({ url, keys: config.authorities, pinnedBy: 'the node configuration' }, bytes, { timeoutMs: 5_000 }).then(
          (result) => metrics.count('node_loop_reports_total', { result }),
          (error: unknown) => metrics.count('node_loop_reports_total', { result: error instanceof AuthorityRequestError ? 'refused' : 'unreachable' }),
        );
      }
    }
  }
}
