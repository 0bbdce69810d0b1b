import { epochEnd } from '../../pki/index.js';
import type { MailboxStore } from '../../store/mailbox.js';
import { clientAdmission } from '../runtime/client-admission.js';
import { listenWebSocket, type WebSocketConnection, type WebSocketListener } from '../../net/websocket.js';
import type { NodeConfig } from '../runtime/config.js';
import type { NodeRuntime } from '../runtime/node.js';
import { epochAt } from '../../pki/index.js';
import {
  decodeRetrievalRequest,
  encodeErrorResponse,
  encodeMessagesResponse,
  messagesResponseBytes,
  MAX_REQUEST_BYTES,
  RETRIEVAL_ERRORS,
  RetrievalRequestError,
  type RetrievalRequest,
} from '../../wire/index.js';
import { decodePirRequest, isPirRequest, type PirRequest } from '../../wire/index.js';
import { PirService, type PirServiceOptions, type PirStatus } from './pir-service.js';
import type { StoreFailures } from './store-failures.js';

/** Requests a connection may have in flight; more are answered 'busy'. */
export const MAX_REQUESTS_IN_FLIGHT = 4;

export interface ClientRetrievalDeps {
  readonly runtime: NodeRuntime;
  readonly config: NodeConfig;
  readonly store: MailboxStore;
  readonly failures: StoreFailures;
  /** The largest stored ciphertext (a PIR slot's capacity). */
  readonly maxCiphertextBytes: number;
  readonly pir?: PirServiceOptions;
}

/**
 * Clients' fetches over the provider's WebSocket (docs/network.md, "Client protocols"): a bucket
 * or a whole epoch straight from the store, or a PIR request handed to the PirService (which
 * also takes the partner provider's snapshot transfers on this listener). Every refusal is an
 * error response with the request's id; a connection has at most MAX_REQUESTS_IN_FLIGHT.
 */
export class ClientRetrieval {
  private readonly pir: PirService;
  private readonly retentionMs: number;
  private listener: WebSocketListener | undefined;
  private closing = false;

  constructor(private readonly deps: ClientRetrievalDeps) {
    const { runtime, config, store, failures } = deps;
    this.retentionMs = (config.store as NonNullable<NodeConfig['store']>).retentionMs;
    this.pir = new PirService(
      {
        crypto: runtime.crypto,
        clock: runtime.clock,
        timing: runtime.timing,
        nodeId: runtime.nodeId,
        identitySeed: runtime.identitySeed,
        store,
        capacity: deps.maxCiphertextBytes,
        maxResponseBytes: config.maxResponseBytes,
        consensus: runtime.consensus,
        metrics: runtime.metrics,
        log: runtime.log,
        checkEpoch: this.checkEpoch,
        storeFailed: (error) => failures.failed('fetch', error),
        storeRecovered: () => failures.recovered('fetch'),
      },
      deps.pir,
    );
  }

  /** Open client connections. */
  get connections(): number {
    return this.listener?.connections ?? 0;
  }

  pirStatus(): PirStatus {
    return this.pir.status();
  }

  /** Listens for clients on `config.wsPort` (0 or unset: a free port). */
  async listen(): Promise<WebSocketListener> {
    const { runtime, config } = this.deps;
    this.listener = await listenWebSocket({
      seed: runtime.linkSeed, // TLS only: clients and the partner pin the link key of the descriptor
      host: config.host,
      port: config.wsPort ?? 0,
      maxMessageBytes: MAX_REQUEST_BYTES,
      metrics: runtime.linkMetrics,
      maxConnections: config.maxClients,
      admission: clientAdmission(config, runtime.linkMetrics),
      onConnection: this.onConnection,
    });
    return this.listener;
  }

  /** Refuses further requests and closes the listener. */
  async close(): Promise<void> {
    this.closing = true;
    this.pir.close();
    await this.listener?.close();
  }

