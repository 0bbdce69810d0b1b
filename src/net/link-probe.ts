import { connect } from 'node:tls';
import { parseHostPort } from '../pki/index.js';
import { TLS_VERSIONS } from './link-settings.js';
import { linkKeyOf, sameLinkKey, type TlsIdentity } from './tls-identity.js';

/**
 * A directory authority's liveness probe of a node (docs/network.md, "Authority probes"): TLS 1.3
 * to the link address of the node's descriptor, presenting the authority's certificate, and
 * answered when the node presents exactly the link key its descriptor pins. The connection is
 * closed at once; no frame is sent. Nodes recognise an authority's key and close such a
 * connection quietly (`isProber` of listenLinks).
 */
export type ProbeOutcome = 'answered' | 'unreachable' | 'timeout' | 'pin-mismatch';

export interface LinkProbeTarget {
  /** The descriptor's link address, "host:port". */
  readonly address: string;
  /** The 32-byte link key the node's certificate must carry. */
  readonly linkKey: Uint8Array;
}

/** Never rejects; `signal` cuts the probe short ('unreachable'). */
export function probeLink(target: LinkProbeTarget, identity: Pick<TlsIdentity, 'key' | 'cert'>, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  const hostPort = parseHostPort(target.address);
  if (hostPort === undefined || signal?.aborted === true) return Promise.resolve('unreachable');
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    const socket = connect({ ...hostPort, key: identity.key, cert: identity.cert, ...TLS_VERSIONS, rejectUnauthorized: false }); // pinned below
    const settle = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      resolve(outcome);
      if (outcome !== 'answered') {
        clearTimeout(timer);
        socket.destroy();
      }
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
      socket.end();
    });
  });
}
