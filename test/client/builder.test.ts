import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { BuildError, makeBuilder } from '../../src/client/agent/builder.js';
import type { FragmentPacketJob, FragmentsJob, MailJob } from '../../src/client/agent/build-protocol.js';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { chunkLength, DEFAULT_FRAGMENT_PARAMS, encodeShards, openFragment, sealShard } from '../../src/e2e/fragment.js';
import { fragmentPacket, fragmentParamsFor } from '../../src/e2e/sphinx-link.js';
import { DEFAULT_GEOMETRY, Sphinx, umbraV1Suite, type PathHop } from '../../src/sphinx/index.js';
import { makeNode, type TestNode } from '../support/sphinx-nodes.js';

/**
 * The packet builder (src/client/agent/builder.ts): the worker thread and the inline builder run
 * the same jobs and, seeded alike, give the same bytes as the e2e functions called directly (the
 * erasure-coded chunks; a shard sealed with its fresh SURB inside, in a packet whose last hop is a
 * SURB-reply hop); a job that fails rejects with its message and leaves the builder usable; a
 * closed builder refuses jobs.
 */
const crypto = getCrypto('sodium');

function seeds(label: number): () => Uint8Array {
  const random = seededRandom(crypto, label);
  return () => random(32);
}

const mailJob: MailJob = {
  kind: 'mail',
  draft: { from: { name: 'Alice', address: 'alice@umbra' }, to: [{ name: 'Bob', address: 'bob@umbra' }], subject: 'Grüße', body: 'Hallo\n', dateMs: 0, messageId: 'id@umbra' },
};

function fragmentsJob(): FragmentsJob {
  const random = seededRandom(crypto, 7);
  return {
    kind: 'fragments', params: DEFAULT_FRAGMENT_PARAMS,
    frame: random(4 * chunkLength(DEFAULT_FRAGMENT_PARAMS)), dataShards: 4, shards: [0, 2, 4],
  };
}

const sphinx = new Sphinx(umbraV1Suite(crypto), DEFAULT_GEOMETRY);
const params = fragmentParamsFor(sphinx.geometry);
const nodes: TestNode[] = (() => {
  const random = seededRandom(crypto, 8);
  return Array.from({ length: 5 }, () => makeNode(crypto, random));
})();
const recipientSecret = seededRandom(crypto, 9)(32);

function packetJob(): FragmentPacketJob {
  const random = seededRandom(crypto, 10);
  const path = (order: TestNode[], last: PathHop['commands']): PathHop[] =>
    order.map((node, i) => ({ id: node.id, publicKey: node.publicKey, commands: i < order.length - 1 ? [{ type: 'delay', delayMs: 5 }] : last }));
  const dataShards = 2;
  const frame = random(dataShards * chunkLength(params));
  const { hops, userForwardPayloadLength, withSurb } = sphinx.geometry;
  return {
    kind: 'fragment-packet', backend: 'sodium', suite: sphinx.suite.name, geometry: { hops, userForwardPayloadLength, withSurb },
    path: path(nodes, [{ type: 'recipient', recipient: random(32) }, { type: 'surb-reply', surbId: random(16) }]),
    surbPath: path([...nodes].reverse(), [{ type: 'recipient', recipient: random(32) }, { type: 'surb-reply', surbId: random(16) }]),
    epoch: 7, params, recipient: crypto.x25519Base(recipientSecret), messageId: random(16), senderTag: random(16),
    dataShards, shardIndex: 0, chunk: encodeShards(params, frame, dataShards)[0],
  };
}

test('worker and inline builders give the same bytes as the e2e functions, for the same seed', async () => {
  const job = fragmentsJob();
  const shards = encodeShards(job.params, job.frame, job.dataShards);
  const direct = job.shards.map((index) => shards[index]);
  const pjob = packetJob();
  const random = seededRandom(crypto, seeds(1)());
  const { surb, decryptionToken } = sphinx.newSurb(pjob.surbPath, random);
  const sealed = sealShard(crypto, random, params, pjob.recipient, {
    messageId: pjob.messageId, senderTag: pjob.senderTag, totalDataShards: pjob.dataShards, shardIndex: 0, chunk: pjob.chunk, surb: { epoch: 7, bytes: surb },
  });
  const directPacket = fragmentPacket(sphinx, pjob.path, sealed, random);
  for (const mode of ['worker', 'inline'] as const) {
    const builder = makeBuilder(mode, seeds(1));
    builder.start();
    try {
      const built = await builder.run(pjob);
      assert.deepEqual(Buffer.from(built.packet), Buffer.from(directPacket), mode);
      assert.deepEqual(Buffer.from(built.decryptionToken), Buffer.from(decryptionToken), mode);
      const { chunks } = await builder.run(job);
      assert.deepEqual(chunks.map((f) => Buffer.from(f).toString('hex')), direct.map((f) => Buffer.from(f).toString('hex')), mode);
      const { mail, subject } = await builder.run(mailJob);
      assert.equal(subject, 'Grüße');
      assert.match(Buffer.from(mail).toString('utf8'), /^From: Alice <alice@umbra>\r\n/);
      assert.equal(builder.pending, 0);
    } finally {
      await builder.close();
    }
  }
  // The packet's payload, unwrapped to its last hop, is the shard sealed with that SURB inside.
  let result = sphinx.unwrap(nodes[0].privateKey, directPacket);
  for (let i = 1; i < nodes.length && result.kind === 'forward'; i++) result = sphinx.unwrap(nodes[i].privateKey, result.packet);
  assert.equal(result.kind, 'surb-reply');
  if (result.kind !== 'surb-reply') return;
  const opened = openFragment(crypto, params, recipientSecret, pjob.recipient, result.payload);
  assert.equal(opened.surb?.epoch, 7);
  assert.deepEqual(Buffer.from(opened.surb!.bytes), Buffer.from(surb));
});

test('a failing job rejects with its message and the worker goes on; a closed builder refuses jobs', async () => {
  const builder = makeBuilder('worker');
  try {
    await assert.rejects(builder.run({ ...fragmentsJob(), shards: [99] }), (error: unknown) => error instanceof BuildError && /shard 99/.test(error.message));
    await assert.rejects(builder.run({ ...packetJob(), shardIndex: 99 }), (error: unknown) => error instanceof BuildError && /shard 99/.test(error.message));
    const { chunks } = await builder.run(fragmentsJob());
    assert.equal(chunks.length, 3);
  } finally {
    await builder.close();
  }
  await assert.rejects(builder.run(mailJob), (error: unknown) => error instanceof BuildError && error.code === 'closed');
});
