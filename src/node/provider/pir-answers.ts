import type { ScanKernel } from '../../codec/pir-scan/types.js';
import type { Crypto } from '../../crypto/types.js';
import { PirError, pirAnswer } from '../../pir/index.js';
import { encodePirAnswer, encodePirInfoResponse } from '../../wire/index.js';
import type { PirReplicationSender } from './pir-replication.js';
import { StoreReadError, type PirSnapshotCache } from './pir-snapshot-cache.js';
import { RetrievalRequestError } from '../../wire/index.js';

export interface PirAnswersDeps {
  readonly crypto: Crypto;
  readonly kernel: ScanKernel;
  readonly cache: PirSnapshotCache;
  readonly sender: PirReplicationSender;
  /** Throws RetrievalRequestError('epoch-not-held') for an epoch the provider does not serve. */
  readonly checkEpoch: (epoch: number, requestId: number) => void;
}

/**
 * Clients' PIR requests (docs/network.md, "Client protocols"):
 * - pir-info(epoch): the epoch's newest snapshot, replicated to the partner before it is announced;
 * - pir-query(id, key): the XOR of the rows the DPF key selects, one row long, over any snapshot
 *   held, own or the partner's.
 */
export class PirAnswers {
  constructor(private readonly deps: PirAnswersDeps) {}

  async info(requestId: number, epoch: number): Promise<Uint8Array> {
    this.deps.checkEpoch(epoch, requestId);
    let held;
    try {
      held = await this.deps.cache.ownSnapshot(epoch);
    } catch (error) {
      // The build is shared by concurrent requests: each answers with its own request id.
      if (!(error instanceof StoreReadError)) throw error;
      throw new RetrievalRequestError(error.reply, requestId, error.reply === 'unavailable' ? 'the provider is closing' : 'the mailbox store cannot be read now; retry later');
    }
    await this.deps.sender.replicate(held, requestId);
    const { snapshotId, rows, slots, slotBytes, rowBytes } = held.snapshot;
    return encodePirInfoResponse(requestId, { epoch, snapshotId, rows, slots, slotBytes, rowBytes });
  }

  query(requestId: number, snapshotId: Uint8Array, key: Uint8Array): Uint8Array {
    const held = this.deps.cache.get(snapshotId);
    if (held === undefined) throw new RetrievalRequestError('unknown-snapshot', requestId, 'no snapshot with that id is held here (expired, or never built)');
    let answer: Uint8Array;
    try {
      answer = pirAnswer(this.deps.crypto, key, held.database, this.deps.kernel);
    } catch (error) {
      if (error instanceof PirError && (error.code === 'malformed-key' || error.code === 'domain-mismatch')) {
        throw new RetrievalRequestError('bad-key', requestId, `the DPF key does not fit a snapshot of ${held.snapshot.rows} rows (${error.code})`);
      }
      throw error;
    }
    return encodePirAnswer(requestId, answer);
  }
}
