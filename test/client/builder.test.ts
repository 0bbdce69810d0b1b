import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { BuildError, makeBuilder } from '../../src/client/agent/builder.js';
import type { FragmentsJob, MailJob } from '../../src/client/agent/build-protocol.js';
import { getCrypto, seededRandom } from '../../src/crypto/index.js';
import { DEFAULT_FRAGMENT_PARAMS, makeFragments } from '../../src/e2e/fragment.js';

/**
 * The packet builder (src/client/agent/builder.ts): the worker thread and the inline builder run
 * the same jobs and, seeded alike, give the same bytes as the e2e functions called directly; a job
 * that fails rejects with its message and leaves the builder usable; a closed builder refuses jobs.
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
    kind: 'fragments', backend: 'sodium', params: DEFAULT_FRAGMENT_PARAMS,
    recipient: crypto.x25519Base(random(32)), messageId: random(16), senderTag: random(16),
    frame: random(4 * (DEFAULT_FRAGMENT_PARAMS.fragmentLength - 89)), dataShards: 4, shards: [0, 2, 4],
  };
}

test('worker and inline builders give the same bytes as the e2e functions, for the same seed', async () => {
  const job = fragmentsJob();
  const direct = makeFragments(crypto, seededRandom(crypto, seeds(1)()), job.params, job.recipient, job.messageId, job.senderTag, job.frame, job.dataShards, job.shards);
  for (const mode of ['worker', 'inline'] as const) {
    const builder = makeBuilder(mode, seeds(1));
    builder.start();
    try {
      const { fragments } = await builder.run(job);
      assert.deepEqual(fragments.map((f) => Buffer.from(f).toString('hex')), direct.map((f) => Buffer.from(f).toString('hex')), mode);
      const { mail, subject } = await builder.run(mailJob);
      assert.equal(subject, 'Grüße');
      assert.match(Buffer.from(mail).toString('utf8'), /^From: Alice <alice@umbra>\r\n/);
      assert.equal(builder.pending, 0);
    } finally {
      await builder.close();
    }
  }
});

test('a failing job rejects with its message and the worker goes on; a closed builder refuses jobs', async () => {
  const builder = makeBuilder('worker');
  try {
    await assert.rejects(builder.run({ ...fragmentsJob(), shards: [99] }), (error: unknown) => error instanceof BuildError && /shard 99/.test(error.message));
    const { fragments } = await builder.run(fragmentsJob());
    assert.equal(fragments.length, 3);
  } finally {
    await builder.close();
  }
  await assert.rejects(builder.run(mailJob), (error: unknown) => error instanceof BuildError && error.code === 'closed');
});
