import type { CounterObserver } from '../../net/metrics.js';
import { ThrottledLog, type LogLevel, type NodeLog } from '../log.js';
import type { NodeCounter } from './metrics.js';

/**
 * Refusals and failures that are counted but that no other line reports (docs/nodes.md, "Logs"):
 * refused connections and requests, dropped packets, error replies. Each is logged from its
 * counter, throttled per counter and reason, since a peer or client can cause them at will. The
 * fields are the counter's fixed labels, never an address.
 */
interface Logged {
  readonly level: LogLevel;
  readonly line: string;
}

const LINK_EVENTS: Readonly<Record<string, Logged>> = {
  connections_rejected: { level: 'warn', line: 'link: refused a link connection' },
  packet_handler_errors: { level: 'error', line: 'link: a packet handler failed' },
  ws_requests_rejected: { level: 'warn', line: 'ws: refused a client connection' },
  ws_connections_closed_by_us: { level: 'info', line: 'ws: closed a client connection' },
};

const NODE_EVENTS: Partial<Record<NodeCounter, Logged>> = {
  node_packets_dropped_total: { level: 'warn', line: 'node: dropped a packet' },
  node_http_errors_total: { level: 'warn', line: 'node: refused a request on the metrics listener' },
  node_retrieval_errors_total: { level: 'warn', line: 'provider: answered a client request with an error' },
};

/** Drops at shutdown are expected; a drop for an internal error is a bug. */
function dropLevel(reason: string | undefined): LogLevel {
  return reason === 'shutdown' ? 'debug' : reason === 'internal' ? 'error' : 'warn';
}

export interface CountedEventLog {
  readonly link: CounterObserver;
  readonly node: (name: NodeCounter, labels: Readonly<Record<string, string>>, by: number) => void;
}

export function countedEventLog(log: NodeLog, now: () => number, intervalMs?: number): CountedEventLog {
  const throttled = new ThrottledLog(log, now, intervalMs);
  return {
    link: (name, reason, by) => {
      const logged = LINK_EVENTS[name];
      if (logged === undefined) return;
      throttled.note(`${name}|${reason}`, logged.line, logged.level, reason === '' ? {} : { reason }, by);
    },
    node: (name, labels, by) => {
      const logged = NODE_EVENTS[name];
      if (logged === undefined) return;
      const level = name === 'node_packets_dropped_total' ? dropLevel(labels.reason) : logged.level;
      throttled.note(`${name}|${Object.values(labels).join('|')}`, logged.line, level, labels, by);
    },
  };
}
