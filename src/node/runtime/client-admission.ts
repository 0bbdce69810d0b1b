import { Admission } from '../../net/admission.js';
import type { NetMetrics } from '../../net/metrics.js';
import { WS_COUNTERS } from '../../net/websocket.js';
import type { NodeConfig } from './config.js';

/**
 * Admission for a gateway's or provider's client WebSocket listener (docs/nodes.md, "Client
 * limits"): `maxClients` in all, `maxClientsPerAddress` from one source address, the upgrade within
 * `clientHandshakeTimeoutMs`, and no more than `clientIdleTimeoutMs` without traffic. Refusals are
 * counted in ws_requests_rejected, timeouts in ws_connections_closed_by_us, by reason.
 */
export function clientAdmission(config: NodeConfig, metrics: NetMetrics): Admission {
  return new Admission({
    maxTotal: config.maxClients,
    maxPerAddress: config.maxClientsPerAddress,
    handshakeTimeoutMs: config.clientHandshakeTimeoutMs,
    idleTimeoutMs: config.clientIdleTimeoutMs,
  }, {
    onRefused: (reason) => metrics.inc(WS_COUNTERS.rejected, reason),
    onExpired: (reason) => metrics.inc(WS_COUNTERS.closed, reason),
  });
}
