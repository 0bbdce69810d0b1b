/**
 * src/sim/recorded-run.ts on hand-written records: transmissions are joined by hash across nodes,
 * clients are gateway connections, an arrival that another process's clock put before its
 * departure is moved after it, each delivery is traced back to its client, and the simulator's
 * posterior gives the entropy a two-packet pool must give (1 bit).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { ARRIVAL, DELIVERY, DEPARTURE } from '../../src/sim/event-log.js';
import { linkFigures, RecordError, recordedRun } from '../../src/sim/recorded-run.js';

const config: SimConfig = { ...DEFAULT_SIM_CONFIG, topology: { gateways: 1, mixesPerLayer: 1, providers: 1 }, warmupMs: 0 };
const T = 1_700_000_000_000;
const at = (ms: number): string => (T + ms).toFixed(3);

/** Two clients; mix-1-1 holds both packets and lets the second overtake the first. */
function files(): Map<string, string> {
  const lines = (...rows: string[]): string => `${rows.join('\n')}\n`;
  return new Map([
    ['gateway-1', lines(`A ${at(0)} p0 c0`, `D ${at(0)} p0 1 p0`, `A ${at(1)} q0 c1`, `D ${at(1)} q0 1 q0`)],
    // p0's arrival is stamped 0.5 ms before the gateway's departure (another process's clock).
    ['mix-1-1', lines(`A ${at(-0.5)} p0 link`, `A ${at(1.2)} q0 link`, `D ${at(5)} q1 2 q0`, `D ${at(6)} p1 1 p0`)],
    ['mix-2-1', lines(`A ${at(5.1)} q1 link`, `D ${at(5.2)} q2 1 q1`, `A ${at(6.1)} p1 link`, `D ${at(6.2)} p2 1 p1`)],
    ['mix-3-1', lines(`A ${at(5.3)} q2 link`, `D ${at(5.4)} q3 1 q2`, `A ${at(6.3)} p2 link`, `D ${at(6.4)} p3 1 p2`)],
    ['provider-1', lines(`X ${at(5.5)} q3`, `X ${at(6.5)} p3`)],
  ]);
}

describe('a real network’s packet records as a simulated run', () => {
  it('joins hops by hash, keeps causal order and traces each delivery to its client', () => {
    const run = recordedRun(files(), config);
    assert.equal(run.config.users, 2);
    assert.deepEqual(run.delivered.map((d) => [d.client, Math.round(d.deliveredAt - d.sentAt)]).sort(), [[0, 7], [1, 5]]);
    const seen = new Set<number>();
    for (let i = 0; i < run.log.size; i++) {
      const tx = run.log.tx(i);
      if (run.log.kind(i) === DEPARTURE) {
        assert.ok(seen.has(run.log.input(i)), `the input of departure ${i} arrived before it`);
        seen.add(tx);
      } else if (run.log.kind(i) === ARRIVAL) {
        assert.ok(run.log.clientOf(tx) >= 0 || seen.has(tx), `arrival ${i} follows its departure`);
        seen.add(tx);
      } else {
        assert.equal(run.log.kind(i), DELIVERY);
        assert.ok(seen.has(tx));
      }
    }
  });

  it('gives 1 bit of sender entropy for two packets through one pool of two', () => {
    const figures = linkFigures(recordedRun(files(), config), 0, Infinity);
    assert.equal(figures.measured, 2);
    assert.ok(Math.abs(figures.senderEntropy.mean - 1) < 1e-9, String(figures.senderEntropy.mean));
  });

  it('refuses a malformed line and an unknown node', () => {
    assert.throws(() => recordedRun(new Map([['gateway-1', 'A 12 p0\n']]), config), RecordError);
    assert.throws(() => recordedRun(new Map([['mix-9-9', `X ${at(0)} p0\n`]]), config), RecordError);
  });
});
