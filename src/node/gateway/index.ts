/**
 * The gateway (layer 0; docs/nodes.md, "Gateway"): clients send gateway frames (src/wire/gateway-frame.ts:
 * version ‖ first-hop node ID ‖ Sphinx packet) over a WebSocket on TLS 1.3 (the node's link
 * certificate, which clients pin), one binary message per frame, at most `traffic.gatewayClientRate`
 * per second per source address, however many connections it opens (token bucket, burst
 * max(4, 2 × rate)). The gateway is a forwarder, not a Sphinx hop: it hands each packet, unchanged
 * and at once, to the layer-1 mix its frame names. So any gateway carries any packet whose first
 * hop is a layer-1 mix, a SURB reply included. It answers clients nothing.
 *
 * Mixes send their own loops through gateways too (docs/network.md, "Mix loops"), so that layer 1
 * cannot tell a loop from a client's packet. A mix presents its link certificate (the gateway asks
 * every client for one and requires none): a connection with the link key of a mix of a document
 * held gets the rate limit of its own, by node, instead of sharing its source address's.
 */
import { listenWebSocket, type WebSocketListener } from '../../net/websocket.js';
import type { NodeConfig } from '../runtime/config.js';
import { gatewayFrameLength, parseGatewayFrame } from '../../wire/gateway-frame.js';
import { clientAdmission } from '../runtime/client-admission.js';
import { NodeRuntime, type NodeDeps, type NodeHandle } from '../runtime/node.js';
import { openPacketRecorder } from '../runtime/packet-record.js';
import { AddressRateLimiter, gatewayBurst } from './token-bucket.js';
import { mixRecognizer } from './mix-recognizer.js';

export { AddressRateLimiter, gatewayBurst, TokenBucket } from './token-bucket.js';

export interface GatewayHandle extends NodeHandle {
  readonly role: 'gateway';
  readonly wsPort: number;
  readonly wsUrl: string;
  /** Packets held: always 0 (a gateway forwards at once; kept for the status shape). */
  readonly scheduled: number;
  /** Open client connections. */
  readonly clients: number;
}

export async function startGateway(config: NodeConfig, deps: NodeDeps = {}): Promise<GatewayHandle> {
  const runtime = new NodeRuntime(config, deps, 'gateway');
  const { metrics, clock } = runtime;
  let ws: WebSocketListener | undefined;
  let closed = false;
  metrics.gauge('node_clients', 'Open client WebSocket connections.', () => ws?.connections ?? 0);
  // No node may link to a gateway (nothing precedes layer 0); should one get through, its packets go.
  runtime.onLinkPacket = () => metrics.drop('unexpected-link');

  const rateLimiter = new AddressRateLimiter();
  // Test networks only: every packet forwarded, by client connection (src/node/runtime/packet-record.ts).
  const recorder = openPacketRecorder(config.recordPacketsForTests, runtime.crypto);
  let connections = 0;
  const onClientPacket = (address: string, bytes: Uint8Array, connection: number): void => {
    metrics.count('node_packets_in_total');
    const now = clock.now();
    const doc = runtime.consensus.active(now);
    if (doc === undefined) return metrics.drop('no-consensus');
    const rate = doc.traffic.gatewayClientRate;
    if (!rateLimiter.take(address, now, rate, gatewayBurst(rate))) return metrics.drop('rate-limited');
    const frame = parseGatewayFrame(bytes, runtime.packetLength);
    if (typeof frame === 'string') return metrics.drop(frame);
    // peers.nextHop knows only the next layer's nodes (layer 1) of the documents held.
    const next = runtime.peers.nextHop(frame.firstHop);
    if (next === undefined) return metrics.drop('unknown-next-hop');
    if (closed) return metrics.drop('shutdown');
    const dialer = runtime.peers.dialer(next);
    const packet = frame.packet.slice();
    if (dialer === undefined) metrics.drop('unknown-next-hop');
    else if (dialer.send(packet)) {
      metrics.count('node_packets_out_total');
      if (recorder !== undefined) recorder.departure(packet, 1, recorder.arrival(packet, `c${connection}`));
    } else metrics.drop(dialer.state === 'closed' ? 'link-closed' : 'link-queue-full');
  };

  runtime.onClose(async () => {
    closed = true;
    await ws?.close();
    recorder?.close();
  });
  try {
    await runtime.listenLinks();
    ws = await listenWebSocket({
      seed: runtime.linkSeed, // clients pin the link key of the descriptor
      host: config.host,
      port: config.wsPort ?? 0,
      maxMessageBytes: gatewayFrameLength(runtime.packetLength),
      metrics: runtime.linkMetrics,
      maxConnections: config.maxClients,
      admission: clientAdmission(config, runtime.linkMetrics),
      askClientCertificate: true,
      onConnection: (conn, address, peerLinkKey) => {
        const connection = connections++;
        // A mix's loops are limited by node, not by the address it shares with others (a test network's loopback).
        const mix = mixRecognizer(peerLinkKey, () => runtime.consensus.held(), () => metrics.count('node_gateway_mix_connections_total'));
        conn.onMessage((bytes) => {
          try {
            const name = mix();
            onClientPacket(name === undefined ? address : `mix ${name}`, bytes, connection);
          } catch (error) {
            metrics.drop('internal');
            runtime.log(`gateway: packet handling failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
          }
        });
      },
    });
    const listener = ws;
    await runtime.start({ wsPort: listener.port, status: () => ({ scheduled: 0, clients: listener.connections }) });
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
    scheduled: 0,
    get clients() {
      return listener.connections;
    },
  };
}

