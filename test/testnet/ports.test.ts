import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressInUse, AddressInUseError } from '../../src/cli/errors.js';
import { getCrypto } from '../../src/crypto/index.js';
import { PortInUseError, TestnetError } from '../../src/testnet/errors.js';
import { makePlan, portsOfPlan, withFreshPorts } from '../../src/testnet/plan.js';
import { startMovingPorts, type MovingStart } from '../../src/testnet/port-moves.js';
import { distinctPort, type PortAllocator } from '../../src/testnet/ports.js';

/** Hands out 20000, 20001, … (a plan made with it never touches the OS). */
function counting(first = 20_000): PortAllocator & { calls: string[] } {
  let next = first;
  const calls: string[] = [];
  return Object.assign(async (owner: string) => {
    calls.push(owner);
    return next++;
  }, { calls });
}

describe('ports of umbra up', () => {
  test('distinctPort skips ports already taken, and refuses an allocator that gives only those or no port', async () => {
    const taken = new Set([5000, 5001]);
    const from = (ports: number[]): PortAllocator => async () => ports.shift() ?? 5000;
    assert.equal(await distinctPort(from([5000, 5001, 5002]), 'mix-1-1', taken), 5002);
    assert.ok(taken.has(5002));
    await assert.rejects(distinctPort(async () => 5000, 'mix-1-1', taken), /mix-1-1 only ports already taken/);
    await assert.rejects(distinctPort(async () => 0, 'mix-1-1', taken), (error: unknown) => error instanceof TestnetError && /not a TCP port/.test(error.message));
  });

  test('withFreshPorts moves every port of one node or authority, away from every port of the plan', async () => {
    const allocate = counting();
    const plan = await makePlan(getCrypto(), 1_000_000, 4000, 2, true, 'fast', allocate);
    const before = portsOfPlan(plan);
    assert.equal(before.size, allocate.calls.length, 'every port of a plan is distinct');
    // An allocator that hands out the plan's own ports first (the gateway's old ones among them): those are skipped.
    const reuse = [...before];
    const fresh = counting(30_000);
    const moved = await withFreshPorts(plan, 'gateway-1', async (owner) => reuse.shift() ?? fresh(owner));
    const gateway = moved.nodes.find((node) => node.name === 'gateway-1');
    const old = plan.nodes.find((node) => node.name === 'gateway-1');
    assert.ok(gateway !== undefined && old !== undefined && gateway.wsPort !== undefined);
    for (const port of [gateway.linkPort, gateway.metricsPort, gateway.wsPort]) assert.ok(!before.has(port), `port ${port} was the plan's`);
    assert.equal(portsOfPlan(moved).size, before.size);
    assert.deepEqual(moved.nodes.filter((node) => node.name !== 'gateway-1'), plan.nodes.filter((node) => node.name !== 'gateway-1'));
    assert.deepEqual({ ...gateway, linkPort: 0, metricsPort: 0, wsPort: 0 }, { ...old, linkPort: 0, metricsPort: 0, wsPort: 0 }, 'keys and names stay');
    const mix = (await withFreshPorts(plan, 'mix-1-1', counting(40_000))).nodes.find((node) => node.name === 'mix-1-1');
    assert.equal(mix?.wsPort, undefined, 'a mix still has no WebSocket port');
    const authorities = (await withFreshPorts(plan, 'authority-2', counting(40_000))).authorities;
    assert.deepEqual(authorities.map((a) => a.port), [plan.authorities[0].port, 40_000]);
    await assert.rejects(withFreshPorts(plan, 'mix-9-9', counting()), /no node mix-9-9/);
  });

  test('startMovingPorts moves the processes whose port was taken and starts only those again', async () => {
    const starts: string[] = [];
    const moves: string[] = [];
    const lines: string[] = [];
    const busy = new Set(['b', 'c']);
    const how: MovingStart<string> = {
      start: async (name) => {
        starts.push(name);
        if (busy.has(name)) throw new PortInUseError(name, `${name} could not listen`);
        return `${name} ready`;
      },
      move: async (name) => {
        moves.push(name);
        if (name === 'b' || moves.filter((m) => m === 'c').length === 2) busy.delete(name);
      },
      maxMoves: 3,
      log: (line) => lines.push(line),
    };
    assert.deepEqual(await startMovingPorts(['a', 'b', 'c'], how), ['a ready', 'b ready', 'c ready']);
    assert.deepEqual(starts, ['a', 'b', 'c', 'b', 'c', 'c']);
    assert.deepEqual(moves, ['b', 'c', 'c']);
    assert.match(lines[0], /^b: a port of its own was taken before it could listen; starting it again on fresh ports$/);
  });

  test('startMovingPorts starts the whole group again after a move when asked (authorities), and gives up after maxMoves', async () => {
    const starts: string[] = [];
    const stopped: string[][] = [];
    let aFree = false;
    const group: MovingStart<string> = {
      start: async (name) => {
        starts.push(name);
        if (name === 'a' && !aFree) throw new PortInUseError(name, 'a could not listen');
        return name;
      },
      move: async () => { aFree = true; },
      restartTogether: async (started) => { stopped.push([...started]); },
      maxMoves: 3,
      log: () => undefined,
    };
    assert.deepEqual(await startMovingPorts(['a', 'b'], group), ['a', 'b']);
    assert.deepEqual(starts, ['a', 'b', 'a', 'b']);
    assert.deepEqual(stopped, [['b']]);

    let moved = 0;
    const hopeless: MovingStart<string> = {
      start: async (name) => { throw new PortInUseError(name, `${name} could not listen`); },
      move: async () => { moved++; },
      maxMoves: 2,
      log: () => undefined,
    };
    await assert.rejects(startMovingPorts(['x'], hopeless), (error: unknown) =>
      error instanceof PortInUseError && error.node === 'x' && /x found a port of its own in use at each of 3 starts.*giving up/.test(error.message));
    assert.equal(moved, 2);
  });

  test('startMovingPorts: fixed ports make a taken port final with the reason; any other failure ends the start at once', async () => {
    const fixed: MovingStart<string> = {
      start: async (name) => { throw new PortInUseError(name, `${name} could not listen`); },
      fixed: 'its ports are fixed by plan.json',
      maxMoves: 3,
      log: () => undefined,
    };
    await assert.rejects(startMovingPorts(['x'], fixed), /^PortInUseError: x could not listen; its ports are fixed by plan\.json$/);
    let moved = false;
    const broken: MovingStart<string> = {
      start: async (name) => {
        if (name === 'bad') throw new TestnetError('bad exited (1) before it was ready');
        throw new PortInUseError(name, 'taken');
      },
      move: async () => { moved = true; },
      maxMoves: 3,
      log: () => undefined,
    };
    await assert.rejects(startMovingPorts(['bad', 'x'], broken), /bad exited \(1\)/);
    assert.equal(moved, false);
  });

  test('a failed listen (EADDRINUSE) becomes an AddressInUseError naming the address; other errors do not', () => {
    const error = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:4000'), { code: 'EADDRINUSE', address: '127.0.0.1', port: 4000 });
    const mapped = addressInUse('mix', error);
    assert.ok(mapped instanceof AddressInUseError);
    assert.equal(mapped.message, 'mix: cannot listen on 127.0.0.1:4000: the address is in use');
    assert.equal(addressInUse('mix', Object.assign(new Error('x'), { code: 'EADDRINUSE', address: '::1', port: 5 }))?.message, 'mix: cannot listen on [::1]:5: the address is in use');
    assert.equal(addressInUse('mix', Object.assign(new Error('x'), { code: 'EACCES' })), undefined);
    assert.equal(addressInUse('mix', 'EADDRINUSE'), undefined);
  });
});
