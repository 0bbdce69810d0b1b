/**
 * The provider, or mailbox server (layer 4; docs/nodes.md, "Provider"): the last Sphinx hop. Packets
 * from layer-3 mixes are unwrapped; a delivery is stored as `0x01 ‖ payload` and a SURB reply as
 * `0x02 ‖ SURB ID ‖ payload` under (recipient address, the provider's current epoch); drop cover
 * (recipient of 32 zero bytes) is discarded. Clients fetch a bucket or a whole epoch over a
 * WebSocket (docs/network.md, "Client protocols"). Retention deletes what is older than
 * `store.retentionMs`. A store failure is counted (and, for a fetch, answered with an error); the
 * node keeps running and what was stored stays stored.
 */
import { epochEnd } from '../../pki/index.js';
import { StoreError } from '../../store/errors.js';
import type { MailboxStore } from '../../store/mailbox.js';
import { PostgresMailboxStore } from '../../store/postgres.js';
import { SqliteMailboxStore } from '../../store/sqlite.js';
import { listenWebSocket, type WebSocketConnection, type WebSocketListener } from '../../net/websocket.js';
import type { NodeConfig } from '../runtime/config.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import { currentEpoch } from '../runtime/time.js';
import { MAX_REQUEST_BYTES } from '../../wire/message.js';
import { decodePirRequest, isPirRequest, type PirRequest } from '../../wire/pir-messages.js';
import { decodeRetrievalRequest, encodeMessagesResponse, messagesResponseBytes, type RetrievalRequest } from '../../wire/retrieval.js';
import { encodeErrorResponse, RETRIEVAL_ERRORS, RetrievalRequestError, type RetrievalErrorName } from '../../wire/retrieval-errors.js';
import { encodeStoredMessage, encodeStoredSurbReply } from '../../wire/stored-ciphertext.js';
import { PirService, type PirServiceOptions, type PirStatus } from './pir-service.js';

export type { PirServiceOptions, PirStatus } from './pir-service.js';

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

/** Requests a connection may have in flight; more are answered 'busy'. */
export const MAX_REQUESTS_IN_FLIGHT = 4;

const ZERO_ADDRESS = new Uint8Array(32);

function isZero(bytes: Uint8Array): boolean {
  let any = 0;
  for (const byte of bytes) any |= byte;
  return any === 0;
}

function storeErrorName(error: unknown): { label: string; reply: RetrievalErrorName } {
  if (error instanceof StoreError) {
    if (error.kind === 'full') return { label: 'full', reply: 'store-full' };
    if (error.kind === 'io') return { label: 'io', reply: 'store-io' };
    if (error.kind === 'closed') return { label: 'closed', reply: 'unavailable' };
    return { label: error.kind, reply: 'internal' };
  }
  return { label: 'internal', reply: 'internal' };
}

