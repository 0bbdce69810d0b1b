import { getCrypto } from '../../crypto/index.js';
import type { RandomSource } from '../../crypto/seeded-random.js';
import { makeFragments } from '../../e2e/fragment.js';
import { makeSuite, Sphinx } from '../../sphinx/index.js';
import { buildMail } from '../mail-build.js';
import { parseMail } from '../mail-parse.js';
import type { BuildJob, BuildResult, FragmentPacketJob } from './build-protocol.js';

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
    case 'fragments':
      return {
        fragments: makeFragments(getCrypto(job.backend), random, job.params, job.recipient, job.messageId, job.senderTag, job.frame, job.dataShards, job.shards),
      };
    case 'fragment-packet':
      return fragmentPacket(job, random);
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

function fragmentPacket(job: FragmentPacketJob, random: RandomSource): BuildResult {
  const sphinx = sphinxFor(job);
  const { surb, decryptionToken } = sphinx.newSurb(job.surbPath, random);
  return { packet: sphinx.newPacket(job.path, job.fragment, random, surb), decryptionToken };
}
