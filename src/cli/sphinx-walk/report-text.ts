import type { HopRecord, LegReport, SphinxWalkReport } from './report.js';
import { formatMs, short, table, type Align } from '../format.js';

/**
 * The walk's report as text for a person seeing Umbra for the first time: what each node saw (and
 * did not see), what arrived, and whether every check passed.
 */
export function formatSphinxWalkReport(report: SphinxWalkReport): string {
  const g = report.geometry;
  const tag = g.payloadLength - g.userPayloadLength - g.surbLength;
  const names = new Map([
    [report.alice.recipientId, 'Alice'],
    [report.bob.recipientId, 'Bob'],
  ]);
  const seed = report.seed === null ? 'random keys (pass --seed N to reproduce a run)' : `seed ${report.seed} (reproducible; only the timings vary)`;
  const nodes = report.pathLength === 1 ? '1 mix node' : `${report.pathLength} mix nodes`;
  const lines = [
    `umbra sphinx-walk: Alice sends Bob a message through ${nodes}; Bob answers with the SURB she enclosed.`,
    'Each node removes one layer of encryption and learns only where to send the packet next.',
    'Everything runs in this process; the mixing delays are drawn and shown, not waited.',
    '',
    `  suite ${report.suite} · backend ${report.backend} · ${seed}`,
    `  every packet is ${g.packetLength} bytes: header ${g.headerLength} (room for ${g.hops} hops) + payload ${g.payloadLength}`,
    `  payload: ${g.userPayloadLength} bytes of message, ${g.surbLength} for a SURB, ${tag} for an integrity tag`,
    '  IDs and tags show their first 8 hex digits; a node keeps each replay tag to refuse the same packet twice.',
    '',
    'Alice → Bob: the forward packet',
    legTable(report.forward, 'Alice', names),
    `  Bob reads:   ${quote(report.forward.read)}`,
    '',
    "Bob → Alice: the reply, built from Alice's SURB",
    legTable(report.reply, 'Bob', names),
    `  Alice reads: ${quote(report.reply.read)}`,
    '',
    'Checks',
    ...report.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.name}${c.detail === undefined || c.ok ? '' : ` (${c.detail})`}`),
    '',
  ];
  const failed = report.checks.filter((c) => !c.ok).length;
  lines.push(failed === 0 ? `All ${report.checks.length} checks passed.` : `${failed} of ${report.checks.length} checks FAILED.`);
  return lines.join('\n');
}

function legTable(leg: LegReport, sender: string, names: ReadonlyMap<string, string>): string {
  const header = ['hop', 'node', 'bytes in', 'its layer says', 'replay tag', 'payload out (ciphertext)', 'unwrap'];
  const align: Align[] = ['right', 'left', 'right', 'left', 'left', 'left', 'right'];
  // The sender's row shows the ciphertext before any node touched it.
  const rows = [['', sender, '', '', '', ciphertext(leg.payloadIn), ''], ...leg.hops.map((hop) => hopRow(hop, names))];
  const delays = leg.hops.reduce((sum, hop) => sum + (hop.delayMs ?? 0), 0);
  const total = leg.hops.reduce((sum, hop) => sum + hop.unwrapMs, 0);
  return `${table(header, rows, align)}\n  (mixing delays add up to ${delays} ms; unwrapping took ${formatMs(total)} in all)`;
}

function hopRow(hop: HopRecord, names: ReadonlyMap<string, string>): string[] {
  return [
    String(hop.hop),
    short(hop.nodeId),
    String(hop.packetLength),
    instruction(hop, names),
    short(hop.replayTag),
    hop.payloadOut === undefined ? '(delivered)' : ciphertext(hop.payloadOut),
    formatMs(hop.unwrapMs),
  ];
}

function instruction(hop: HopRecord, names: ReadonlyMap<string, string>): string {
  if (hop.action === 'forward') {
    const delay = hop.delayMs === undefined ? '' : `, after ${hop.delayMs} ms`;
    return `send to ${short(hop.nextHop ?? '')}${delay}`;
  }
  const to = recipient(hop.recipient, names);
  if (hop.action === 'surb-reply') return `SURB reply ${short(hop.surbId ?? '')} for ${to}`;
  return `deliver to ${to}`;
}

/** The node sees a mailbox ID; the name in front is for the reader, who knows whose it is. */
function recipient(id: string | undefined, names: ReadonlyMap<string, string>): string {
  if (id === undefined) return 'no recipient';
  const name = names.get(id);
  return name === undefined ? `mailbox ${short(id)}` : `${name}'s mailbox ${short(id)}`;
}

/** Eight bytes of ciphertext fit the table and are plenty to see it change. */
function ciphertext(hex: string): string {
  return hex === '' ? '' : `${hex.slice(0, 16)}…`;
}

function quote(text: string | null): string {
  return text === null ? '(nothing arrived)' : `"${text}"`;
}
