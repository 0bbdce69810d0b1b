/**
 * `umbra sphinx-walk`: Alice sends Bob a message with a SURB through in-process mix nodes, and Bob
 * answers with the SURB. This runs the protocol and records what each party saw and whether it
 * all checked out; report-text.ts turns the record into text.
 */
import { getCrypto, seededRandom, systemRandom, type RandomSource } from '../../crypto/index.js';
import { DEFAULT_GEOMETRY, makeSuite, Sphinx, type DeliverResult, type SurbReplyResult } from '../../sphinx/index.js';
import { WALK_MEAN_DELAY_MS } from './defaults.js';
import { describe, isReplayRejected, makeNodes, pathOf, payloadPrefix, walkLeg, type LegEnd } from './in-process-nodes.js';
import type { Check, LegReport, SphinxWalkOptions, SphinxWalkReport } from './report.js';
import { hexOf, sameBytes } from '../../codec/bytes.js';

export type { SphinxWalkOptions, SphinxWalkReport } from './report.js';

export const WALK_MESSAGE = 'Hello Bob! No single mix node knows both that I wrote this and that you read it.';
export const WALK_REPLY = 'Hi Alice, got it. This reply rides your SURB, so I never learned your address.';

export function runSphinxWalk(options: SphinxWalkOptions): SphinxWalkReport {
  const crypto = getCrypto(options.backend);
  const random: RandomSource = options.seed === undefined ? systemRandom(crypto) : seededRandom(crypto, options.seed);
  // A shorter path still uses the standard header size, so the packet does not reveal its path length.
  const sphinx = new Sphinx(makeSuite(options.suite, crypto), {
    ...DEFAULT_GEOMETRY,
    hops: Math.max(DEFAULT_GEOMETRY.hops, options.hops),
  });
  const g = sphinx.geometry;
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail?: string): void => {
    checks.push(detail === undefined ? { name, ok } : { name, ok, detail });
  };

  const nodes = makeNodes(crypto, random, options.hops);
  const aliceRecipient = random(32);
  const bobRecipient = random(32);
  const surbId = random(16);

  // Alice makes the SURB first: it travels inside the forward packet. The reply retraces the path.
  const replyPath = pathOf([...nodes].reverse(), random, [
    { type: 'recipient', recipient: aliceRecipient },
    { type: 'surb-reply', surbId },
  ]);
  const { surb, decryptionToken } = sphinx.newSurb(replyPath, random);
  const forwardPath = pathOf(nodes, random, [{ type: 'recipient', recipient: bobRecipient }]);
  const packet = sphinx.newPacket(forwardPath, encodeText(WALK_MESSAGE), random, surb);

  // Forward leg: Alice -> nodes -> Bob.
  const forward = walkLeg<DeliverResult>(sphinx, nodes, nodes[0].id, packet, 'deliver');
  let bobRead: string | null = null;
  let bobSurb: Uint8Array | undefined;
  if (forward.end !== undefined) {
    check('the last hop named Bob as the recipient', equalBytes(forward.end.recipient, bobRecipient));
    const { surb: carried, message } = sphinx.splitForwardPayload(forward.end.payload);
    bobRead = decodeText(message);
    bobSurb = carried;
  }
  check("Bob read Alice's message intact", bobRead === WALK_MESSAGE, forward.failure);
  check('a SURB arrived with the message', bobSurb !== undefined && equalBytes(bobSurb, surb));

  // Reply leg: Bob -> nodes -> Alice, built only from the SURB.
  let reply: LegEnd<SurbReplyResult> = { hops: [], end: undefined, failure: 'Bob had no SURB to reply with' };
  let replyPacket: Uint8Array | undefined;
  let aliceRead: string | null = null;
  if (bobSurb !== undefined) {
    const made = sphinx.newPacketFromSurb(bobSurb, encodeText(WALK_REPLY));
    replyPacket = made.packet;
    reply = walkLeg<SurbReplyResult>(sphinx, nodes, made.firstHop, made.packet, 'surb-reply');
  }
  if (reply.end !== undefined) {
    const end = reply.end;
    check("the reply's last hop named Alice and her SURB ID", equalBytes(end.recipient, aliceRecipient) && equalBytes(end.surbId, surbId));
    try {
      aliceRead = decodeText(sphinx.decryptSurbPayload(end.payload, decryptionToken));
    } catch (error) {
      reply = { ...reply, failure: describe(error) };
    }
  }
  check("Alice read Bob's reply intact", aliceRead === WALK_REPLY, reply.failure);

  const allHops = [...forward.hops, ...reply.hops];
  const lengths = new Set(allHops.map((hop) => hop.packetLength));
  check(`every hop saw a packet of the same length (${g.packetLength} bytes)`, allHops.length > 0 && lengths.size === 1 && lengths.has(g.packetLength));
  const forwardIn = payloadPrefix(packet, g.headerLength);
  const replyIn = replyPacket === undefined ? '' : payloadPrefix(replyPacket, g.headerLength);
  const shown = [forwardIn, replyIn, ...allHops.map((hop) => hop.payloadOut)].filter((p): p is string => p !== undefined && p !== '');
  check('the payload ciphertext changed at every hop', new Set(shown).size === shown.length);
  check('the first node refused a replay of the same packet', isReplayRejected(sphinx, nodes[0], packet));

  return {
    ok: checks.every((c) => c.ok),
    suite: options.suite,
    backend: options.backend,
    seed: options.seed ?? null,
    pathLength: options.hops,
    meanDelayMs: WALK_MEAN_DELAY_MS,
    geometry: {
      hops: g.hops,
      packetLength: g.packetLength,
      headerLength: g.headerLength,
      payloadLength: g.payloadLength,
      userPayloadLength: g.userForwardPayloadLength,
      surbLength: g.surbLength,
    },
    alice: { recipientId: hexOf(aliceRecipient), surbId: hexOf(surbId) },
    bob: { recipientId: hexOf(bobRecipient) },
    forward: leg(forward, forwardIn, WALK_MESSAGE, bobRead),
    reply: leg(reply, replyIn, WALK_REPLY, aliceRead),
    checks,
  };
}

function leg(end: LegEnd<DeliverResult | SurbReplyResult>, payloadIn: string, sent: string, read: string | null): LegReport {
  return { hops: end.hops, payloadIn, sent, read, arrived: read === sent };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function encodeText(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Payloads are zero-padded to a fixed length; the walk's texts contain no NUL, so trim them. */
function decodeText(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return decoder.decode(bytes.subarray(0, end));
}

function equalBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && sameBytes(a, b);
}
