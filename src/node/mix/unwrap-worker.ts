/**
 * An unwrap worker thread of a mix (docs/nodes.md, "Unwrap workers"): Sphinx unwrapping of the
 * batches the main thread sends, under the secrets each batch names, with no replay filter; the
 * main thread checks every tag (src/node/runtime/hop.ts, settleOutcome).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getCrypto } from '../../crypto/index.js';
import { makeSuite, Sphinx } from '../../sphinx/index.js';
import { unwrapWithSecrets, type UnwrapOutcome } from '../runtime/hop.js';
import { encodeOutcomes, transferablesOf } from './unwrap-codec.js';
import type { UnwrapAnswer, UnwrapBatch, UnwrapWorkerData } from './unwrap-protocol.js';

const data = workerData as UnwrapWorkerData;
const sphinx = new Sphinx(makeSuite(data.suite, getCrypto(data.backend)), data.geometry);
const packetLength = sphinx.geometry.packetLength;

parentPort?.on('message', (message: UnwrapBatch) => {
  const outcomes: UnwrapOutcome[] = [];
  for (let i = 0; i < message.count; i++) {
    outcomes.push(unwrapWithSecrets(sphinx, message.secrets, message.packets.subarray(i * packetLength, (i + 1) * packetLength)));
  }
  for (const secret of message.secrets) secret.fill(0);
  const { buffer, length, bytes } = encodeOutcomes(outcomes, message.answer);
  const answer: UnwrapAnswer = { batch: message.batch, outcomes: buffer, length, bytes, packets: message.packets.buffer as ArrayBuffer };
  parentPort?.postMessage(answer, [buffer, answer.packets, ...transferablesOf(bytes)]);
});
