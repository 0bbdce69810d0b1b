/**
 * How nodes and authorities report what happens (docs/nodes.md, "Logs"). The code calls a `NodeLog`
 * with one line per event, a level and a few fields; the process that runs the node turns that
 * into JSON lines (src/cli/process-log.ts). Lines and fields never hold a key, an address (a
 * client's IP, a mailbox address), a subject or a body: only names of nodes, epochs, counts and
 * fixed reasons.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Readonly<Record<string, string | number | boolean>>;

/**
 * One event. Levels: `error` for failures of this node (storage, bugs), `warn` for refusals and
 * failures of others (a bad request, a link that went down, an unreachable authority), `info` for
 * state changes (epochs, consensus held, links up), `debug` for routine detail. Default: info.
 */
export type NodeLog = (line: string, level?: LogLevel, fields?: LogFields) => void;

export const silentLog: NodeLog = () => undefined;

/**
 * Events that a peer or a client can cause at will (refused connections, bad requests, dropped
 * packets) go through here: the first of a kind is logged at once, later ones at most once per
 * `intervalMs`, with `count` saying how many events the line stands for (itself and those held
 * back since the previous line of its kind). The exact counts are in the metrics. Kinds are fixed words, so the table stays small.
 */
export class ThrottledLog {
  private readonly kinds = new Map<string, { lastMs: number; held: number }>();

  constructor(
    private readonly log: NodeLog,
    private readonly now: () => number,
    private readonly intervalMs = 10_000,
  ) {}

  note(kind: string, line: string, level: LogLevel, fields: LogFields = {}, events = 1): void {
    const now = this.now();
    const seen = this.kinds.get(kind);
    if (seen !== undefined && now - seen.lastMs < this.intervalMs) {
      seen.held += events;
      return;
    }
    const count = (seen?.held ?? 0) + events;
    this.kinds.set(kind, { lastMs: now, held: 0 });
    this.log(line, level, count > 1 ? { ...fields, count } : fields);
  }
}
