import { hexOf } from '../../codec/bytes.js';
import { connectWebSocket, type WebSocketConnection } from '../../net/websocket.js';
import type { NodeDescriptor } from '../../pki/index.js';
import { encodeGatewayFrame } from '../../wire/gateway-frame.js';

/**
 * Where a mix's loops enter the network (docs/network.md, "Mix loops"): a gateway, over the same
 * WebSocket and gateway frames as clients use, so that the layer-1 mix receives a loop as it
 * receives a client's packet. The mix presents its link certificate, so that the gateway limits
 * its rate by node rather than by source address. One connection per gateway, opened on first use;
 * packets given while it opens wait (at most PENDING_LIMIT), and are lost with it if it fails
 * (the loops' deadlines then count them lost, against the gateway among others).
 */
export const PENDING_LIMIT = 16;
const CONNECT_TIMEOUT_MS = 10_000;
/** A gateway sends nothing back; anything longer than this closes the connection. */
const MAX_MESSAGE_BYTES = 1024;

interface Entry {
  conn?: WebSocketConnection;
  pending: Uint8Array[];
  connecting: boolean;
}

export class LoopEntry {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    /** The mix's link seed: its certificate is presented to the gateway. */
    private readonly linkSeed: Uint8Array,
    private readonly log: (line: string, level?: 'warn') => void,
  ) {}

  /** Sends `packet` (first hop `firstHop`) through `gateway`; false when it can be neither sent nor held. */
  send(gateway: NodeDescriptor, firstHop: Uint8Array, packet: Uint8Array): boolean {
    if (this.closed || gateway.addresses.ws === undefined) return false;
    const frame = encodeGatewayFrame({ firstHop, packet });
    const key = hexOf(gateway.nodeId);
    const entry = this.entries.get(key) ?? { pending: [], connecting: false };
    this.entries.set(key, entry);
    if (entry.conn?.isOpen === true) return entry.conn.send(frame);
    if (entry.pending.length >= PENDING_LIMIT) return false;
    entry.pending.push(frame);
    if (!entry.connecting) this.open(gateway, entry);
    return true;
  }

  close(): void {
    this.closed = true;
    for (const entry of this.entries.values()) entry.conn?.close();
    this.entries.clear();
  }

  private open(gateway: NodeDescriptor, entry: Entry): void {
    entry.connecting = true;
    const target = { url: `wss://${gateway.addresses.ws}`, linkKey: gateway.linkPublicKey };
    connectWebSocket(target, { maxMessageBytes: MAX_MESSAGE_BYTES, timeoutMs: CONNECT_TIMEOUT_MS, clientSeed: this.linkSeed }).then(
      (conn) => {
        entry.connecting = false;
        if (this.closed) return conn.close();
        entry.conn = conn;
        conn.onMessage(() => undefined);
        conn.onClose(() => {
          if (entry.conn === conn) entry.conn = undefined;
        });
        for (const frame of entry.pending.splice(0)) conn.send(frame);
      },
      (error: unknown) => {
        entry.connecting = false;
        entry.pending.length = 0;
        if (!this.closed) this.log(`mix: loops cannot enter through ${gateway.name}: ${error instanceof Error ? error.message : String(error)}`, 'warn');
      },
    );
  }
}
