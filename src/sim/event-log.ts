/**
 * What happened on the simulated network, in the order it happened, in growable typed arrays
 * (a run logs tens of millions of events). A transmission is one packet on one link: client →
 * gateway, or node → next node. The log holds both what the adversary sees (who sent each
 * transmission when, pool sizes) and the ground truth (which input became which output), which the
 * analysis uses only where the adversary knows it (corrupt nodes) and to score attacks.
 */
export const ARRIVAL = 0;
export const DEPARTURE = 1;
export const DELIVERY = 2;

class Grow<T extends Int32Array | Float64Array | Uint8Array> {
  array: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.array = make(1024);
  }
  push(value: number): number {
    if (this.length === this.array.length) {
      const bigger = this.make(this.array.length * 2);
      bigger.set(this.array);
      this.array = bigger;
    }
    this.array[this.length] = value;
    return this.length++;
  }
}

export class EventLog {
  private readonly kinds = new Grow((n) => new Uint8Array(n));
  private readonly nodes = new Grow((n) => new Int32Array(n));
  private readonly txs = new Grow((n) => new Int32Array(n));
  /** Departures: the pool size just before the packet left. */
  private readonly pools = new Grow((n) => new Int32Array(n));
  /** Departures: the transmission that brought the packet in (ground truth). */
  private readonly inputs = new Grow((n) => new Int32Array(n));
  /** Per transmission: the sending client, or −1 for a node. */
  private readonly txClient = new Grow((n) => new Int32Array(n));

  get size(): number {
    return this.kinds.length;
  }
  get transmissions(): number {
    return this.txClient.length;
  }

  /** A new transmission; `client` ≥ 0 when a client sends it. */
  transmission(client: number): number {
    return this.txClient.push(client);
  }

  arrival(node: number, tx: number): void {
    this.entry(ARRIVAL, node, tx, 0, -1);
  }

  departure(node: number, outTx: number, poolBefore: number, inTx: number): void {
    this.entry(DEPARTURE, node, outTx, poolBefore, inTx);
  }

  delivery(provider: number, tx: number): void {
    this.entry(DELIVERY, provider, tx, 0, -1);
  }

  kind(i: number): number {
    return this.kinds.array[i];
  }
  node(i: number): number {
    return this.nodes.array[i];
  }
  tx(i: number): number {
    return this.txs.array[i];
  }
  pool(i: number): number {
    return this.pools.array[i];
  }
  input(i: number): number {
    return this.inputs.array[i];
  }
  clientOf(tx: number): number {
    return this.txClient.array[tx];
  }

  private entry(kind: number, node: number, tx: number, pool: number, input: number): void {
    this.kinds.push(kind);
    this.nodes.push(node);
    this.txs.push(tx);
    this.pools.push(pool);
    this.inputs.push(input);
  }
}
