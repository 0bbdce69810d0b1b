/**
 * The gateway (layer 0; docs/nodes.md, "Gateway"): clients send Sphinx packets over a WebSocket on
 * TLS 1.3 (the node's link certificate, which clients pin), one binary message per packet, at most
 * `traffic.gatewayClientRate` per second per source address, however many connections it opens
 * (token bucket, burst max(4, 2 × rate)); the gateway is the first Sphinx hop and forwards to layer
 * 1 exactly as a mix does. It answers clients nothing.
 */
import { listenWebSocket, type WebSocketListener } from '../../net/websocket.js';
import type { NodeConfig } from '../runtime/config.js';
import { clientAdmission } from '../runtime/client-admission.js';
import { Forwarder } from '../runtime/hop.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import { AddressRateLimiter, gatewayBurst } from './token-bucket.js';

export { AddressRateLimiter, gatewayBurst, TokenBucket } from './token-bucket.js';

export interface GatewayHandle extends NodeHandle {
  readonly role: 'gateway';
  readonly wsPort: number;
  readonly wsUrl: string;
  /** Packets waiting in the mixing schedule. */
  readonly scheduled: number;
  /** Open client connections. */
  readonly clients: number;
}

export async function startGateway(config: NodeConfig, deps: NodeDeps = {}): Promise<GatewayHandle> {
  const runtime = new NodeRuntime(config, deps, 'gateway');
  const { metrics, clock } = runtime;
  const forwarder = new Forwarder({
    clock,
    peers: runtime.peers,
    consensus: runtime.consensus,
    metrics,
    capacity: config.scheduleCapacity,
  });
  let ws: WebSocketListener | undefined;
  metrics.gauge('node_schedule_depth', 'Packets held in the mixing schedule.', () => forwarder.depth);
  metrics.gauge('node_clients', 'Open client WebSocket connections.', () => ws?.connections ?? 0);
  // No node may link to a gateway (nothing precedes layer 0); should one get through, its packets go.
  runtime.onLinkPacket = () => metrics.drop('unexpected-link');

  const rateLimiter = new AddressRateLimiter();
  const onClientPacket = (address: string, bytes: Uint8Array): void => {
    metrics.count('node_packets_in_total');
    const now = clock.now();
    const doc = runtime.consensus.active(now);
    if (doc === undefined) return metrics.drop('no-consensus');
    const rate = doc.traffic.gatewayClientRate;
    if (!rateLimiter.take(address, now, rate, gatewayBurst(rate))) return metrics.drop('rate-limited');
    const result = runtime.unwrap(bytes);
    if (result === undefined) return;
    if (result.kind !== 'forward') return metrics.drop('not-forward');
    forwarder.forward(result);
  };

  runtime.onClose(async () => {
    await ws?.close();
    forwarder.close();
  });
  try {
    await runtime.listenLinks();
    ws = await listenWebSocket({
      seed: runtime.linkSeed, // clients pin the link key of the descriptor
      host: config.host,
      port: config.wsPort ?? 0,
      maxMessageBytes: runtime.packetLength,
      metrics: runtime.linkMetrics,
      maxConnections: config.maxClients,
      admission: clientAdmission(config, runtime.linkMetrics),
      onConnection: (conn, address) => {
        conn.onMessage((bytes) => {
          try {
            onClientPacket(address, bytes);
          } catch (error) {
            metrics.drop('internal');
            runtime.log(`gateway: packet handling failed: ${error instanceof Error ? error.message : String(error)}`);
          }
        });
      },
    });
    const listener = ws;
    await runtime.start({ wsPort: listener.port, status: () => ({ scheduled: forwarder.depth, clients: listener.connections }) });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const handle = runtime.handle();
  const listener = ws;
  return {
    ...handle,
    role: 'gateway',
    wsPort: listener.port,
    wsUrl: handle.wsUrl as string,
    get scheduled() {
      return forwarder.depth;
    },
    get clients() {
      return listener.connections;
    },
  };
}
