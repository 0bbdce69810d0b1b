/**
 * The authority's Prometheus counters and gauges (text exposition format 0.0.4). Label values are
 * fixed codes chosen by the authority, never taken from requests.
 */
type Kind = 'counter' | 'gauge';

interface Family {
  readonly help: string;
  readonly kind: Kind;
  readonly values: Map<string, number>;
}

export class AuthorityMetrics {
  private readonly families = new Map<string, Family>();

  constructor() {
    this.define('umbra_authority_descriptors_accepted_total', 'counter', 'Descriptor uploads accepted, by result (new, replaced, unchanged).');
    this.define('umbra_authority_descriptors_rejected_total', 'counter', 'Descriptor uploads refused, by reason.');
    this.define('umbra_authority_documents_published_total', 'counter', 'Consensus documents made, signed and stored.');
    this.define('umbra_authority_documents_failed_total', 'counter', 'Attempts to make a consensus document that failed, by reason.');
    this.define('umbra_authority_http_errors_total', 'counter', 'Error responses on any endpoint, by error code.');
    this.define('umbra_authority_consensus_served_total', 'counter', 'Consensus documents served.');
    this.define('umbra_authority_epoch', 'gauge', 'The current epoch (-1 before genesis).');
    this.define('umbra_authority_latest_document_epoch', 'gauge', 'The epoch of the newest document held (-1 if none).');
    this.define('umbra_authority_descriptors_held', 'gauge', 'Descriptors held for epochs whose document is not yet made.');
    this.define('umbra_authority_votes_cast_total', 'counter', "This authority's own votes, made and stored.");
    this.define('umbra_authority_votes_received_total', 'counter', 'Votes received from peers and taken, by result (new, unchanged).');
    this.define('umbra_authority_votes_rejected_total', 'counter', 'Votes received from peers and refused, by reason.');
    this.define('umbra_authority_signatures_received_total', 'counter', "Peers' signatures on this authority's tally, taken, by result.");
    this.define('umbra_authority_signatures_rejected_total', 'counter', "Peers' signatures refused, by reason.");
    this.define('umbra_authority_loop_reports_received_total', 'counter', "Mixes' loop reports taken, by result (new, unchanged).");
    this.define('umbra_authority_loop_reports_rejected_total', 'counter', "Mixes' loop reports refused, by reason.");
    this.define('umbra_authority_probes_total', 'counter', "This authority's liveness probes of nodes, by outcome (answered, unreachable, timeout, pin-mismatch).");
    this.define('umbra_authority_throughput_probes_total', 'counter', "This authority's throughput probes of nodes, by outcome (measured, failed).");
    this.define('umbra_authority_equivocations_total', 'counter', 'Authorities seen voting twice, differently, for one epoch.');
    this.define('umbra_authority_peer_failures_total', 'counter', 'Requests to peer authorities that failed, by kind (vote, signature, consensus).');
    this.define('umbra_authority_documents_adopted_total', 'counter', "Documents taken from a peer (signed by a majority) instead of this authority's own tally.");
    // Counters that always exist, so dashboards see zeros before the first event.
    this.add('umbra_authority_documents_published_total', 0);
    this.add('umbra_authority_consensus_served_total', 0);
    this.add('umbra_authority_equivocations_total', 0);
  }

  private define(name: string, kind: Kind, help: string): void {
    this.families.set(name, { help, kind, values: new Map() });
  }

  private family(name: string): Family {
    const family = this.families.get(name);
    if (family === undefined) throw new Error(`unknown metric ${name}`);
    return family;
  }

  private static key(labels: Readonly<Record<string, string>>): string {
    return Object.entries(labels)
      .map(([label, value]) => `${label}="${value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
      .join(',');
  }

  add(name: string, amount = 1, labels: Readonly<Record<string, string>> = {}): void {
    const { values } = this.family(name);
    const key = AuthorityMetrics.key(labels);
    values.set(key, (values.get(key) ?? 0) + amount);
  }

  set(name: string, value: number, labels: Readonly<Record<string, string>> = {}): void {
    this.family(name).values.set(AuthorityMetrics.key(labels), value);
  }

  get(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.family(name).values.get(AuthorityMetrics.key(labels)) ?? 0;
  }

  text(): string {
    const lines: string[] = [];
    for (const [name, { help, kind, values }] of this.families) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`);
      for (const [labels, value] of [...values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        lines.push(`${name}${labels === '' ? '' : `{${labels}}`} ${value}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}
