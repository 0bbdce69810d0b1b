import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

// The test runs from dist/test/cli; the command is the built dist/src/cli/main.js.
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const PACKAGE = fileURLToPath(new URL('../../../package.json', import.meta.url));

function umbra(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

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

function demoJson(...args: string[]): Report {
  const { status, stdout, stderr } = umbra('demo', '--json', ...args);
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

describe('umbra demo', () => {
  it('--seed 7 --json: the message and the reply arrive through 5 hops', () => {
    const report = demoJson('--seed', '7');
    assert.equal(report.suite, 'umbra-v1');
    assert.equal(report.backend, 'sodium');
    assert.equal(report.seed, 7);
    assertDelivered(report, 5);
  });

  it('is reproducible with a seed and random without one', () => {
    assert.deepEqual(withoutTimings(demoJson('--seed', '7')), withoutTimings(demoJson('--seed', '7')));
    assert.notEqual(demoJson('--seed', '8').forward.hops[0].nodeId, demoJson('--seed', '7').forward.hops[0].nodeId);
    const unseeded = demoJson();
    assert.equal(unseeded.seed, null);
    assertDelivered(unseeded, 5);
  });

  for (const suite of ['umbra-v1', 'katzenpost-x25519']) {
    for (const backend of ['sodium', 'noble']) {
      it(`works with --suite ${suite} --backend ${backend}`, () => {
        const report = demoJson('--seed', '7', '--suite', suite, '--backend', backend);
        assert.equal(report.suite, suite);
        assert.equal(report.backend, backend);
        assertDelivered(report, 5);
      });
    }
  }

  it('both backends produce the same packets for the same seed', () => {
    const sodium = withoutTimings(demoJson('--seed', '7', '--backend', 'sodium')) as Record<string, unknown>;
    const noble = withoutTimings(demoJson('--seed', '7', '--backend', 'noble')) as Record<string, unknown>;
    assert.deepEqual({ ...noble, backend: 'sodium' }, sodium);
  });

  it('--hops sets the path length; shorter paths keep the 5-hop packet size', () => {
    const three = demoJson('--seed', '7', '--hops', '3');
    assertDelivered(three, 3);
    assert.equal(three.geometry.packetLength, demoJson('--seed', '7').geometry.packetLength);
    assertDelivered(demoJson('--seed', '7', '--hops', '1'), 1);
    assertDelivered(demoJson('--seed', '7', '--hops', '8'), 8);
  });

  it('prints tables a person can read, without message text at intermediate hops', () => {
    const { status, stdout, stderr } = umbra('demo', '--seed', '7');
    assert.equal(status, 0, stderr);
    assert.match(stdout, /Bob reads: +"Hello Bob!/);
    assert.match(stdout, /Alice reads: +"Hi Alice,/);
    assert.match(stdout, /All \d+ checks passed\./);
    const hopRows = stdout.split('\n').filter((line) => /^\s+\d+\s+[0-9a-f]{8}\s+\d+\s/.test(line));
    assert.equal(hopRows.length, 10);
    for (const row of hopRows) assert.doesNotMatch(row, /Hello|Alice,/);
  });
});

describe('umbra command line', () => {
  it('an unknown command exits 2 with one line on stderr', () => {
    const { status, stdout, stderr } = umbra('frobnicate');
    assert.equal(status, 2);
    assert.equal(stdout, '');
    assert.match(stderr, /^umbra: unknown command 'frobnicate'/);
    assert.equal(stderr.trimEnd().split('\n').length, 1, 'one line, no stack trace');
  });

  for (const args of [['demo', '--bogus'], ['demo', '--hops', '0'], ['demo', '--hops'], ['demo', '--suite', 'rot13'], ['demo', '--seed', '-1'], ['demo', 'extra']]) {
    it(`bad options exit 2: umbra ${args.join(' ')}`, () => {
      const { status, stdout, stderr } = umbra(...args);
      assert.equal(status, 2);
      assert.equal(stdout, '');
      assert.match(stderr, /^umbra: /);
      assert.equal(stderr.trimEnd().split('\n').length, 1, 'one line, no stack trace');
    });
  }

  it('help and version', () => {
    for (const args of [['help'], ['--help'], []]) {
      const { status, stdout } = umbra(...args);
      assert.equal(status, 0);
      assert.match(stdout, /umbra demo/);
    }
    const manifest = JSON.parse(readFileSync(PACKAGE, 'utf8')) as { version: string };
    for (const args of [['version'], ['--version']]) {
      const { status, stdout } = umbra(...args);
      assert.equal(status, 0);
      assert.equal(stdout, `umbra ${manifest.version}\n`);
    }
  });
});
