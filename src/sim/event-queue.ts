/**
 * The simulator's agenda, a binary min-heap over one typed array, keyed by simulated time
 * and then push order. Two kinds of entry: actors (clients, nodes, the mail source: ids below
 * `actorCount`) have one current schedule each; an actor rescheduled earlier is pushed again and
 * the stale entry is skipped when it comes up (lazy deletion). One-shot entries (ids from
 * `actorCount` up, such as a packet's release from a mix) are pushed and popped once. Ties leave in
 * push order, so runs repeat exactly. Nothing is allocated per event.
 *
 * The moves are src/mixing/heap.ts's, written out over the array: the entry moving is held aside
 * and the others shift into its hole (one write per level, not a three-array swap). The entry
 * `pop` returns stays at the root until the next push or pop: most events push one entry (the
 * actor's next schedule, the packet's next release), which then takes the root's place with one
 * sift down instead of a removal and an insertion.
 */
export class EventQueue {
  /** Entry i is slots[3i..3i+2]: its time, its push number and its id (one cache line, not three). */
  private slots = new Float64Array(3 * 1024);
  private length = 0;
  private seq = 0;
  /** The root is the entry `pop` last returned, already taken. */
  private rootTaken = false;
  private readonly scheduled: Float64Array;
  /** The time of the entry `pop` last returned. */
  at = 0;

  constructor(private readonly actorCount: number) {
    this.scheduled = new Float64Array(actorCount).fill(Infinity);
  }

  get size(): number {
    return this.length - (this.rootTaken ? 1 : 0);
  }

  /** Schedules actor `actor` at `at` (replacing its earlier schedule); Infinity unschedules it. */
  schedule(actor: number, at: number): void {
    this.scheduled[actor] = at;
    if (at !== Infinity) this.insert(actor, at);
  }

  scheduledAt(actor: number): number {
    return this.scheduled[actor];
  }

  /** A one-shot entry: `id` ≥ the actor count. */
  push(id: number, at: number): void {
    this.insert(id, at);
  }

  /** The next id due (its time in `at`), or −1 when nothing is scheduled. */
  pop(): number {
    if (this.rootTaken) {
      this.rootTaken = false;
      this.removeRoot();
    }
    while (this.length > 0) {
      const at = this.slots[0];
      const id = this.slots[2];
      if (id >= this.actorCount || this.scheduled[id] === at) {
        if (id < this.actorCount) this.scheduled[id] = Infinity;
        this.rootTaken = true;
        this.at = at;
        return id;
      }
      this.removeRoot();
    }
    return -1;
  }

  private insert(id: number, at: number): void {
    const seq = this.seq++;
    if (this.rootTaken) {
      this.rootTaken = false;
      this.siftDown(0, at, seq, id);
      return;
    }
    if (3 * this.length === this.slots.length) this.grow();
    this.siftUp(this.length++, at, seq, id);
  }

  private removeRoot(): void {
    const last = --this.length;
    const s = this.slots;
    if (last > 0) this.siftDown(0, s[3 * last], s[3 * last + 1], s[3 * last + 2]);
  }

  /** Places (at, seq, id) at hole `i` or above it. */
  private siftUp(i: number, at: number, seq: number, id: number): void {
    const s = this.slots;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const t = s[3 * parent];
      if (t < at || (t === at && s[3 * parent + 1] < seq)) break;
      s[3 * i] = t;
      s[3 * i + 1] = s[3 * parent + 1];
      s[3 * i + 2] = s[3 * parent + 2];
      i = parent;
    }
    s[3 * i] = at;
    s[3 * i + 1] = seq;
    s[3 * i + 2] = id;
  }

  /** Places (at, seq, id) at hole `i` or below it, among the heap's `length` slots. */
  private siftDown(i: number, at: number, seq: number, id: number): void {
    const s = this.slots;
    const size = this.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && (s[3 * right] < s[3 * child] || (s[3 * right] === s[3 * child] && s[3 * right + 1] < s[3 * child + 1]))) child = right;
      const t = s[3 * child];
      if (at < t || (at === t && seq < s[3 * child + 1])) break;
      s[3 * i] = t;
      s[3 * i + 1] = s[3 * child + 1];
      s[3 * i + 2] = s[3 * child + 2];
      i = child;
    }
    s[3 * i] = at;
    s[3 * i + 1] = seq;
    s[3 * i + 2] = id;
  }

  private grow(): void {
    const slots = new Float64Array(2 * this.slots.length);
    slots.set(this.slots);
    this.slots = slots;
  }
}
