import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ClientError, initClient, startClient, type ClientAgent, type ClientEvent } from '../../src/client/index.js';
import { closedAfterTests, FAST_KDF, SimNet, tempDir, TEST_NETWORK_POLICY } from './support.js';

/**
 * An agent started while its provider is missing from the consensus (a real authority and real
 * providers on a fake clock): it says so and takes the next epoch's document, which lists the
 * provider again, instead of failing to start; a provider missing from every document it tries
 * still fails the start with 'no-provider'. Without the retry (the first document decides), the
 * first test fails with 'no-provider'.
 */
const { nets, agents } = closedAfterTests();

const EPOCH_MS = 8000;

/** A network whose second provider is alice's server, and a promise of alice's first 'consensus' error event. */
async function setUp(label: string): Promise<{ sim: SimNet; provider: string; start: () => { agent: Promise<ClientAgent>; refused: Promise<ClientEvent> } }> {
  const sim = await SimNet.start({ label, providers: 2, epochMs: EPOCH_MS, traffic: { clientSendRate: 1, loopRate: 0, dropRate: 0 } });
  nets.push(sim);
  const dir = join(tempDir(), 'alice');
  const passphrase = 'alice passphrase';
  await initClient(dir, { name: 'alice', passphrase, authority: sim.authoritySettings, servers: [sim.providerWs(1)], kdf: FAST_KDF, pollsPerEpoch: 1, ...TEST_NETWORK_POLICY });
  const provider = sim.nodes.filter((node) => node.role === 'provider')[1].name;
  const start = () => {
    let refusedEvent: (event: ClientEvent) => void = () => undefined;
    const refused = new Promise<ClientEvent>((resolve) => (refusedEvent = resolve));
    const onEvent = (event: ClientEvent): void => {
      if (event.type === 'error' && event.where === 'consensus') refusedEvent(event);
    };
    const agent = startClient(dir, passphrase, { clock: sim.clock, onEvent });
    void agent.then((a) => agents.push(a), () => undefined);
    return { agent, refused };
  };
  return { sim, provider, start };
}

test('a provider missing from the first consensus: the agent waits for the next epoch\'s, which lists it, and starts', async () => {
  const { sim, provider, start } = await setUp('first-consensus');
  // Withdrawn during epoch k (k + 1's descriptor is uploaded already): the document of k + 2 lacks it.
  sim.withdrawn.add(provider);
  await sim.advance(EPOCH_MS, 250);
  // Back during k + 1, before k + 2 starts: its descriptor for k + 3 is uploaded at k + 2.
  sim.withdrawn.delete(provider);
  await sim.advance(EPOCH_MS, 250);
  const missingEpoch = sim.epoch;
  const { agent, refused } = start();
  const first = await Promise.race([refused, agent.then(() => 'started without a document listing its provider', (error: unknown) => error)]);
  assert.ok(typeof first === 'object' && first !== null && 'type' in first, `no waiting event; the start ended with: ${String(first)}`);
  const event = first as ClientEvent;
  assert.ok(event.type === 'error' && /is a provider of the consensus of epoch \d+; trying the next epoch's/.test(event.message), JSON.stringify(event));
  await sim.advance(EPOCH_MS, 250);
  const started = await agent;
  assert.ok(started.status().consensusEpoch > missingEpoch, 'started on a later document');
  await started.close();
});

test('a provider missing from every document tried: the start fails with no-provider', async () => {
  const { sim, provider, start } = await setUp('first-consensus-gone');
  sim.withdrawn.add(provider);
  await sim.advance(2 * EPOCH_MS, 250);
  const { agent, refused } = start();
  await Promise.race([refused, agent.catch(() => undefined)]);
  const outcome = agent.then(() => 'started', (error: unknown) => error);
  // Three documents tried (the first and two retries), one epoch apart.
  for (let step = 0; step < 4 && !(await Promise.race([outcome.then(() => true), Promise.resolve(false)])); step++) await sim.advance(EPOCH_MS, 250);
  const error = await outcome;
  assert.ok(error instanceof ClientError && error.code === 'no-provider', String(error));
});
