import * as assert from 'node:assert/strict';
import { RequestRefusal, type RequestChannel } from '../../../src/net/request-channel.js';
import { encodePirInfo, type PirResponse, type PirSnapshotInfo } from '../../../src/wire/pir-messages.js';

/** The snapshot a provider serves for `epoch` (a pir-info request on `channel`). */
export async function info(channel: RequestChannel<PirResponse>, epoch: number): Promise<PirSnapshotInfo> {
  const response = await channel.request((id) => encodePirInfo(id, epoch));
  assert.equal(response.type, 'pir-info');
  return (response as { info: PirSnapshotInfo }).info;
}

/** The error code `promise` is refused with; fails the test when it is accepted. */
export async function refusal(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RequestRefusal, String(error));
    return error.code;
  }
  assert.fail('accepted');
}
