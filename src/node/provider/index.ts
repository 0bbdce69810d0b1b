/**
 * The provider, or mailbox server (layer 4; docs/nodes.md, "Provider"): the last Sphinx hop. Its
 * parts: delivery of packets from layer-3 mixes into the mailbox store (delivery.ts), clients'
 * fetches over a WebSocket, by bucket, epoch or PIR (retrieval.ts, pir-service.ts), mix loops sent
 * back to their mixes (a Forwarder, as at a mix), and expiry
 * after `store.retentionMs` (retention.ts). A store failure is counted (and, for a fetch,
 * answered with an error); the node keeps running and what was stored stays stored.
 */
import type { MailboxStore } from '../../store/mailbox.js';
import { PostgresMailboxStore } from '../../store/postgres.js';
import { SqliteMailboxStore } from '../../store/sqlite.js';
import type { NodeConfig } from '../runtime/config.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import { MailboxDelivery } from './delivery.js';
import { Forwarder } from '../runtime/hop.js';
import { openPacketRecorder } from '../runtime/packet-record.js';
import type { PirServiceOptions, PirStatus } from './pir-service.js';
import { MailboxRetention } from './retention.js';
import { ClientRetrieval } from './retrieval.js';
import { StoreFailures } from './store-failures.js';

export type { PirServiceOptions, PirStatus } from './pir-service.js';
export { COVER_ADDRESS } from './delivery.js';
export { MAX_REQUESTS_IN_FLIGHT } from './retrieval.js';

export interface ProviderDeps extends NodeDeps {
  /**
   * A mailbox store to use instead of opening SQLite at `config.store.path` (tests use it to
   * inject failures). The provider owns it: close() closes it.
   */
  readonly store?: MailboxStore;
  /** PIR retrieval tuning (docs/pir.md, "Mailbox retrieval"); every field has a default. */
  readonly pir?: PirServiceOptions;
}

export interface ProviderHandle extends NodeHandle {
  readonly role: 'provider';
  readonly wsPort: number;
  readonly wsUrl: string;
  readonly store: MailboxStore;
  /** Open client connections. */
  readonly clients: number;
  /** Runs retention now (the timer does it too); resolves to the number of messages deleted. */
  runRetention(): Promise<number>;
  /** PIR snapshots held, built, replicated and received. */
  pirStatus(): PirStatus;
}

export async function startProvider(config: NodeConfig, deps: ProviderDeps = {}): Promise<ProviderHandle> {
  const runtime = new NodeRuntime(config, deps, 'provider');
  const storeOptions = config.store as NonNullable<NodeConfig['store']>;
  // The larger of the two stored kinds: 0x02 ‖ SURB ID ‖ the whole reply payload.
  const maxCiphertextBytes = 1 + 16 + runtime.sphinx.geometry.payloadLength;
  let store: MailboxStore;
  try {
    store = deps.store ?? (await openMailboxStore(storeOptions, maxCiphertextBytes));
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const { metrics, clock, log } = runtime;
  const failures = new StoreFailures(metrics, log);
  const retrieval = new ClientRetrieval({ runtime, config, store, failures, maxCiphertextBytes, pir: deps.pir });
  const recorder = openPacketRecorder(config.recordPacketsForTests, runtime.crypto);
  const loopReturns = new Forwarder({ clock, peers: runtime.peers, consensus: runtime.consensus, metrics, capacity: config.scheduleCapacity });
  const delivery = new MailboxDelivery(runtime, store, failures, (result) => loopReturns.forward(result), recorder);
  runtime.onClose(() => {
    loopReturns.close();
    recorder?.close();
  });
  const retention = new MailboxRetention({ store, clock, metrics, failures, retentionMs: storeOptions.retentionMs, epochMs: config.epochMs });
  runtime.onLinkPacket = delivery.onPacket;
  metrics.gauge('node_clients', 'Open client WebSocket connections.', () => retrieval.connections);
  runtime.onClose(async () => {
    retention.stop();
    await retrieval.close();
  });
  runtime.onClose(() => store.close());
  let wsPort: number;
  try {
    await runtime.listenLinks();
    const listener = await retrieval.listen();
    wsPort = listener.port;
    await runtime.start({ wsPort, status: () => ({ clients: listener.connections }) });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  await retention.run();
  retention.start();
  const handle = runtime.handle();
  return {
    ...handle,
    role: 'provider',
    wsPort,
    wsUrl: handle.wsUrl as string,
    store,
    get clients() {
      return retrieval.connections;
    },
    runRetention: retention.run,
    pirStatus: () => retrieval.pirStatus(),
  };
}

/** PostgreSQL when `store.postgres` is configured, else SQLite at `store.path`. */
function openMailboxStore(options: NonNullable<NodeConfig['store']>, maxCiphertextBytes: number): Promise<MailboxStore> {
  if (options.postgres !== undefined) return PostgresMailboxStore.open({ ...options.postgres, maxCiphertextBytes });
  return SqliteMailboxStore.open({
    path: options.path,
    maxCiphertextBytes,
    ...(options.maxDatabaseBytes === undefined ? {} : { maxDatabaseBytes: options.maxDatabaseBytes }),
  });
}
