import { html, nothing, render, type TemplateResult } from 'lit-html';
import { bars, binned, perBucket, sparkline } from './charts.js';

/**
 * The live view of a local network (docs/web.md): reads /network.json every second, keeps the
 * last two minutes of each node's counters in memory, and shows per layer each node's packet
 * rates (over the last 10 s), queue depth, drops by reason and unwrap times, plus the end-to-end
 * loop round trips of the running local agents.
 */
interface NodeSnapshot {
  name: string;
  role: string;
  layer: number;
  up: boolean;
  packetsIn: number;
  packetsOut: number;
  packetsExited: number;
  dropped: Record<string, number>;
  queueDepth?: number;
  clients?: number;
  unwrap: { buckets: { le: string; count: number }[]; count: number; sumSeconds: number };
}

interface Snapshot {
  nowMs: number;
  epoch: number;
  nodes: NodeSnapshot[];
  loops: { user: string; rttsMs: number[] }[];
}

interface Reading {
  t: number;
  node: NodeSnapshot;
}

const HISTORY_MS = 120_000;
const RATE_WINDOW_MS = 10_000;
const history = new Map<string, Reading[]>();
let latest: Snapshot | undefined;
let error = '';

function rate(readings: readonly Reading[], pick: (n: NodeSnapshot) => number, endIndex = readings.length - 1): number {
  const end = readings[endIndex];
  if (end === undefined) return 0;
  let start = endIndex;
  while (start > 0 && end.t - readings[start - 1].t <= RATE_WINDOW_MS) start--;
  const first = readings[start];
  const seconds = (end.t - first.t) / 1000;
  return seconds > 0 ? Math.max(0, pick(end.node) - pick(first.node)) / seconds : 0;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function layerName(layer: number, role: string): string {
  if (role === 'gateway') return 'Gateway';
  if (role === 'provider') return 'Mailbox servers';
  return `Mix layer ${layer}`;
}

function nodeCard(node: NodeSnapshot): TemplateResult {
  const readings = history.get(node.name) ?? [];
  const inRate = rate(readings, (n) => n.packetsIn);
  const outRate = rate(readings, (n) => (n.role === 'provider' ? n.packetsExited : n.packetsOut));
  const series = readings.map((_, i) => rate(readings, (n) => n.packetsIn, i)).slice(-60);
  const drops = Object.entries(node.dropped).filter(([, v]) => v > 0);
  const unwrapMean = node.unwrap.count > 0 ? (node.unwrap.sumSeconds / node.unwrap.count) * 1e6 : undefined;
  return html`<article class="node ${node.up ? '' : 'down'}" data-node=${node.name} data-rate-in=${inRate.toFixed(3)} aria-label="${node.name}">
    <h3><span class="dot" aria-hidden="true">${node.up ? '●' : '○'}</span> ${node.name} ${node.up ? nothing : html`<span class="bad">(not answering)</span>`}</h3>
    <dl>
      <dt>in</dt><dd class="rate-in">${fmt(inRate)} packets/s</dd>
      <dt>${node.role === 'provider' ? 'delivered' : 'out'}</dt><dd>${fmt(outRate)} packets/s</dd>
      ${node.queueDepth === undefined ? nothing : html`<dt>queue</dt><dd>${node.queueDepth} held</dd>`}
      ${node.clients === undefined ? nothing : html`<dt>clients</dt><dd>${node.clients}</dd>`}
      <dt>total in</dt><dd>${node.packetsIn}</dd>
    </dl>
    ${sparkline(series, `${node.name}: packets in per second over the last minute`)}
    <h4>Drops by reason</h4>
    ${drops.length === 0 ? html`<p class="muted">none</p>` : html`<ul class="drops">${drops.map(([reason, n]) => html`<li>${reason} <strong>${n}</strong></li>`)}</ul>`}
    ${node.unwrap.count === 0 ? nothing : html`<h4>Unwrap time (${node.unwrap.count}, mean ${fmt(unwrapMean ?? 0)} µs)</h4>
      ${bars(perBucket(node.unwrap.buckets, (s) => (s < 0.001 ? `${s * 1e6}µ` : `${s * 1000}m`)), `${node.name}: unwrap time histogram`)}`}
  </article>`;
}

function latencySection(snapshot: Snapshot): TemplateResult {
  const all = snapshot.loops.flatMap((l) => l.rttsMs);
  if (all.length === 0) return html`<p class="muted">No local agent is running: start one (<code>umbra client --dir DIR run</code>) to see loop round trips.</p>`;
  const sorted = [...all].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  const bounds = [250, 500, 1000, 2000, 4000, 8000, 16000];
  return html`<p>${all.length} loops of ${snapshot.loops.map((l) => l.user).join(', ')}: median ${Math.round(q(0.5))} ms, p90 ${Math.round(q(0.9))} ms
    (client → gateway → three mixes → mailbox server, and back at the next poll).</p>
    <div class="latency-chart">${bars(binned(all, bounds, (ms) => (ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`)), 'loop round-trip histogram', 440, 110)}</div>`;
}

const root = document.getElementById('app') as HTMLElement;
root.replaceChildren();

function draw(): void {
  const s = latest;
  if (s === undefined) {
    render(html`<p>${error === '' ? 'Reading the nodes…' : error}</p>`, root);
    return;
  }
  const layers = [...new Set(s.nodes.map((n) => n.layer))].sort((a, b) => a - b);
  const up = s.nodes.filter((n) => n.up).length;
  render(html`<header><h1>Umbra network</h1>
      <p>Epoch ${s.epoch} · ${up} of ${s.nodes.length} nodes answering · updated ${new Date(s.nowMs).toLocaleTimeString()}
      ${error === '' ? nothing : html`<span class="bad" role="alert"> · ${error}</span>`}</p></header>
    <main>
      <div class="layers">${layers.map((layer) => {
        const nodes = s.nodes.filter((n) => n.layer === layer);
        return html`<section class="layer" aria-labelledby="layer-${layer}"><h2 id="layer-${layer}">${layerName(layer, nodes[0].role)}</h2>
          <div class="nodes">${nodes.map(nodeCard)}</div></section>`;
      })}</div>
      <section aria-labelledby="latency"><h2 id="latency">End-to-end latency</h2>${latencySection(s)}</section>
      <p class="muted">Nodes count real and cover packets alike: no metric tells them apart.</p>
    </main>`, root);
}

async function poll(): Promise<void> {
  try {
    const response = await fetch('/network.json', { cache: 'no-store', credentials: 'omit' });
    if (!response.ok) throw new Error(`the view answered ${response.status}`);
    const snapshot = (await response.json()) as Snapshot;
    for (const node of snapshot.nodes) {
      const readings = history.get(node.name) ?? [];
      if (node.up) readings.push({ t: snapshot.nowMs, node });
      while (readings.length > 0 && snapshot.nowMs - readings[0].t > HISTORY_MS) readings.shift();
      history.set(node.name, readings);
    }
    latest = snapshot;
    error = '';
  } catch (e) {
    error = `cannot read the network: ${e instanceof Error ? e.message : String(e)}`;
  }
  draw();
  window.setTimeout(() => void poll(), 1000);
}

void poll();
