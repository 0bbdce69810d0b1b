import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url } from '../codec/bytes.js';
import { DecodeError } from '../codec/errors.js';
import { getCrypto } from '../crypto/index.js';
import { AuthorityRequestError, fetchConsensus } from '../net/authority-client.js';
import { consensusWeights, PkiError, type ConsensusDocument } from '../pki/index.js';
import { EXIT_FAILED, UsageError } from './errors.js';
import { integer, parseOptions } from './parse.js';

/**
 * `umbra consensus`: what the authorities say of every node in one epoch's document (docs/nodes.md,
 * "What the network says of a node"): role, layer, family, declared and measured bandwidth, the
 * bandwidth path choice weighs, and the reliability score against the floor. The document is
 * fetched over TLS pinned to the authority keys and verified (a majority of them must have signed)
 * like every client does; nothing else is asked of anyone.
 */
export interface NodeRow {
  readonly name: string;
  readonly role: string;
  readonly layer: number;
  readonly family: string;
  readonly declared: number;
  /** 0: not measured. */
  readonly measured: number;
  /** What path choice weighs: the declared bandwidth, capped by the measured one. */
  readonly bandwidth: number;
  readonly score: number;
  readonly belowFloor: boolean;
}

/** The document's nodes as rows, by layer, then name. */
export function nodeRows(doc: ConsensusDocument): NodeRow[] {
  const weights = consensusWeights(doc);
  return doc.nodes
    .map((node, i) => ({
      name: node.name,
      role: node.role,
      layer: node.layer,
      family: node.family,
      declared: node.bandwidth,
      measured: doc.measured[i],
      bandwidth: weights.bandwidth(node),
      score: doc.scores[i],
      belowFloor: weights.belowFloor(node),
    }))
    .sort((a, b) => a.layer - b.layer || a.name.localeCompare(b.name));
}

/** The rows as a fixed-width table. */
export function formatRows(doc: ConsensusDocument, rows: readonly NodeRow[]): string {
  const head = ['node', 'role', 'layer', 'family', 'declared/s', 'measured/s', 'weighed/s', 'score'];
  const cells = rows.map((row) => [
    row.name, row.role, String(row.layer), row.family, String(row.declared),
    row.measured === 0 ? '-' : String(row.measured), String(row.bandwidth), `${row.score}${row.belowFloor ? ' (below floor)' : ''}`,
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...cells.map((line) => line[c].length)));
  const line = (values: readonly string[]): string => values.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd();
  const title = `epoch ${doc.epoch}: ${rows.length} nodes, reliability floor ${doc.reliability.floor}, signed by ${doc.signatures.length} ${doc.signatures.length === 1 ? 'authority' : 'authorities'}`;
  return [title, line(head), ...cells.map(line)].join('\n') + '\n';
}

interface Source {
  readonly url: string;
  readonly keys: Uint8Array[];
}

/** The authority URL and keys of `umbra up`'s network.json in `dir`. */
function sourceOfDir(dir: string): Source {
  const path = join(dir, 'network.json');
  let file: { authority?: { url?: unknown; publicKey?: unknown }; authorities?: { publicKey?: unknown }[] };
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as typeof file;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UsageError(`consensus: ${missing ? `no ${path} (the --dir of 'umbra up')` : `${path} is not JSON`}`);
  }
  const url = file.authority?.url;
  const keys = (file.authorities ?? [file.authority ?? {}]).map((entry) => entry.publicKey);
  if (typeof url !== 'string' || keys.length === 0 || keys.some((key) => typeof key !== 'string')) {
    throw new UsageError(`consensus: ${path} names no authority URL and keys`);
  }
  return { url, keys: keys.map((key) => authorityKey(key as string)) };
}

function authorityKey(text: string): Uint8Array {
  try {
    const key = fromBase64Url(text, 'authority key', 32);
    if (key.length === 32) return key;
  } catch (error) {
    if (!(error instanceof DecodeError)) throw error;
  }
  throw new UsageError(`consensus: an authority key is 43 base64url characters, not '${text.slice(0, 60)}'`);
}

export async function consensusCommand(args: readonly string[]): Promise<number> {
  const values = parseOptions('consensus', args, {
    dir: { type: 'string' },
    authority: { type: 'string' },
    'authority-key': { type: 'string', multiple: true },
    epoch: { type: 'string' },
    json: { type: 'boolean' },
  });
  const keysGiven = values['authority-key'] ?? [];
  if ((values.dir === undefined) === (values.authority === undefined)) {
    throw new UsageError('consensus: give either --dir D (a network of umbra up) or --authority URL with --authority-key KEY');
  }
  if (values.authority !== undefined && keysGiven.length === 0) throw new UsageError('consensus: --authority needs --authority-key (every trusted authority key, once each)');
  if (!/^https:\/\//.test(values.authority ?? 'https://')) throw new UsageError(`consensus: --authority must be an https:// URL, not '${values.authority}'`);
  const epoch = integer('epoch', values.epoch, 0, Number.MAX_SAFE_INTEGER) ?? 'current';
  const source = values.dir !== undefined ? sourceOfDir(values.dir) : { url: values.authority!, keys: keysGiven.map(authorityKey) };
  let fetched: Awaited<ReturnType<typeof fetchConsensus>>;
  try {
    fetched = await fetchConsensus(getCrypto(), source.url, epoch, { authorities: source.keys, nowMs: Date.now() });
  } catch (error) {
    if (!(error instanceof AuthorityRequestError || error instanceof PkiError)) throw error;
    process.stderr.write(`umbra: consensus: no document from ${source.url}: ${error.message}\n`);
    return EXIT_FAILED;
  }
  if (fetched === undefined) {
    process.stderr.write(`umbra: consensus: the authority has no document for ${epoch === 'current' ? 'the current epoch' : `epoch ${epoch}`}\n`);
    return EXIT_FAILED;
  }
  const rows = nodeRows(fetched.doc);
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify({ epoch: fetched.doc.epoch, floor: fetched.doc.reliability.floor, signatures: fetched.doc.signatures.length, nodes: rows }, null, 2)}\n`);
  } else {
    process.stdout.write(formatRows(fetched.doc, rows));
  }
  return 0;
}
