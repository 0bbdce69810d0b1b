import type { InboxMeta, MailRecord } from '../mail-store.js';
import type { GatewayConnections } from './gateways.js';
import type { LoopTracker } from './loops.js';
import type { NetworkView } from './network-view.js';
import type { Outbox } from './outbox.js';
import { loopSlackMs, type Poller } from './poller.js';
import type { ReplyQueue } from './replies.js';
import type { MailboxRetrieval } from './retrieval.js';
import type { SendStream } from './send-stream.js';
import type { AgentStatus } from './types.js';

export interface StatusSources {
  readonly view: NetworkView;
  readonly gateways: GatewayConnections;
  readonly retrieval: MailboxRetrieval;
  readonly stream: SendStream;
  readonly outbox: Outbox;
  readonly replies: ReplyQueue;
  readonly loops: LoopTracker;
  readonly poller: Poller;
  readonly inbox: readonly MailRecord[];
}

/** The agent's status (docs/client.md, "Status"), read from its parts' counters. */
export function agentStatus(s: StatusSources): AgentStatus {
  const now = s.view.now();
  const rtts = [...s.loops.rtts];
  const epoch = s.view.epochAt(now);
  const deadlineMs = s.loops.slackMs(loopSlackMs(s.view.doc.epochMs));
  const nameOf = (key: string): string => s.view.network.findByKey(key)?.name ?? 'unknown';
  return {
    nowMs: now,
    epoch,
    consensusEpoch: s.view.doc.epoch,
    ...(s.view.refusal === undefined ? {} : { consensusRefused: s.view.refusal }),
    gateway: { name: s.gateways.main.node.name, connected: s.gateways.main.ready },
    provider: { name: s.retrieval.provider.name, connected: s.retrieval.connected },
    rates: s.stream.rates,
    meanDelayMs: s.view.doc.mixing.meanDelayMs,
    queue: s.replies.length + s.outbox.length,
    awaitingAck: s.outbox.awaitingAck,
    packets: {
      real: s.outbox.sent, replies: s.replies.sent, repliesExpired: s.replies.expired, repliesReadLate: s.replies.readLate, cover: s.stream.cover,
      loops: s.loops.sent, drops: s.stream.drops, missedSlots: s.stream.missedSlots,
    },
    loops: {
      sent: s.loops.sent,
      returned: s.loops.returned,
      lost: s.loops.lost,
      ...(rtts.length === 0 ? {} : { lastRttMs: rtts[rtts.length - 1], meanRttMs: rtts.reduce((a, b) => a + b, 0) / rtts.length }),
      rttsMs: rtts,
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
    },
    alert: {
      high: s.loops.alerts.high(epoch),
      suspects: s.loops.alerts.suspects(epoch).map((x) => ({ scope: x.scope, ...(x.node === undefined ? {} : { node: nameOf(x.node), layer: x.layer }), loops: x.loops, lost: x.lost, pValue: x.pValue })),
      avoiding: [...s.loops.alerts.avoided(epoch)].map(nameOf),
      alarms: s.loops.alarms,
    },
    polls: {
      done: s.poller.done,
      failed: s.poller.failed,
      /** Epochs not read yet after time offline (docs/client.md, "Catch-up"). */
      behindEpochs: s.poller.catchUp.behind(s.view.epochAt(s.view.now()), s.view.doc.epochMs),
      ...(s.poller.lastMs === undefined ? {} : { lastMs: s.poller.lastMs }),
      ...(s.poller.lastError === undefined ? {} : { lastError: s.poller.lastError }),
    },
    retrieval: {
      mode: s.view.doc.retrieval,
      ...(s.retrieval.partner === undefined ? {} : { partner: s.retrieval.partner.name }),
      pirQueries: s.poller.queries,
      mismatches: s.poller.mismatches,
      ...(s.poller.lastMismatch === undefined ? {} : { lastMismatch: s.poller.lastMismatch }),
    },
    inbox: { total: s.inbox.length, unread: s.inbox.filter((mail) => !(mail as InboxMeta).read).length },
  };
}
