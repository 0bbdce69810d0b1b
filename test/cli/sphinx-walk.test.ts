import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { umbra } from './run-umbra.js';

interface Hop {
  hop: number;
  nodeId: string;
  packetLength: number;
  action: string;
  nextHop?: string;
  delayMs?: number;
  recipient?: string;
  surbId?: string;
  replayTag: string;
  payloadOut?: string;
  unwrapMs: number;
}
interface Leg {
  hops: Hop[];
  sent: string;
  read: string | null;
  arrived: boolean;
}
interface Report {
  ok: boolean;
  suite: string;
  backend: string;
  seed: number | null;
  pathLength: number;
  geometry: { packetLength: number; headerLength: number; payloadLength: number };
  alice: { recipientId: string; surbId: string };
  bob: { recipientId: string };
  forward: Leg;
  reply: Leg;
  checks: { name: string; ok: boolean }[];
}

function walkJson(...args: string[]): Report {
  const { status, stdout, stderr } = umbra('sphinx-walk', '--json', ...args);
  assert.equal(status, 0, `exit code (stderr: ${stderr})`);
  assert.equal(stderr, '');
  return JSON.parse(stdout) as Report;
}

function assertDelivered(report: Report, pathLength: number): void {
  assert.equal(report.ok, true);
  assert.ok(report.checks.length > 0 && report.checks.every((c) => c.ok), JSON.stringify(report.checks));
  assert.equal(report.pathLength, pathLength);
  for (const leg of [report.forward, report.reply]) {
    assert.equal(leg.arrived, true);
    assert.equal(leg.read, leg.sent);
    assert.equal(leg.hops.length, pathLength, 'one entry per hop');
    assert.deepEqual(leg.hops.map((h) => h.hop), Array.from({ length: pathLength }, (_, i) => i + 1));
    for (const hop of leg.hops) assert.equal(hop.packetLength, report.geometry.packetLength, 'same packet length at every hop');
    assert.equal(report.geometry.packetLength, report.geometry.headerLength + report.geometry.payloadLength);
    // Every hop but the last forwards to the next one listed.
    for (let i = 0; i < pathLength - 1; i++) {
      assert.equal(leg.hops[i].action, 'forward');
      assert.equal(leg.hops[i].nextHop, leg.hops[i + 1].nodeId);
      assert.ok(Number.isInteger(leg.hops[i].delayMs));
    }
  }
  const lastForward = report.forward.hops[pathLength - 1];
  assert.equal(lastForward.action, 'deliver');
  assert.equal(lastForward.recipient, report.bob.recipientId);
  const lastReply = report.reply.hops[pathLength - 1];
  assert.equal(lastReply.action, 'surb-reply');
  assert.equal(lastReply.recipient, report.alice.recipientId);
  assert.equal(lastReply.surbId, report.alice.surbId);
  // The reply travels the forward path backwards.
  assert.deepEqual(report.reply.hops.map((h) => h.nodeId), report.forward.hops.map((h) => h.nodeId).reverse());
}

/** A report without its timings, which are the only part a seed does not fix. */
function withoutTimings(report: Report): unknown {
  const strip = (leg: Leg) => ({ ...leg, hops: leg.hops.map(({ unwrapMs: _, ...hop }) => hop) });
  return { ...report, forward: strip(report.forward), reply: strip(report.reply) };
}

describe('umbra sphinx-walk', () => {
  it('--seed 7 --json: the message and the reply arrive through 5 hops', () => {
    const report = walkJson('--seed', '7');
    assert.equal(report.suite, 'umbra-v1');
    assert.equal(report.backend, 'sodium');
    assert.equal(report.seed, 7);
    assertDelivered(report, 5);
  });

  it('is reproducible with a seed and random without one', () => {
    assert.deepEqual(withoutTimings(walkJson('--seed', '7')), withoutTimings(walkJson('--seed', '7')));
    assert.notEqual(walkJson('--seed', '8').forward.hops[0].nodeId, walkJson('--seed', '7').forward.hops[0].nodeId);
    const unseeded = walkJson();
    assert.equal(unseeded.seed, null);
    assertDelivered(unseeded, 5);
  });

  for (const suite of ['umbra-v1', 'katzenpost-x25519']) {
    for (const backend of ['sodium', 'noble']) {
      it(`works with --suite ${suite} --backend ${backend}`, () => {
        const report = walkJson('--seed', '7', '--suite', suite, '--backend', backend);
        assert.equal(report.suite, suite);
        assert.equal(report.backend, backend);
        assertDelivered(report, 5);
      });
    }
  }

  it('both backends produce the same packets for the same seed', () => {
    const sodium = withoutTimings(walkJson('--seed', '7', '--backend', 'sodium')) as Record<string, unknown>;
    const noble = withoutTimings(walkJson('--seed', '7', '--backend', 'noble')) as Record<string, unknown>;
    assert.deepEqual({ ...noble, backend: 'sodium' }, sodium);
  });

  it('--hops sets the path length; shorter paths keep the 5-hop packet size', () => {
    const three = walkJson('--seed', '7', '--hops', '3');
    assertDelivered(three, 3);
    assert.equal(three.geometry.packetLength, walkJson('--seed', '7').geometry.packetLength);
    assertDelivered(walkJson('--seed', '7', '--hops', '1'), 1);
    assertDelivered(walkJson('--seed', '7', '--hops', '8'), 8);
  });

  it('prints tables a person can read, without message text at intermediate hops', () => {
    const { status, stdout, stderr } = umbra('sphinx-walk', '--seed', '7');
    assert.equal(status, 0, stderr);
    assert.match(stdout, /Bob reads: +"Hello Bob!/);
    assert.match(stdout, /Alice reads: +"Hi Alice,/);
    assert.match(stdout, /All \d+ checks passed\./);
    const hopRows = stdout.split('\n').filter((line) => /^\s+\d+\s+[0-9a-f]{8}\s+\d+\s/.test(line));
    assert.equal(hopRows.length, 10);
    for (const row of hopRows) assert.doesNotMatch(row, /Hello|Alice,/);
  });

  for (const args of [['--bogus'], ['--hops', '0'], ['--hops'], ['--suite', 'rot13'], ['--seed', '-1'], ['extra']]) {
    it(`bad options exit 2: umbra sphinx-walk ${args.join(' ')}`, () => {
      const { status, stdout, stderr } = umbra('sphinx-walk', ...args);
      assert.equal(status, 2);
      assert.equal(stdout, '');
      assert.match(stderr, /^umbra: /);
      assert.equal(stderr.trimEnd().split('\n').length, 1, 'one line, no stack trace');
    });
  }

  it('--help prints the help', () => {
    const { status, stdout } = umbra('sphinx-walk', '--help');
    assert.equal(status, 0);
    assert.match(stdout, /Options for sphinx-walk:/);
  });
});