export async function startProvider(config: NodeConfig, deps: ProviderDeps = {}): Promise<ProviderHandle> {
  const runtime = new NodeRuntime(config, deps, 'provider');
  const { metrics, clock, timing, log } = runtime;
  const storeOptions = config.store as NonNullable<NodeConfig['store']>;
  const geometry = runtime.sphinx.geometry;
  let store: MailboxStore;
  try {
    // The larger of the two stored kinds: 0x02 ‖ SURB ID ‖ the whole reply payload.
    const maxCiphertextBytes = 1 + 16 + geometry.payloadLength;
    store =
      deps.store ??
      (storeOptions.postgres !== undefined
        ? await PostgresMailboxStore.open({ ...storeOptions.postgres, maxCiphertextBytes })
        : await SqliteMailboxStore.open({
            path: storeOptions.path,
            maxCiphertextBytes,
            ...(storeOptions.maxDatabaseBytes === undefined ? {} : { maxDatabaseBytes: storeOptions.maxDatabaseBytes }),
          }));
  } catch (error) {
    await runtime.close();
    throw error;
  }
  let ws: WebSocketListener | undefined;
  let closing = false;
  const lastStoreProblem = new Map<string, string>();
  const storeFailed = (operation: string, error: unknown): RetrievalErrorName => {
    const { label, reply } = storeErrorName(error);
    metrics.count('node_store_errors_total', { operation, kind: label });
    // Log a failure once per operation until it changes (a full disk repeats on every packet).
    if (lastStoreProblem.get(operation) !== label) {
      lastStoreProblem.set(operation, label);
      log(`provider: mailbox store ${operation} failed (${label})${label === 'internal' && error instanceof Error ? `: ${error.message}` : ''}`);
    }
    return reply;
  };
  const storeRecovered = (operation: string): void => {
    if (lastStoreProblem.delete(operation)) log(`provider: mailbox store ${operation} works again`);
  };

  // --- Packets from layer 3 ----------------------------------------------------------------------
  const deliver = (address: Uint8Array, ciphertext: Uint8Array, kind: 'message' | 'surb-reply'): void => {
    const now = clock.now();
    const epoch = currentEpoch(now, timing);
    if (epoch < 0) return metrics.drop('no-epoch');
    store.deliver(address, epoch, ciphertext, now).then(
      () => {
        metrics.count('node_packets_delivered_total', { kind });
        storeRecovered('deliver');
      },
      (error: unknown) => {
        const reply = storeFailed('deliver', error);
        metrics.drop(reply === 'store-full' ? 'store-full' : reply === 'store-io' ? 'store-io' : 'store-error');
      },
    );
  };
  runtime.onLinkPacket = (packet) => {
    const result = runtime.unwrap(packet);
    if (result === undefined) return;
    if (result.kind === 'forward') return metrics.drop('not-last-hop');
    if (result.recipient === undefined) return metrics.drop('no-recipient');
    if (isZero(result.recipient)) return metrics.drop('cover');
    if (result.kind === 'deliver') deliver(result.recipient, encodeStoredMessage(result.payload), 'message');
    else deliver(result.recipient, encodeStoredSurbReply(result.surbId, result.payload), 'surb-reply');
  };

  // --- Client retrieval --------------------------------------------------------------------------
  const checkEpoch = (epoch: number, requestId: number): void => {
    const now = clock.now();
    if (epoch > currentEpoch(now, timing)) throw new RetrievalRequestError('epoch-not-held', requestId, 'that epoch has not begun');
    if (epochEnd(epoch, timing) <= now - storeOptions.retentionMs) {
      throw new RetrievalRequestError('epoch-not-held', requestId, "that epoch is past this provider's retention");
    }
  };
  const pir = new PirService(
    {
      crypto: runtime.crypto,
      clock,
      timing,
      nodeId: runtime.nodeId,
      identitySeed: runtime.identitySeed,
      store,
      capacity: 1 + 16 + geometry.payloadLength,
      maxResponseBytes: config.maxResponseBytes,
      consensus: runtime.consensus,
      metrics,
      log,
      checkEpoch,
      storeFailed: (error) => storeFailed('fetch', error),
      storeRecovered: () => storeRecovered('fetch'),
    },
    deps.pir,
  );
  const serve = async (request: RetrievalRequest): Promise<Uint8Array> => {
    checkEpoch(request.epoch, request.requestId);
    let messages;
    try {
      messages = request.type === 'bucket' ? await store.fetchBucket(request.epoch, request.bucket, request.buckets) : await store.fetchEpoch(request.epoch);
      storeRecovered('fetch');
    } catch (error) {
      const reply = storeFailed('fetch', error);
      throw new RetrievalRequestError(reply, request.requestId, reply === 'unavailable' ? 'the provider is closing' : 'the mailbox store cannot be read now; retry later');
    }
    if (messagesResponseBytes(messages.map((m) => m.ciphertext.length)) > config.maxResponseBytes) {
      throw new RetrievalRequestError('too-large', request.requestId, 'the answer exceeds the largest response; fetch with more buckets');
    }
    return encodeMessagesResponse(request.requestId, messages);
  };
  const refuse = (conn: WebSocketConnection, error: RetrievalRequestError): void => {
    metrics.count('node_retrieval_errors_total', { code: error.code });
    conn.send(encodeErrorResponse(error.requestId, RETRIEVAL_ERRORS[error.code], error.message));
  };
  const onConnection = (conn: WebSocketConnection): void => {
    let inFlight = 0;
    conn.onMessage((bytes) => {
      let request: RetrievalRequest | PirRequest;
      try {
        request = isPirRequest(bytes) ? decodePirRequest(bytes) : decodeRetrievalRequest(bytes);
      } catch (error) {
        if (error instanceof RetrievalRequestError) return refuse(conn, error);
        return refuse(conn, new RetrievalRequestError('internal', 0, 'internal error'));
      }
      metrics.count('node_retrieval_requests_total', { type: request.type });
      if (closing) return refuse(conn, new RetrievalRequestError('unavailable', request.requestId, 'the provider is closing'));
      if (inFlight >= MAX_REQUESTS_IN_FLIGHT || conn.bufferedAmount > config.maxResponseBytes) {
        return refuse(conn, new RetrievalRequestError('busy', request.requestId, `at most ${MAX_REQUESTS_IN_FLIGHT} requests in flight per connection`));
      }
      inFlight++;
      (request.type === 'bucket' || request.type === 'epoch' ? serve(request) : pir.serve(request))
        .then(
          (response) => {
            conn.send(response);
          },
          (error: unknown) => {
            if (error instanceof RetrievalRequestError) return refuse(conn, error);
            log(`provider: a fetch failed: ${error instanceof Error ? error.message : String(error)}`);
            refuse(conn, new RetrievalRequestError('internal', request.requestId, 'internal error'));
          },
        )
        .finally(() => {
          inFlight--;
        });
    });
  };

  // --- Retention ---------------------------------------------------------------------------------
  const retentionEveryMs = Math.max(1000, Math.min(3_600_000, config.epochMs, Math.floor(storeOptions.retentionMs / 8)));
  let retentionTimer: unknown;
  const runRetention = async (): Promise<number> => {
    try {
      const deleted = await store.deleteBefore(Math.max(0, clock.now() - storeOptions.retentionMs));
      metrics.count('node_retention_deleted_total', {}, deleted);
      storeRecovered('retention');
      return deleted;
    } catch (error) {
      storeFailed('retention', error);
      return 0;
    }
  };
  const armRetention = (): void => {
    retentionTimer = clock.setTimer(() => {
      retentionTimer = undefined;
      if (closing) return;
      void runRetention().finally(() => {
        if (!closing) armRetention();
      });
    }, retentionEveryMs);
  };

  metrics.count('node_packets_delivered_total', { kind: 'message' }, 0);
  metrics.count('node_packets_delivered_total', { kind: 'surb-reply' }, 0);
  metrics.gauge('node_clients', 'Open client WebSocket connections.', () => ws?.connections ?? 0);
  runtime.onClose(async () => {
    closing = true;
    if (retentionTimer !== undefined) clock.clearTimer(retentionTimer);
    pir.close();
    await ws?.close();
  });
  runtime.onClose(() => store.close());
  try {
    await runtime.listenLinks();
    ws = await listenWebSocket({
      host: config.host,
      port: config.wsPort ?? 0,
      maxMessageBytes: MAX_REQUEST_BYTES,
      metrics: runtime.linkMetrics,
      maxConnections: config.maxClients,
      onConnection,
    });
    const listener = ws;
    await runtime.start({ wsPort: listener.port, status: () => ({ clients: listener.connections }) });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  await runRetention();
  armRetention();
  const handle = runtime.handle();
  const listener = ws;
  return {
    ...handle,
    role: 'provider',
    wsPort: listener.port,
    wsUrl: handle.wsUrl as string,
    store,
    get clients() {
      return listener.connections;
    },
    runRetention,
    pirStatus: () => pir.status(),
  };
}

export { ZERO_ADDRESS as COVER_ADDRESS };
