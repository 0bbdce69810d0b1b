import type { SimConfig } from './config.js';
import type { EventLog } from './event-log.js';
import type { SimTopology } from './topology.js';

/** What one run of the engine (src/sim/engine.ts) hands the analysis. */
/** A delivered packet the analysis may measure. */
export interface Delivered {
  readonly kind: number;
  readonly message: number;
  readonly client: number;
  /** The recipient user (the sender itself for a loop; −1 for drop cover). */
  readonly recipient: number;
  readonly provider: number;
  readonly deliveryTx: number;
  readonly firstTx: number;
  readonly sentAt: number;
  readonly deliveredAt: number;
}

export interface SimRun {
  readonly config: SimConfig;
  readonly topology: SimTopology;
  readonly log: EventLog;
  readonly delivered: Delivered[];
  readonly sent: { real: number; loop: number; drop: number };
  /** End-to-end (written → fetched at the recipient's poll) and network (left client → stored) latencies of real mail, ms. */
  readonly latencies: { endToEnd: number[]; network: number[] };
  /** Per node: every departure left in arrival order (a node whose order the adversary learns). */
  readonly keepsOrder: boolean[];
  readonly mailsWritten: number;
  /** Packets refused by a full pool. */
  readonly dropped: number;
  /** Entries the agenda handed out (client sends, mails, packet releases, batch flushes). */
  readonly agendaEvents: number;
}
