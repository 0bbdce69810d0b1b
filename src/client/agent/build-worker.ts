import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { getCrypto } from '../../crypto/index.js';
import { seededRandom, systemRandom } from '../../crypto/seeded-random.js';
import { runBuildJob } from './build-jobs.js';
import { transferablesOf, type BuildRequest, type BuildResponse } from './build-protocol.js';

/**
 * The packet builder's thread (builder.ts starts it): runs each job it is sent, one at a time, in
 * order, and answers with the result (its buffers transferred, not copied). It holds no state
 * between jobs and no secret but what a job carries.
 */
const port = parentPort;
if (port === null) throw new Error('build-worker.ts runs as a worker thread');
const osRandom = systemRandom(getCrypto('sodium'));

// On a busy machine the event loop that times the slots must win the CPU over the builder: this
// thread runs at a lower priority (on Linux the nice value is per thread; elsewhere this may lower
// the process's, or be refused, which changes nothing else).
try {
  if (process.platform === 'linux') setPriority(10);
} catch {
  // not allowed here: the builder runs at the default priority
}

port.on('message', (request: BuildRequest) => {
  let response: BuildResponse;
  try {
    const random = request.seed === undefined ? osRandom : seededRandom(getCrypto('sodium'), request.seed);
    const result = runBuildJob(request.job, random);
    response = { id: request.id, ok: true, result };
    port.postMessage(response, transferablesOf(result));
  } catch (error) {
    const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
    response = { id: request.id, ok: false, message: error instanceof Error ? error.message : String(error), ...(code === undefined ? {} : { code }) };
    port.postMessage(response);
  }
});
