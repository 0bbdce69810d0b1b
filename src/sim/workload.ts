import type { Workload as WorkloadShape } from './config.js';
import type { SimRandom } from './random.js';

/**
 * Who writes to whom: each user has a fixed list of contacts and picks one by Zipf rank (rank r
 * with weight 1/r^s) for every mail; senders are uniform (but for an optional focus user, who
 * writes a fixed share of all mail). The mails' send times come from the
 * engine (one Poisson stream of all users' mail).
 */
export class Workload {
  private readonly contacts: Int32Array;
  private readonly cumulative: Float64Array;
  private readonly senders: number[] = [];
  private readonly recipients: number[] = [];
  private readonly written: number[] = [];

  constructor(private readonly users: number, private readonly shape: WorkloadShape, private readonly random: SimRandom) {
    const k = Math.min(shape.contacts, Math.max(1, users - 1));
    this.contacts = new Int32Array(users * k);
    for (let u = 0; u < users; u++) {
      for (let i = 0; i < k; i++) {
        let v = Math.floor(random.uniform() * users);
        if (users > 1) while (v === u) v = Math.floor(random.uniform() * users);
        this.contacts[u * k + i] = v;
      }
    }
    this.cumulative = new Float64Array(k);
    let total = 0;
    for (let r = 0; r < k; r++) this.cumulative[r] = total += 1 / (r + 1) ** shape.zipfExponent;
    for (let r = 0; r < k; r++) this.cumulative[r] /= total;
  }

  /** The contacts of `user`, most written-to first. */
  contactsOf(user: number): number[] {
    const k = this.cumulative.length;
    return Array.from(this.contacts.subarray(user * k, user * k + k));
  }

  /** A new mail written at `now`; returns its id. */
  write(now: number): number {
    const focus = this.shape.focus;
    const sender = focus !== undefined && this.random.uniform() < focus.share ? focus.user : Math.floor(this.random.uniform() * this.users);
    const u = this.random.uniform();
    let rank = 0;
    while (rank < this.cumulative.length - 1 && this.cumulative[rank] < u) rank++;
    this.senders.push(sender);
    this.recipients.push(this.contacts[sender * this.cumulative.length + rank]);
    this.written.push(now);
    return this.senders.length - 1;
  }

  senderOf(message: number): number {
    return this.senders[message];
  }
  recipientOf(message: number): number {
    return this.recipients[message];
  }
  writtenAt(message: number): number {
    return this.written[message];
  }
  get shapeOf(): WorkloadShape {
    return this.shape;
  }
}
