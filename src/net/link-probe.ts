import { connect } from 'node:tls';
import { parseHostPort } from '../pki/index.js';
import { clientContext } from './client-context.js';
import { measureThroughput } from './throughput-probe.js';
import { linkKeyOf, sameLinkKey, type TlsIdentity } from './tls-identity.js';

/**
 * A directory authority's liveness probe of a node (docs/network.md, "Authority probes"): TLS 1.3
 * to the link address of the node's descriptor, presenting the authority's certificate, and
 * answered when the node presents exactly the link key its descriptor pins. The connection is
 * closed at once; no frame is sent. A throughput probe asks for bytes on the same connection
 * instead of closing it (throughput-probe.ts). Nodes recognise an authority's key and close such a
 * connection quietly (`isProber` of listenLinks).
 */
export type ProbeOutcome = 'answered' | 'unreachable' | 'timeout' | 'pin-mismatch';

export interface LinkProbeTarget {
  /** The descriptor's link address, "host:port". */
  readonly address: string;
  /** The 32-byte link key the node's certificate must carry. */
  readonly linkKey: Uint8Array;
}

/** What a probe found, and with `chunks`, the node's throughput to the authority in bytes per second. */
export interface ProbeResult {
  readonly outcome: ProbeOutcome;
  /** Set when a throughput probe was asked for, answered, and timed (throughput-probe.ts). */
  readonly bytesPerSec?: number;
}

/** Never rejects; `signal` cuts the probe short ('unreachable'). */
export async function probeLink(target: LinkProbeTarget, identity: Pick<TlsIdentity, 'key' | 'cert'>, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  return (await probeNode(target, identity, timeoutMs, signal)).outcome;
}

/**
 * The liveness probe, and when `chunks` is given, the throughput probe after it on the same
 * connection (src/net/throughput-probe.ts), bounded by `timeoutMs` again. Never rejects.
 */
export function probeNode(target: LinkProbeTarget, identity: Pick<TlsIdentity, 'key' | 'cert'>, timeoutMs: number, signal?: AbortSignal, chunks?: number): Promise<ProbeResult> {
  const hostPort = parseHostPort(target.address);
  if (hostPort === undefined || signal?.aborted === true) return Promise.resolve({ outcome: 'unreachable' });
  return new Promise<ProbeResult>((resolve) => {
    let settled = false;
    const socket = connect({ ...hostPort, secureContext: clientContext(identity), rejectUnauthorized: false }); // pinned below
    const settle = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      if (outcome !== 'answered') {
        resolve({ outcome });
        clearTimeout(timer);
        socket.destroy();
        return;
      }
      if (chunks === undefined) {
        resolve({ outcome });
        socket.end();
        return;
      }
      clearTimeout(timer);
      socket.removeAllListeners('close');
      void measureThroughput(socket, chunks, timeoutMs).then((bytesPerSec) => resolve(bytesPerSec === undefined ? { outcome } : { outcome, bytesPerSec }));
    };
    // After an answer the node closes the connection once it has read the end of the handshake;
    // closing first would make it count a failed handshake. The timer still bounds the wait.
    const timer = setTimeout(() => {
      settle('timeout');
      socket.destroy();
    }, timeoutMs);
    const abort = (): void => settle('unreachable');
    signal?.addEventListener('abort', abort);
    socket.on('error', () => settle('unreachable'));
    socket.on('close', () => {
      clearTimeout(timer);
      settle('unreachable');
    });
    socket.once('secureConnect', () => {
      const presented = linkKeyOf(socket.getPeerX509Certificate());
      settle(presented !== undefined && sameLinkKey(presented, target.linkKey) ? 'answered' : 'pin-mismatch');
    });
  });
}
