/**
 * The packets in flight, as parallel typed arrays indexed by a slot number (a run holds 10^5–10^6
 * at once and moves 10^8 or more; an object per packet left the engine to the garbage collector).
 * A freed slot is reused. Each packet carries what its sender fixed (kind, message, client, the
 * five hops and four delays, the send time) and where it is (hop, the transmission it is on, its
 * arrival number at the node that holds it).
 */
export const HOPS = 5;
export const DELAYED_HOPS = 4;

export class PacketStore {
  kind = new Uint8Array(0);
  message = new Int32Array(0);
  client = new Int32Array(0);
  /** HOPS node indices per packet: gateway, mix 1, mix 2, mix 3, provider. */
  hops = new Int32Array(0);
  /** DELAYED_HOPS delays per packet, ms. */
  delays = new Float64Array(0);
  hop = new Uint8Array(0);
  tx = new Int32Array(0);
  firstTx = new Int32Array(0);
  arrivalIndex = new Float64Array(0);
  sentAt = new Float64Array(0);
  private free: number[] = [];
  private used = 0;

  constructor(capacity = 1024) {
    this.grow(capacity);
  }

  /** A slot for a new packet (its fields are the caller's to set). */
  allocate(): number {
    const slot = this.free.pop();
    if (slot !== undefined) return slot;
    if (this.used === this.kind.length) this.grow(this.kind.length * 2);
    return this.used++;
  }

  release(slot: number): void {
    this.free.push(slot);
  }

  /** Packets in flight. */
  get live(): number {
    return this.used - this.free.length;
  }

  private grow(capacity: number): void {
    const more = <T extends Uint8Array | Int32Array | Float64Array>(old: T, make: (n: number) => T, per = 1): T => {
      const bigger = make(capacity * per);
      bigger.set(old);
      return bigger;
    };
    this.kind = more(this.kind, (n) => new Uint8Array(n));
    this.message = more(this.message, (n) => new Int32Array(n));
    this.client = more(this.client, (n) => new Int32Array(n));
    this.hops = more(this.hops, (n) => new Int32Array(n), HOPS);
    this.delays = more(this.delays, (n) => new Float64Array(n), DELAYED_HOPS);
    this.hop = more(this.hop, (n) => new Uint8Array(n));
    this.tx = more(this.tx, (n) => new Int32Array(n));
    this.firstTx = more(this.firstTx, (n) => new Int32Array(n));
    this.arrivalIndex = more(this.arrivalIndex, (n) => new Float64Array(n));
    this.sentAt = more(this.sentAt, (n) => new Float64Array(n));
  }
}
