import { getCrypto } from '../../crypto/index.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { encodeShards, sealShard, totalShards } from '../../e2e/fragment.js';
import { fragmentPacket } from '../../e2e/sphinx-link.js';
import { makeSuite, Sphinx } from '../../sphinx/index.js';
import { buildMail } from '../mail-build.js';
import { parseMail } from '../mail-parse.js';
import { sealFrameWith } from '../../e2e/frame-seal.js';
import { encodeOutgoingBody } from '../outgoing-record.js';
import { sealColumn } from '../store-seal.js';
import type { BuildJob, BuildResult, EnvelopesJob, EnvelopesResult, FragmentPacketJob, FragmentsJob } from './build-protocol.js';

/**
 * Runs one build job (build-protocol.ts). Pure: the randomness comes in; the same code runs in the
 * worker (build-worker.ts) and, for simulated time, on the caller's thread (builder.ts).
 */
export function runBuildJob(job: BuildJob, random: RandomSource): BuildResult {
  switch (job.kind) {
    case 'mail': {
      const mail = buildMail(job.draft);
      return { mail, subject: parseMail(mail).subject };
    }
    case 'envelopes':
      return envelopesOf(job);
    case 'fragments':
      return { chunks: chunksOf(job) };
    case 'fragment-packet':
      return sealedFragmentPacket(job, random);
    default:
      throw new Error(`unknown build job ${(job as { kind?: unknown }).kind as string}`);
  }
}

const sphinxes = new Map<string, Sphinx>();

function sphinxFor(job: FragmentPacketJob): Sphinx {
  const key = `${job.backend}/${job.suite}/${job.geometry.hops}/${job.geometry.userForwardPayloadLength}/${job.geometry.withSurb}`;
  let sphinx = sphinxes.get(key);
  if (sphinx === undefined) {
    sphinx = new Sphinx(makeSuite(job.suite, getCrypto(job.backend)), job.geometry);
    if (sphinxes.size >= 8) sphinxes.clear();
    sphinxes.set(key, sphinx);
  }
  return sphinx;
}

function chunksOf(job: FragmentsJob): Uint8Array[] {
  const shards = encodeShards(job.params, job.frame, job.dataShards);
  return job.shards.map((index) => {
    const chunk = shards[index];
    if (chunk === undefined) throw new RangeError(`fragment: shard ${index} of ${shards.length}`);
    return chunk.slice();
  });
}

function envelopesOf(job: EnvelopesJob): EnvelopesResult {
  const crypto = getCrypto(job.backend);
  const sentRaw = sealColumn(crypto, job.sent.seal, job.sent.mail);
  const envelopes = job.copies.flatMap(({ mail, envelopes: made }) => made.map(({ recipe, bodySeal }) => {
    const sealed = sealFrameWith(crypto, recipe, mail);
    const { messageId, recipient, senderTag, dataShards, frame, addressKey } = sealed;
    const body = sealColumn(crypto, bodySeal, encodeOutgoingBody({ messageId, recipient, senderTag, dataShards, frame, mailId: job.mailId, addressKey }));
    const chunks = encodeShards(job.params, frame, dataShards).map((chunk) => chunk.slice());
    return { frame, body, chunks };
  }));
  return { sentRaw, envelopes };
}

/** The SURB on the SURB path, the shard sealed with it inside, and the packet (its last hop a SURB-reply hop). */
function sealedFragmentPacket(job: FragmentPacketJob, random: RandomSource): BuildResult {
  if (!Number.isInteger(job.shardIndex) || job.shardIndex < 0 || job.shardIndex >= totalShards(job.params, job.dataShards)) {
    throw new RangeError(`fragment: shard ${job.shardIndex}`);
  }
  const sphinx = sphinxFor(job);
  const { surb, decryptionToken } = sphinx.newSurb(job.surbPath, random);
  const sealed = sealShard(getCrypto(job.backend), random, job.params, job.recipient, {
    messageId: job.messageId, senderTag: job.senderTag, totalDataShards: job.dataShards, shardIndex: job.shardIndex, chunk: job.chunk,
    surb: { epoch: job.epoch, bytes: surb },
  });
  return { packet: fragmentPacket(sphinx, job.path, sealed, random), decryptionToken };
}
