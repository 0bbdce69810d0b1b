import { delayMs, exponential } from '../mixing/exponential.js';
import type { LoopRecord } from '../traffic/loop-alarm.js';
import { simRandom } from './random.js';
import type { SimNode } from './topology.js';

/**
 * The mixes' own loops (Loopix), modelled beside the engine: every gateway and mix sends loop
 * packets as a Poisson stream; a loop goes through one mix of each mix layer other than the
 * sender's (uniformly, each holding it for an exponential delay the sender chose) and back to the
 * sender. A loop is lost when it reaches a node while an attacker there drops everything but its
 * target's packets, or with the baseline probability. These loops do not add to the pools the
 * engine simulates (at one loop a second per node they are a few per cent of the traffic).
 */
export interface AttackWindow {
  readonly node: number;
  readonly from: number;
  readonly to: number;
}

export interface MixLoopOptions {
  /** Loops per second per gateway and mix. */
  readonly ratePerSecond: number;
  readonly meanDelayMs: number;
  readonly maxDelayMs: number;
  readonly fromMs: number;
  readonly toMs: number;
  readonly baselineLoss: number;
  readonly seed: number;
}

function blocked(windows: readonly AttackWindow[], node: number, at: number): boolean {
  return windows.some((w) => w.node === node && at >= w.from && at <= w.to);
}

/** Each sending node's loops (by node index; providers send none). */
export function mixLoops(nodes: readonly SimNode[], windows: readonly AttackWindow[], options: MixLoopOptions): Map<number, LoopRecord[]> {
  const random = simRandom(options.seed ^ 0x6c6f6f70);
  const byLayer = new Map<number, SimNode[]>();
  for (const node of nodes) byLayer.set(node.layer, [...(byLayer.get(node.layer) ?? []), node]);
  const result = new Map<number, LoopRecord[]>();
  if (!(options.ratePerSecond > 0)) return result;
  for (const sender of nodes) {
    if (sender.descriptor.role === 'provider') continue;
    const layers = [1, 2, 3].filter((l) => l !== sender.layer);
    const loops: LoopRecord[] = [];
    for (let at = options.fromMs + exponential(random.bytes, 1000 / options.ratePerSecond); at < options.toMs; at += exponential(random.bytes, 1000 / options.ratePerSecond)) {
      let t = at;
      let lost = random.uniform() < options.baselineLoss;
      for (const layer of layers) {
        const candidates = byLayer.get(layer) ?? [];
        const hop = candidates[Math.floor(random.uniform() * candidates.length)];
        if (blocked(windows, hop.index, t)) lost = true;
        t += delayMs(random.bytes, options.meanDelayMs, options.maxDelayMs);
      }
      if (blocked(windows, sender.index, t)) lost = true;
      loops.push({ dueAt: t, returnedAt: lost ? Infinity : t });
    }
    result.set(sender.index, loops);
  }
  return result;
}
