import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { hexOf, toBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { uploadDescriptor } from '../../src/net/authority-client.js';
import { startAuthority, validateAuthorityConfig } from '../../src/node/authority/index.js';
import { encodeDescriptor, epochStart } from '../../src/pki/index.js';
import { FakeClock } from '../node/authority/fake-clock.js';
import { makeFixtureNetwork, testSeed } from '../pki/network-fixture.js';

/**
 * `umbra consensus` (docs/nodes.md, "What the network says of a node"): against a real authority,
 * whose probes measured one node below what it declares, and the mistakes a user can make.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const crypto = getCrypto();
const EPOCH_MS = 60_000;
// Genesis just behind the wall clock, so that epoch 1's document is valid now for the command's check.
const GENESIS = Date.now() - 1000;
const authoritySeed = testSeed(crypto, 'consensus command authority');
const authorityKey = toBase64Url(crypto.ed25519PublicKey(authoritySeed));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the built command without blocking this process's event loop (the authority answers it). */
function umbra(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('umbra consensus shows each node\'s declared and measured bandwidth and score, from a verified document', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'umbra-consensus-cli-'));
  dirs.push(dataDir);
  const clock = new FakeClock(GENESIS + 100);
  const slow = 'net-mix-2-1';
  const config = validateAuthorityConfig({
    identitySeed: toBase64Url(authoritySeed), authorities: [authorityKey], genesisMs: GENESIS, epochMs: EPOCH_MS,
    dataDir, openAdmission: true, probeIntervalMs: 0,
  });
  const network0 = makeFixtureNetwork(crypto, { epoch: 0 });
  const slowHex = hexOf(network0.find((node) => node.descriptor.name === slow)!.descriptor.nodeId);
  const authority = await startAuthority(config, {
    clock,
    probe: async (node, _signal, measure) => ({ outcome: 'answered', ...(measure ? { packetsPerSec: hexOf(node.nodeId) === slowHex ? 250 : 50_000 } : {}) }),
  });
  try {
    const target = { url: authority.url, keys: [crypto.ed25519PublicKey(authoritySeed)] };
    for (const node of [...network0, ...makeFixtureNetwork(crypto, { epoch: 1 })]) await uploadDescriptor(target, encodeDescriptor(node.descriptor));
    await authority.probeRound();
    clock.advanceTo(epochStart(1, { genesisMs: GENESIS, epochMs: EPOCH_MS }) - EPOCH_MS / 4);

    const json = await umbra('consensus', '--authority', authority.url, '--authority-key', authorityKey, '--epoch', '1', '--json');
    assert.equal(json.status, 0, json.stderr);
    const shown = JSON.parse(json.stdout) as { epoch: number; floor: number; signatures: number; nodes: { name: string; declared: number; measured: number; bandwidth: number; score: number; belowFloor: boolean }[] };
    assert.equal(shown.epoch, 1);
    assert.equal(shown.signatures, 1);
    assert.equal(shown.nodes.length, network0.length);
    const row = (name: string) => shown.nodes.find((node) => node.name === name)!;
    assert.deepEqual({ ...row(slow), family: undefined }, { ...row(slow), declared: 1000, measured: 250, bandwidth: 250, score: 1000, belowFloor: false, family: undefined });
    assert.deepEqual([row('net-gateway-0').measured, row('net-gateway-0').bandwidth], [50_000, 1000], 'measured above the declaration: the declaration counts');

    const text = await umbra('consensus', '--authority', authority.url, '--authority-key', authorityKey, '--epoch', '1');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^epoch 1: 9 nodes, reliability floor \d+, signed by 1 authority\n/);
    assert.match(text.stdout, /net-mix-2-1 +mix +2 .* 1000 +250 +250 +1000\n/);

    // A document the authority does not have, and one that a key it was not signed by is asked to verify.
    const none = await umbra('consensus', '--authority', authority.url, '--authority-key', authorityKey, '--epoch', '9');
    assert.deepEqual([none.status, none.stderr], [1, 'umbra: consensus: the authority has no document for epoch 9\n']);
    const stranger = toBase64Url(crypto.ed25519PublicKey(testSeed(crypto, 'someone else')));
    const unpinned = await umbra('consensus', '--authority', authority.url, '--authority-key', stranger, '--epoch', '1');
    assert.equal(unpinned.status, 1);
    assert.match(unpinned.stderr, /^umbra: consensus: no document from https:\/\/127\.0\.0\.1:\d+: .+\n$/);
  } finally {
    await authority.close();
  }
});

test('umbra consensus: each mistake is one line and exit code 2; an authority that is not there, one line and 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'umbra-consensus-cli-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'network.json'), '{"authority": {}}');
  const mistakes: [string[], RegExp][] = [
    [[], /give either --dir D .* or --authority URL with --authority-key KEY/],
    [['--authority', 'https://127.0.0.1:1'], /--authority needs --authority-key/],
    [['--authority', 'http://127.0.0.1:1', '--authority-key', authorityKey], /must be an https:\/\/ URL/],
    [['--authority', 'https://127.0.0.1:1', '--authority-key', 'short'], /an authority key is 43 base64url characters, not 'short'/],
    [['--dir', join(dir, 'nowhere')], /no .*nowhere\/network\.json \(the --dir of 'umbra up'\)/],
    [['--dir', dir], /network\.json names no authority URL and keys/],
    [['--dir', dir, '--epoch', 'soon'], /option '--epoch' must be a whole number/],
    [['--dir', dir, '--colour'], /unknown option '--colour'/],
  ];
  for (const [args, message] of mistakes) {
    const result = await umbra('consensus', ...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
  }
  const absent = await umbra('consensus', '--authority', 'https://127.0.0.1:1', '--authority-key', authorityKey);
  assert.equal(absent.status, 1);
  assert.match(absent.stderr, /^umbra: consensus: no document from https:\/\/127\.0\.0\.1:1: .+\n$/);
});
