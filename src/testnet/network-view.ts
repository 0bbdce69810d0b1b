import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readApiEndpoint } from '../client/api/discovery.js';
import { builtPageDir, loopbackHost, PAGE_HEADERS, sendPlain, StaticPage } from '../net/static-page.js';
import { byLabel, histogram, MAX_METRICS_BYTES, parsePrometheus, total, type Sample } from './prometheus.js';
import type { NetworkFile } from './network-file.js';

/**
 * The live network view of `umbra up` (docs/web.md, "The network view"): a page on 127.0.0.1 and
 * `GET /network.json`, which reads every node's /metrics when asked and answers, per node, its
 * packet counters, drops by reason, queue depth and unwrap-time histogram, plus the loop round
 * trips of the local users' running agents (end to end through the whole network). The page turns
 * counters into rates and draws them; nothing is kept between requests.
 */
export interface NetworkViewServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface NodeSnapshot {
  readonly name: string;
  readonly role: string;
  readonly layer: number;
  readonly up: boolean;
  readonly packetsIn: number;
  readonly packetsOut: number;
  readonly packetsExited: number;
  readonly dropped: Readonly<Record<string, number>>;
  readonly queueDepth?: number;
  readonly clients?: number;
  readonly unwrap: { readonly buckets: readonly { readonly le: string; readonly count: number }[]; readonly count: number; readonly sumSeconds: number };
}

export interface NetworkSnapshot {
  readonly nowMs: number;
  readonly epoch: number;
  readonly nodes: readonly NodeSnapshot[];
  /** Loop round trips (ms) of each running local agent, oldest first. */
  readonly loops: readonly { readonly user: string; readonly rttsMs: readonly number[] }[];
}

const SCRAPE_TIMEOUT_MS = 2_000;

async function fetchText(url: string, headers: Record<string, string> = {}): Promise<string | undefined> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    if (!response.ok) return undefined;
    const text = await response.text();
    return text.length > MAX_METRICS_BYTES ? undefined : text;
  } catch {
    return undefined;
  }
}

function nodeSnapshot(node: NetworkFile['nodes'][number], samples: Sample[] | undefined): NodeSnapshot {
  const s = samples ?? [];
  const unwrap = histogram(s, 'umbra_node_unwrap_seconds');
  const depth = s.find((x) => x.name === 'umbra_node_schedule_depth');
  const clients = s.find((x) => x.name === 'umbra_node_clients');
  return {
    name: node.name,
    role: node.role,
    layer: node.layer,
    up: samples !== undefined,
    packetsIn: total(s, 'umbra_node_packets_in_total'),
    packetsOut: total(s, 'umbra_node_packets_out_total'),
    packetsExited: total(s, 'umbra_node_packets_exited_total'),
    dropped: byLabel(s, 'umbra_node_packets_dropped_total', 'reason'),
    ...(depth === undefined ? {} : { queueDepth: depth.value }),
    ...(clients === undefined ? {} : { clients: clients.value }),
    unwrap: { buckets: unwrap.buckets.map(([le, count]) => ({ le: Number.isFinite(le) ? String(le) : '+Inf', count })), count: unwrap.count, sumSeconds: unwrap.sum },
  };
}

/** One reading of the whole network. */
export async function networkSnapshot(file: NetworkFile, now: () => number = Date.now): Promise<NetworkSnapshot> {
  const nodes = await Promise.all(file.nodes.map(async (node) => {
    const text = node.metricsUrl === undefined ? undefined : await fetchText(node.metricsUrl);
    return nodeSnapshot(node, text === undefined ? undefined : parsePrometheus(text));
  }));
  const loops = await Promise.all(file.users.map(async (user) => {
    const endpoint = readApiEndpoint(user.dir);
    if (endpoint === undefined) return undefined;
    const text = await fetchText(`${endpoint.url}/api/v1/status`, { authorization: `Bearer ${endpoint.token}` });
    try {
      const rtts = (JSON.parse(text ?? 'null') as { loops?: { rttsMs?: unknown } } | null)?.loops?.rttsMs;
      return Array.isArray(rtts) ? { user: user.name, rttsMs: rtts.filter((x): x is number => typeof x === 'number').slice(-64) } : undefined;
    } catch {
      return undefined;
    }
  }));
  const nowMs = now();
  return { nowMs, epoch: Math.floor((nowMs - file.genesisMs) / file.epochMs), nodes, loops: loops.filter((x) => x !== undefined) };
}

/** Serves the view on 127.0.0.1 (port 0: a free one). */
export async function startNetworkView(file: NetworkFile, port = 0, pageDir = builtPageDir('network')): Promise<NetworkViewServer> {
  const page = new StaticPage(pageDir);
  let bound = 0;
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!loopbackHost(req, bound)) return sendPlain(res, 421, 'open the network view at its 127.0.0.1 address\n');
    const path = (req.url ?? '/').split('?')[0];
    if (page.serve(req, res, path)) return;
    req.resume();
    if (path !== '/network.json') return sendPlain(res, 404, 'not found\n');
    if (req.method !== 'GET') return sendPlain(res, 405, 'GET only\n', { allow: 'GET' });
    const body = JSON.stringify(await networkSnapshot(file));
    res.writeHead(200, { ...PAGE_HEADERS, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  };
  const server = createServer((req, res) => {
    req.on('error', () => undefined);
    answer(req, res).catch(() => {
      if (!res.headersSent) sendPlain(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
