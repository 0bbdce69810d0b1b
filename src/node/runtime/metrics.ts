import { toPrometheus, type NetMetrics } from '../../net/metrics.js';
import { Metrics } from '../metrics.js';

/**
 * The counters every gateway, mix and provider keeps (docs/nodes.md, "Metrics"), printed with the
 * `umbra_` prefix, plus the link layer's counters as `umbra_link_*`. Labels are fixed words chosen
 * here (reasons, kinds, codes), never an address, a key or anything from a packet.
 */
export const NODE_COUNTERS = Object.freeze({
  node_packets_in_total: 'Sphinx packets received: from links, and at a gateway from clients.',
  node_packets_out_total: 'Packets handed to the link toward their next hop.',
  node_packets_dropped_total: 'Packets dropped, by reason.',
  node_packets_exited_total: 'Provider: packets whose last hop is this provider (mail, SURB replies, loops and drop cover alike).',
  node_unwrap_previous_key_total: "Packets unwrapped under the previous epoch's Sphinx key (grace period).",
  node_consensus_fetched_total: 'Consensus documents fetched and verified.',
  node_consensus_rejected_total: 'Consensus documents refused (forged, expired, other timing or parameters), by reason; the documents held are kept.',
  node_consensus_fetch_failures_total: 'Consensus fetches that failed without a document, by reason.',
  node_consensus_self_problems_total: 'Verified documents that do not list this node as it published itself, by problem.',
  node_consensus_grace_short_total: "Verified documents whose mixing delays need a longer grace than this node's graceMs (the previous epoch's key is kept that long).",
  node_descriptor_uploads_total: 'Descriptor uploads answered by an authority, by result.',
  node_descriptor_upload_failures_total: 'Descriptor uploads that failed (retried when transient), by reason.',
  node_http_errors_total: 'Error responses of the /metrics and /healthz listener, by code.',
  node_retrieval_requests_total: 'Provider: fetch requests received, by type.',
  node_retrieval_errors_total: 'Provider: error replies sent, by code.',
  node_store_errors_total: 'Provider: mailbox store failures, by operation and kind.',
  node_retention_runs_total: 'Provider: retention runs (each deletes whatever expired).',
  node_replay_journal_errors_total: 'Failures to write or read a replay-tag journal.',
  node_replay_filter_rotations_total: 'Replay-filter generations retired because they were full (tags older than two generations are forgotten).',
  node_key_errors_total: 'Failures to store or destroy a Sphinx key file.',
  node_mix_loops_total: 'Mix: own loops, by fate (sent, returned, lost, unroutable).',
  node_loop_reports_total: 'Mix: loop reports posted to an authority, by result.',
  node_gateway_mix_connections_total: "Gateway: connections that presented a mix's link key (the mix sends its loops through them).",
  node_mix_alerts_total: "Mix: suspects its own loops' losses pointed to (high alert), by scope (node, paths).",
});

export type NodeCounter = keyof typeof NODE_COUNTERS;

/** Upper bounds (seconds) of the unwrap-time histogram. */
export const UNWRAP_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

export class NodeMetrics {
  readonly registry = new Metrics('umbra');

  /** `observer` is told of every count (the node logs refusals and failures from there). */
  constructor(
    readonly link: NetMetrics,
    private readonly observer?: (name: NodeCounter, labels: Readonly<Record<string, string>>, by: number) => void,
  ) {
    // Always present, so a scrape shows zeros before the first event.
    for (const name of ['node_packets_in_total', 'node_packets_out_total', 'node_consensus_fetched_total'] as const) this.count(name, {}, 0);
  }

  count(name: NodeCounter, labels: Readonly<Record<string, string>> = {}, by = 1): void {
    this.registry.inc(name, NODE_COUNTERS[name], labels, by);
    if (by > 0) this.observer?.(name, labels, by);
  }

  drop(reason: string, by = 1): void {
    this.count('node_packets_dropped_total', { reason }, by);
  }

  value(name: NodeCounter, labels: Readonly<Record<string, string>> = {}): number {
    return this.registry.value(name, labels);
  }

  gauge(name: string, help: string, read: () => number): void {
    this.registry.gauge(name, help, read);
  }

  unwrapSeconds(seconds: number): void {
    this.registry.observe('node_unwrap_seconds', 'Time to unwrap one Sphinx packet (all keys tried), seconds.', UNWRAP_BUCKETS, seconds);
  }

  /** The whole /metrics page. */
  text(): string {
    return this.registry.toPrometheus() + toPrometheus(this.link, 'umbra_link');
  }
}
