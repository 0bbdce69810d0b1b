import type { FrameError } from './frames.js';

/**
 * What both ends of a node-to-node link share (docs/links.md): defaults, counter names, the
 * reasons a connection is refused or ends, and the keepalive timing.
 */
export const LINK_DEFAULTS = Object.freeze({
  host: '127.0.0.1',
  /** Largest frame `length` accepted (type byte + body). */
  maxFrameBytes: 16 * 1024,
  keepaliveMs: 15_000,
  idleTimeoutMs: 60_000,
  handshakeTimeoutMs: 10_000,
  maxConnections: 1024,
  maxConnectionsPerAddress: 8,
  maxQueuedPackets: 1024,
  reconnectInitialMs: 100,
  reconnectMaxMs: 30_000,
});

/** Names of the counters this module increments (reasons in docs/links.md). */
export const LINK_COUNTERS = Object.freeze({
  accepted: 'connections_accepted',
  rejected: 'connections_rejected',
  disconnected: 'peers_disconnected',
  received: 'packets_received',
  sent: 'packets_sent',
  dropped: 'packets_dropped',
  handlerErrors: 'packet_handler_errors',
  dials: 'dial_attempts',
  probed: 'probes_answered',
  measured: 'throughput_probes_answered',
});

/** Why a connection was refused before it carried any packet. */
export type RejectReason = 'handshake-failed' | 'no-certificate' | 'not-ed25519' | 'unknown-peer' | 'pin-mismatch' | 'too-many-connections' | 'too-many-from-address';

/** Why an established link ended. */
export type DisconnectReason =
  | FrameError['reason'] | 'unexpected-packet' | 'idle-timeout' | 'peer-closed' | 'socket-error' | 'shutdown';

/** Keepalive and idle timeout of a framed connection, in milliseconds. */
export interface LinkTiming {
  readonly keepaliveMs: number;
  readonly idleTimeoutMs: number;
}

/** TLS 1.3 only, on both ends. */
export const TLS_VERSIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

/** `value` when it is a positive number; RangeError naming the option otherwise. */
export function positive(name: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name} must be positive, got ${value}`);
  return value;
}

/** The timing an end's options ask for, with the defaults filled in. */
export function linkTiming(options: { readonly keepaliveMs?: number; readonly idleTimeoutMs?: number }): LinkTiming {
  return {
    keepaliveMs: positive('keepaliveMs', options.keepaliveMs ?? LINK_DEFAULTS.keepaliveMs),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs ?? LINK_DEFAULTS.idleTimeoutMs),
  };
}
