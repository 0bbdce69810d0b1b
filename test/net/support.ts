/** Shared helpers for the network-layer tests (not a test file itself). */
import { once, type EventEmitter } from 'node:events';

export const PACKET_LENGTH = 3072;
export const GUARD_MS = 5000;

/** A deterministic 32-byte seed. */
export const seed = (fill: number): Uint8Array => new Uint8Array(32).fill(fill);

/** Packet number `index` of stream `stream`: recognisable bytes, the index in the first 4. */
export function packet(stream: number, index: number, length = PACKET_LENGTH): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + index * 7 + stream * 101) & 0xff;
  new DataView(bytes.buffer).setUint32(0, index);
  bytes[4] = stream;
  return bytes;
}

/** Rejects after `ms` (a guard, never a wait): the promise must settle by itself before. */
export function within<T>(promise: Promise<T>, what: string, ms = GUARD_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` (guarded). */
export function next(emitter: EventEmitter, event: string, ms = GUARD_MS): Promise<unknown[]> {
  return within(once(emitter, event), `'${event}'`, ms);
}

/** The next `event` whose arguments satisfy `match` (guarded). */
export function nextMatching(emitter: EventEmitter, event: string, match: (...args: any[]) => boolean, ms = GUARD_MS): Promise<unknown[]> {
  return within(new Promise<unknown[]>((resolve) => {
    const listener = (...args: unknown[]): void => {
      if (!match(...args)) return;
      emitter.off(event, listener);
      resolve(args);
    };
    emitter.on(event, listener);
  }), `'${event}' matching`, ms);
}

/** A collector: resolves `until(n)` once n items have arrived. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (this.items.length >= w.count ? (w.resolve(), false) : true));
  };

  until(count: number, ms = GUARD_MS): Promise<void> {
    if (this.items.length >= count) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.waiters.push({ count, resolve })), `${count} items (have ${this.items.length})`, ms);
  }
}
