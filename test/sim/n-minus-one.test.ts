import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SIM_CONFIG, type SimConfig } from '../../src/sim/config.js';
import { disclosureConfig } from '../../src/sim/disclosure.js';
import { DEFAULT_N_MINUS_ONE, runNMinusOne } from '../../src/sim/n-minus-one.js';

/**
 * The n−1 attack on the engine: it isolates the target's packets when it lasts long enough to
 * drain the node, and loops (clients' and mixes') detect it; with no loops at all (the control:
 * no client cover, no mix loops) the same attack goes unnoticed, which shows that the detection
 * comes from the loops and that the test can fail.
 */
const base: SimConfig = { ...DEFAULT_SIM_CONFIG, users: 30, warmupMs: 5_000 };

describe('n−1 attack', () => {
  it("at the target's gateway: succeeds, and the loops raise alarms (no false alarm before)", () => {
    const { result } = runNMinusOne(base, { ...DEFAULT_N_MINUS_ONE, node: 'guard', trials: 2 });
    assert.equal(result.success, 1);
    assert.equal(result.detected, 1);
    assert.equal(result.undetectedSuccess, 0);
    assert.ok(result.alarmsByClients > 0 && result.alarmsByMixes > 0, `${result.alarmsByClients} ${result.alarmsByMixes}`);
    assert.equal(result.falseAlarmsPerHour, 0);
    for (const trial of result.trials) assert.ok(trial.isolated > 0 && trial.isolated <= trial.targetPackets);
  });

  it('an attack too short to drain the node rarely isolates anything', () => {
    const { result } = runNMinusOne(base, { ...DEFAULT_N_MINUS_ONE, node: 'guard', trials: 4, attackMs: 200 });
    assert.equal(result.success, 0);
  });

  it('control: without loops the same attack at a mix is never detected', () => {
    // No client cover: the target (user 0) writes a mail a second.
    const writing = disclosureConfig({ ...base, clientCover: false, workload: { ...base.workload, mailsPerUserPerDay: (4.5 * 86_400) / base.users } }, 1, 1);
    const silent = runNMinusOne(writing, { ...DEFAULT_N_MINUS_ONE, node: 'mix-1-1', trials: 2, mixLoopRate: 0 }).result;
    assert.equal(silent.success, 1);
    assert.equal(silent.detected, 0);
    assert.equal(silent.undetectedSuccess, 1);
    const watched = runNMinusOne(writing, { ...DEFAULT_N_MINUS_ONE, node: 'mix-1-1', trials: 2 }).result;
    assert.equal(watched.success, 1);
    assert.equal(watched.undetectedSuccess, 0);
  });
});
