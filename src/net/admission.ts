import { isIPv6 } from 'node:net';
import type { Socket } from 'node:net';

/**
 * Admission of TCP connections on a public listener (docs/links.md, "Admission"): at most
 * `maxPerAddress` open connections from one source address, at most `maxTotal` from strangers in
 * all, a deadline for the handshake (TLS, or the WebSocket upgrade) and an idle timeout once the
 * connection is established. A refused or expired socket is destroyed at once.
 *
 * Addresses listed by `isReserved` (the adjacent layer's nodes, from the consensus) draw on their
 * own pool of `reservedPerAddress` slots each, which strangers cannot fill. A socket that turns out
 * to be a pinned peer after its handshake is `promote`d: it leaves the strangers' counts, so pinned
 * links never count against strangers and strangers never take a pinned peer's slot.
 *
 * IPv6 sources are counted per /64 (one host usually owns a whole /64); IPv4-mapped IPv6 addresses
 * as IPv4.
 */
export interface AdmissionLimits {
  /** Open connections from one source address (or IPv6 /64), handshaking or established. */
  readonly maxPerAddress: number;
  /** Open connections from strangers in all. */
  readonly maxTotal: number;
  /** A connection not established within this time is destroyed. */
  readonly handshakeTimeoutMs: number;
  /** An established connection with no traffic either way for this long is destroyed; undefined: none. */
  readonly idleTimeoutMs?: number;
  /** Slots per reserved address (default 8). */
  readonly reservedPerAddress?: number;
}

export type AdmissionRefusal = 'too-many-connections' | 'too-many-from-address';
export type AdmissionExpiry = 'handshake-timeout' | 'idle-timeout';

export interface AdmissionEvents {
  /** Called when a connection is refused (and destroyed). */
  readonly onRefused?: (reason: AdmissionRefusal) => void;
  /** Called when a connection is destroyed for a timeout. */
  readonly onExpired?: (reason: AdmissionExpiry) => void;
  /** Whether this source address belongs to a pinned peer (reserved slots). */
  readonly isReserved?: (address: string) => boolean;
}

interface Tracked {
  readonly socket: Socket;
  readonly endpoint: string;
  readonly address: string;
  pool: 'stranger' | 'reserved' | 'promoted';
  deadline: NodeJS.Timeout | undefined;
}

export const ADMISSION_DEFAULTS = Object.freeze({ reservedPerAddress: 8 });

/** The key a source address is counted under: IPv4 as is, IPv6 by its /64 prefix. */
export function addressKey(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress);
  if (mapped !== null) return mapped[1];
  if (!isIPv6(remoteAddress)) return remoteAddress;
  const [head, tail = ''] = remoteAddress.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = remoteAddress.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

function endpointOf(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

function checkPositive(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

export class Admission {
  private readonly tracked = new Map<Socket, Tracked>();
  /** The same entries by `address|port`, to find the TCP socket under a TLS socket. */
  private readonly byEndpoint = new Map<string, Tracked>();
  private readonly perAddress = new Map<string, number>();
  private readonly reservedPerAddress = new Map<string, number>();
  private strangers = 0;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly events: AdmissionEvents = {},
  ) {
    checkPositive('maxPerAddress', limits.maxPerAddress);
    checkPositive('maxTotal', limits.maxTotal);
    checkPositive('handshakeTimeoutMs', limits.handshakeTimeoutMs);
    checkPositive('idleTimeoutMs', limits.idleTimeoutMs);
    checkPositive('reservedPerAddress', limits.reservedPerAddress);
  }

  /** Open connections from strangers (not reserved, not promoted). */
  get strangerConnections(): number {
    return this.strangers;
  }

  /** Open connections counted under `remoteAddress`'s key (strangers only). */
  connectionsFrom(remoteAddress: string): number {
    return this.perAddress.get(addressKey(remoteAddress)) ?? 0;
  }

  /** Counts a new connection and arms its handshake deadline; false (socket destroyed) when refused. */
  admit(socket: Socket): boolean {
    const address = addressKey(socket.remoteAddress);
    const reserved = this.events.isReserved?.(address) === true;
    const refusal = reserved ? this.reservedRefusal(address) : this.strangerRefusal(address);
    if (refusal !== undefined) {
      socket.on('error', () => undefined);
      socket.destroy();
      this.events.onRefused?.(refusal);
      return false;
    }
    const endpoint = endpointOf(socket);
    const entry: Tracked = { socket, endpoint, address, pool: reserved ? 'reserved' : 'stranger', deadline: undefined };
    this.add(entry, 1);
    entry.deadline = setTimeout(() => this.expire(socket, 'handshake-timeout'), this.limits.handshakeTimeoutMs);
    entry.deadline.unref();
    this.tracked.set(socket, entry);
    this.byEndpoint.set(endpoint, entry);
    socket.once('close', () => this.forget(socket));
    return true;
  }

  /**
   * The handshake succeeded: clears the deadline and arms the idle timeout. `socket` is the
   * admitted one or a TLS socket over it.
   */
  established(socket: Socket): void {
    const entry = this.find(socket);
    if (entry === undefined) return;
    clearTimeout(entry.deadline);
    entry.deadline = undefined;
    const idle = this.limits.idleTimeoutMs;
    if (idle !== undefined) {
      entry.socket.setTimeout(idle);
      entry.socket.on('timeout', () => this.expire(entry.socket, 'idle-timeout'));
    }
  }

  /** The socket (or the TLS socket over it) is a pinned peer: it leaves the strangers' counts. */
  promote(socket: Socket): void {
    const entry = this.find(socket);
    if (entry === undefined || entry.pool === 'promoted') return;
    this.add(entry, -1);
    entry.pool = 'promoted';
  }

  private find(socket: Socket): Tracked | undefined {
    return this.tracked.get(socket) ?? this.byEndpoint.get(endpointOf(socket));
  }

  private strangerRefusal(address: string): AdmissionRefusal | undefined {
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxPerAddress) return 'too-many-from-address';
    if (this.strangers >= this.limits.maxTotal) return 'too-many-connections';
    return undefined;
  }

  private reservedRefusal(address: string): AdmissionRefusal | undefined {
    const cap = this.limits.reservedPerAddress ?? ADMISSION_DEFAULTS.reservedPerAddress;
    return (this.reservedPerAddress.get(address) ?? 0) >= cap ? 'too-many-from-address' : undefined;
  }

  private add(entry: Tracked, delta: 1 | -1): void {
    if (entry.pool === 'promoted') return;
    const counts = entry.pool === 'reserved' ? this.reservedPerAddress : this.perAddress;
    const next = (counts.get(entry.address) ?? 0) + delta;
    if (next <= 0) counts.delete(entry.address);
    else counts.set(entry.address, next);
    if (entry.pool === 'stranger') this.strangers += delta;
  }

  private expire(socket: Socket, reason: AdmissionExpiry): void {
    if (!this.tracked.has(socket)) return;
    this.forget(socket);
    socket.destroy();
    this.events.onExpired?.(reason);
  }

  private forget(socket: Socket): void {
    const entry = this.tracked.get(socket);
    if (entry === undefined) return;
    this.tracked.delete(socket);
    if (this.byEndpoint.get(entry.endpoint) === entry) this.byEndpoint.delete(entry.endpoint);
    clearTimeout(entry.deadline);
    this.add(entry, -1);
  }
}
