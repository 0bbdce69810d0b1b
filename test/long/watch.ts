/**
 * What the long delivery tests watch over `umbra up`: every client event of every user, each with
 * when it came (waits resolve on events, with limits in real time that only end a stuck test), and
 * an observer of one user's mailbox links (the WebSocket messages to and from the providers, each
 * message's size, as someone on those links counts them), cut into one window per poll.
 */
import type { ClientEvent } from '../../src/client/index.js';
import type { WebSocketConnector } from '../../src/net/request-channel.js';
import { connectWebSocket, type WebSocketConnection } from '../../src/net/websocket.js';
import { interceptedConnection } from '../support/intercepted-connection.js';

export class Watch {
  private readonly events = new Map<string, ClientEvent[]>();
  private readonly times = new Map<string, number[]>();
  private readonly waiters = new Set<() => void>();

  /** The listener for `user`'s agent (StartOptions.onEvent); `also` sees each event first. */
  listener(user: string, also?: (event: ClientEvent) => void): (event: ClientEvent) => void {
    if (!this.events.has(user)) {
      this.events.set(user, []);
      this.times.set(user, []);
    }
    return (event) => {
      also?.(event);
      this.events.get(user)!.push(event);
      this.times.get(user)!.push(Date.now());
      for (const check of [...this.waiters]) check();
    };
  }

  /** `user`'s events so far, oldest first. */
  of(user: string): readonly ClientEvent[] {
    return this.events.get(user) ?? [];
  }

  /** Resolves once `done` holds, checked now and on every event; rejects after `limitMs` (a stuck test) with what each user saw. */
  until(what: string, done: () => boolean, limitMs: number, state?: () => unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        const extra = state === undefined ? '' : `; ${JSON.stringify(state())}`;
        reject(new Error(`no ${what} within ${limitMs / 1000} s${extra}\n${this.diagnosis()}`));
      }, limitMs);
      this.waiters.add(check);
      check();
    });
  }

  /** The epoch of the newest consensus `user`'s agent took (−1 before any). */
  consensusEpoch(user: string): number {
    return Math.max(-1, ...this.of(user).flatMap((e) => (e.type === 'consensus' ? [e.epoch] : [])));
  }

  /** `user`'s events that `keep` accepts, each as seconds from `fromMs` and what it was (never a subject or a body). */
  timeline(user: string, fromMs: number, keep: (e: ClientEvent) => boolean = () => true): string[] {
    const times = this.times.get(user) ?? [];
    return this.of(user).flatMap((e, i) => {
      if (!keep(e)) return [];
      const at = `${((times[i] - fromMs) / 1000).toFixed(1)}s`;
      if (e.type === 'status') return [`${at} #${e.id} ${e.status}`];
      if (e.type === 'resend' || e.type === 'received') return [`${at} ${e.type} #${e.id}`];
      if (e.type === 'poll') return [`${at} poll e${e.epoch} ${e.items}${e.error === undefined ? '' : ` (${e.error})`}`];
      if (e.type === 'error' || e.type === 'consensus-refused' || e.type === 'integrity') return [`${at} ${e.type}: ${e.message}`];
      return [];
    });
  }

  /** The last events of every user: for a test that timed out. */
  diagnosis(): string {
    const first = Math.min(...[...this.times.values()].flatMap((t) => t.slice(0, 1)));
    return [...this.events.keys()].map((user) => `${user}: ${this.timeline(user, first).slice(-30).join(', ')}`).join('\n');
  }
}

/**
 * An observer of a client's links to the mailbox servers: it wraps the agent's WebSocket connector
 * and notes every message on a link to one of `servers` (by port: a provider's WebSocket), its
 * direction and its size. The gateway link (the send stream) is not looked at. `cut()` ends a
 * window (at each poll event) and returns its shape: how many messages of each (server, direction,
 * size), in a fixed order, so two polls that look the same on the links have the same shape.
 */
export class LinkObserver {
  private window: string[] = [];

  constructor(private readonly servers: ReadonlyMap<string, string>) {}

  readonly connect: WebSocketConnector = async (target, options) => {
    const conn = await connectWebSocket(target, options);
    const server = this.servers.get(new URL(target.url).port);
    return server === undefined ? conn : this.observed(conn, server);
  };

  /** Ends the window: the shape of what crossed the links since the last cut. */
  cut(): string {
    const counts = new Map<string, number>();
    for (const message of this.window) counts.set(message, (counts.get(message) ?? 0) + 1);
    this.window = [];
    return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([message, n]) => `${message} ×${n}`).join(', ');
  }

  private observed(conn: WebSocketConnection, server: string): WebSocketConnection {
    const note = (direction: string, bytes: Uint8Array): void => void this.window.push(`${server} ${direction} ${bytes.length} B`);
    const noted = (direction: string) => (bytes: Uint8Array): Uint8Array => {
      note(direction, bytes);
      return bytes;
    };
    return interceptedConnection(conn, { outgoing: noted('out'), incoming: noted('in') });
  }
}
