/**
 * The TLS under client WebSockets (docs/links.md, "WebSocket"): a `wss://` target names the server's
 * address and the Ed25519 link key its descriptor in the consensus publishes; `dialPinnedTls` opens
 * TLS 1.3 to it and accepts the connection only when the server's certificate carries exactly that
 * key (the same pinning as node-to-node links; no CA). A client presents no certificate, a node may
 * present its link certificate (a mix's loops enter through a gateway: docs/network.md, "Mix loops").
 * A different key is a LinkKeyMismatchError, raised before a single byte of the application is written.
 */
import { connect, type TLSSocket } from 'node:tls';
import { hexOf } from '../codec/bytes.js';
import { clientContext } from './client-context.js';
import { linkKeyOf, sameLinkKey, type TlsIdentity } from './tls-identity.js';

/** Where a client WebSocket goes and whom it must find there. */
export interface WebSocketTarget {
  /** "wss://host:port" (the descriptor's WebSocket address). */
  readonly url: string;
  /** The raw 32-byte Ed25519 link key the server's certificate must carry. */
  readonly linkKey: Uint8Array;
}

/** The server at `url` presented another key than the one pinned: the connection was refused. */
export class LinkKeyMismatchError extends Error {
  constructor(
    readonly url: string,
    /** Hex of the pinned key. */
    readonly expected: string,
    /** Hex of the key presented, or undefined when the certificate had no Ed25519 key. */
    readonly presented: string | undefined,
  ) {
    super(
      `${url} presented ${presented === undefined ? 'no Ed25519 link key' : `link key ${presented.slice(0, 16)}…`} but the consensus pins ` +
        `${expected.slice(0, 16)}… for it: connection refused (a wrong server, or someone in the middle)`,
    );
    this.name = 'LinkKeyMismatchError';
  }
}

/** A target that is not a `wss://host:port` URL with a 32-byte key. */
export class WebSocketTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebSocketTargetError';
  }
}

/** The host (without IPv6 brackets) and port of a `wss://host:port` URL. */
export function targetAddress(target: WebSocketTarget): { host: string; port: number } {
  let url: URL;
  try {
    url = new URL(target.url);
  } catch {
    throw new WebSocketTargetError(`not a URL: ${target.url}`);
  }
  if (url.protocol !== 'wss:') throw new WebSocketTargetError(`client WebSockets are TLS only (wss://), got ${target.url}`);
  if (url.port === '') throw new WebSocketTargetError(`${target.url} names no port`);
  if (!(target.linkKey instanceof Uint8Array) || target.linkKey.length !== 32) {
    throw new WebSocketTargetError(`the link key pinned for ${target.url} must be 32 bytes`);
  }
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) };
}

/**
 * Opens TLS 1.3 to the target and resolves with the socket once the server's certificate carries the
 * pinned key; rejects with LinkKeyMismatchError when it does not, Error on a timeout or a failed connect.
 */
export function dialPinnedTls(target: WebSocketTarget, timeoutMs: number, localAddress?: string, identity?: TlsIdentity): Promise<TLSSocket> {
  const { host, port } = targetAddress(target);
  const expected = new Uint8Array(target.linkKey);
  const address = { url: target.url, host, port, ...(localAddress === undefined ? {} : { localAddress }), ...(identity === undefined ? {} : { identity }) };
  return dialTlsPinned(address, timeoutMs, (presented) =>
    presented !== undefined && sameLinkKey(presented, expected) ? undefined : new LinkKeyMismatchError(target.url, hexOf(expected), presented === undefined ? undefined : hexOf(presented)));
}

/** Where `dialTlsPinned` goes: `url` only names it in errors. */
export interface TlsAddress {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string;
  /** A certificate to present (a node's link certificate); none by default. */
  readonly identity?: TlsIdentity;
}

/**
 * Opens TLS 1.3 (no CA: the certificate is self-signed) and hands the Ed25519 key of the server's
 * certificate (undefined when it has none) to `refusal`: the socket is resolved when it returns
 * undefined, destroyed and the returned error rejected otherwise, before a byte of the application is
 * written. Error on a timeout or a failed connect.
 */
export function dialTlsPinned(address: TlsAddress, timeoutMs: number, refusal: (presented: Uint8Array | undefined) => Error | undefined): Promise<TLSSocket> {
  const { host, port, localAddress, identity } = address;
  return new Promise<TLSSocket>((resolve, reject) => {
    const socket = connect({ host, port, ...(localAddress === undefined ? {} : { localAddress }), secureContext: clientContext(identity), rejectUnauthorized: false }); // self-signed: pinned below
    socket.setNoDelay(true);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`${address.url}: no TLS connection within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      socket.on('error', () => undefined); // from here the protocol above reports errors
      const error = refusal(linkKeyOf(socket.getPeerX509Certificate()));
      if (error !== undefined) {
        socket.destroy();
        reject(error);
        return;
      }
      resolve(socket);
    });
  });
}
