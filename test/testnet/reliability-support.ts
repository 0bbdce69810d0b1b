import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromBase64Url } from '../../src/codec/bytes.js';
import { getCrypto } from '../../src/crypto/index.js';
import { fetchConsensus } from '../../src/net/authority-client.js';
import { epochAt, type ConsensusDocument } from '../../src/pki/index.js';
import type { Testnet } from '../../src/testnet/up.js';

/** What the reliability tests over `umbra up` read: documents as they appear, scores, mixes' alerts. */
const crypto = getCrypto();

/** The verified document for `epoch`, once the authority has it. */
export async function documentFor(net: Testnet, epoch: number, epochMs: number): Promise<ConsensusDocument> {
  const keys = net.authorities.map((authority) => fromBase64Url(authority.publicKey, 'key', 32));
  const deadline = Date.now() + 5 * epochMs;
  for (;;) {
    const fetched = await fetchConsensus(crypto, net.authorityUrl, epoch, { authorities: keys, nowMs: Date.now() }).catch(() => undefined);
    if (fetched !== undefined) return fetched.doc;
    if (Date.now() > deadline) throw new Error(`no document for epoch ${epoch}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Each mix's score in `doc`, by name. */
export function mixScores(doc: ConsensusDocument): Map<string, number> {
  const scores = new Map<string, number>();
  doc.nodes.forEach((node, i) => {
    if (node.role === 'mix') scores.set(node.name, doc.scores[i]);
  });
  return scores;
}

/**
 * The documents of the 3 epochs after the current one, stopping at the first that `done` accepts.
 * The first is voted on the first few seconds of the mixes' loops, when a mix has one or two
 * reporters with enough loops through it; a healthy mix was scored below the floor there in 2 runs
 * of 7 until a score needed 3 reporters (docs/network.md, "Score").
 */
export async function nextDocuments(net: Testnet, done: (doc: ConsensusDocument) => boolean): Promise<ConsensusDocument[]> {
  const first = epochAt(Date.now(), net.file) + 1;
  const docs: ConsensusDocument[] = [];
  for (let epoch = first; epoch <= first + 2; epoch++) {
    const doc = await documentFor(net, epoch, net.file.epochMs);
    docs.push(doc);
    if (done(doc)) break;
  }
  return docs;
}

/** A mix's high-alert log lines, as "epoch E: NAME (L of N loops lost), …", by mix. */
export function alertLines(net: Testnet): Map<string, string[]> {
  const lines = new Map<string, string[]>();
  for (const node of net.file.nodes) {
    if (node.role !== 'mix') continue;
    const text = readFileSync(join(net.dir, 'logs', `${node.name}.log`), 'utf8');
    lines.set(node.name, [...text.matchAll(/high alert: the loops of (epoch \d+) point to (.*?)"/g)].map((m) => `${m[1]}: ${m[2]}`));
  }
  return lines;
}

/** The mixes named in each mix's high-alert log lines ("mix: high alert: the loops of epoch E point to NAME (…), …"). */
export function mixAlerts(net: Testnet): Map<string, string[]> {
  const named = new Map<string, string[]>();
  for (const [mix, lines] of alertLines(net)) {
    named.set(mix, [...new Set(lines.flatMap((line) => [...line.matchAll(/(mix-\d+-\d+) \(/g)].map((m) => m[1])))]);
  }
  return named;
}