  /** Throws 'epoch-not-held' for an epoch that has not begun or is past retention. */
  private readonly checkEpoch = (epoch: number, requestId: number): void => {
    const { clock, timing } = this.deps.runtime;
    const now = clock.now();
    if (epoch > epochAt(now, timing)) throw new RetrievalRequestError('epoch-not-held', requestId, 'that epoch has not begun');
    if (epochEnd(epoch, timing) <= now - this.retentionMs) {
      throw new RetrievalRequestError('epoch-not-held', requestId, "that epoch is past this provider's retention");
    }
  };

  private readonly onConnection = (conn: WebSocketConnection): void => {
    const { metrics, log } = this.deps.runtime;
    const maxResponseBytes = this.deps.config.maxResponseBytes;
    let inFlight = 0;
    conn.onClose(() => this.pir.connectionClosed(conn));
    conn.onMessage((bytes) => {
      let request: RetrievalRequest | PirRequest;
      try {
        request = isPirRequest(bytes) ? decodePirRequest(bytes) : decodeRetrievalRequest(bytes);
      } catch (error) {
        if (error instanceof RetrievalRequestError) return this.refuse(conn, error);
        return this.refuse(conn, new RetrievalRequestError('internal', 0, 'internal error'));
      }
      metrics.count('node_retrieval_requests_total', { type: request.type });
      if (this.closing) return this.refuse(conn, new RetrievalRequestError('unavailable', request.requestId, 'the provider is closing'));
      if (inFlight >= MAX_REQUESTS_IN_FLIGHT || conn.bufferedAmount > maxResponseBytes) {
        return this.refuse(conn, new RetrievalRequestError('busy', request.requestId, `at most ${MAX_REQUESTS_IN_FLIGHT} requests in flight per connection`));
      }
      inFlight++;
      (request.type === 'bucket' || request.type === 'epoch' ? this.fetch(request) : this.pir.serve(request, conn))
        .then(
          (response) => {
            conn.send(response);
          },
          (error: unknown) => {
            if (error instanceof RetrievalRequestError) return this.refuse(conn, error);
            log(`provider: a fetch failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
            this.refuse(conn, new RetrievalRequestError('internal', request.requestId, 'internal error'));
          },
        )
        .finally(() => {
          inFlight--;
        });
    });
  };

  /**
   * A bucket or a whole epoch, read from the store. Refused with 'pir-only' unless the consensus
   * in force says bucket or download retrieval: in PIR mode (or with no consensus held) nobody may
   * read a mailbox by its address in the clear.
   */
  private async fetch(request: RetrievalRequest): Promise<Uint8Array> {
    const { store, failures, config, runtime } = this.deps;
    const retrieval = runtime.consensus.active()?.retrieval;
    if (retrieval !== 'bucket' && retrieval !== 'download') {
      throw new RetrievalRequestError('pir-only', request.requestId, 'this network retrieves mailboxes by PIR only: no bucket or epoch is served in the clear');
    }
    this.checkEpoch(request.epoch, request.requestId);
    let messages;
    try {
      messages = request.type === 'bucket' ? await store.fetchBucket(request.epoch, request.bucket, request.buckets) : await store.fetchEpoch(request.epoch);
      failures.recovered('fetch');
    } catch (error) {
      const reply = failures.failed('fetch', error);
      throw new RetrievalRequestError(reply, request.requestId, reply === 'unavailable' ? 'the provider is closing' : 'the mailbox store cannot be read now; retry later');
    }
    if (messagesResponseBytes(messages.map((m) => m.ciphertext.length)) > config.maxResponseBytes) {
      throw new RetrievalRequestError('too-large', request.requestId, 'the answer exceeds the largest response; fetch with more buckets');
    }
    return encodeMessagesResponse(request.requestId, messages);
  }

  private refuse(conn: WebSocketConnection, error: RetrievalRequestError): void {
    this.deps.runtime.metrics.count('node_retrieval_errors_total', { code: error.code });
    conn.send(encodeErrorResponse(error.requestId, RETRIEVAL_ERRORS[error.code], error.message));
  }
}
