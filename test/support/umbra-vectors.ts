import { seededRandom, type Crypto } from '../../src/crypto/index.js';
import { encodeCommand, Sphinx, umbraV1Suite, type HopCommand, type PathHop } from '../../src/sphinx/index.js';
import { toHex } from './vectors.js';

/**
 * Known-answer vectors for the umbra-v1 suite, in the layout of Katzenpost's sphinx_vectors.json
 * plus the seed that drove every random choice, so creation is checked byte for byte too.
 * Made once by write-umbra-vectors.ts and committed; the test regenerates them on every backend.
 */
export interface UmbraVectorCase {
  Suite: 'umbra-v1';
  Geometry: { hops: number; userForwardPayloadLength: number; withSurb: boolean };
  Seed: string;
  Nodes: { ID: string; PrivateKey: string }[];
  Path: { ID: string; PublicKey: string; Commands: string[] }[];
  Packets: string[];
  Payload: string;
  Surb: string;
  SurbKeys: string;
}

export const UMBRA_VECTOR_GEOMETRY = { hops: 5, userForwardPayloadLength: 103, withSurb: false } as const;
/** Exactly one user payload long, so the delivered payload equals it byte for byte. */
const PAYLOAD = new Uint8Array(UMBRA_VECTOR_GEOMETRY.userForwardPayloadLength);
PAYLOAD.set(new TextEncoder().encode('Mail that says nothing of who wrote it, to whom, or when: only the words inside.'));

export function generateUmbraVectors(crypto: Crypto): UmbraVectorCase[] {
  const sphinx = new Sphinx(umbraV1Suite(crypto), UMBRA_VECTOR_GEOMETRY);
  const cases: UmbraVectorCase[] = [];
  for (const isSurb of [false, true]) {
    for (let hops = 1; hops <= UMBRA_VECTOR_GEOMETRY.hops; hops++) {
      const seed = new Uint8Array(32);
      seed[0] = hops;
      seed[1] = isSurb ? 1 : 0;
      const random = seededRandom(crypto, seed);
      const nodes = Array.from({ length: hops }, () => ({ id: random(32), privateKey: random(32) }));
      const path: PathHop[] = nodes.map((node, i) => {
        const commands: HopCommand[] = i < hops - 1
          ? [{ type: 'delay', delayMs: 1000 * (i + 1) + i }]
          : [{ type: 'recipient', recipient: random(32) }];
        if (isSurb && i === hops - 1) commands.push({ type: 'surb-reply', surbId: random(16) });
        return { id: node.id, publicKey: crypto.x25519Base(node.privateKey), commands };
      });
      let packet: Uint8Array;
      let surb = '';
      let surbKeys = '';
      if (isSurb) {
        const made = sphinx.newSurb(path, random);
        packet = sphinx.newPacketFromSurb(made.surb, PAYLOAD).packet;
        surb = toHex(made.surb);
        surbKeys = toHex(made.decryptionToken);
      } else {
        packet = sphinx.newPacket(path, PAYLOAD, random);
      }
      const packets = [toHex(packet)];
      for (let i = 0; i < hops; i++) {
        const result = sphinx.unwrap(nodes[i].privateKey, packet);
        if (result.kind === 'forward') {
          packet = result.packet;
          packets.push(toHex(packet));
        } else {
          packets.push('');
        }
      }
      cases.push({
        Suite: 'umbra-v1',
        Geometry: { ...UMBRA_VECTOR_GEOMETRY },
        Seed: toHex(seed),
        Nodes: nodes.map((node) => ({ ID: toHex(node.id), PrivateKey: toHex(node.privateKey) })),
        Path: path.map((hop) => ({
          ID: toHex(hop.id),
          PublicKey: toHex(hop.publicKey),
          Commands: hop.commands.map((command) => toHex(encodeCommand(command, sphinx.geometry.macLength))),
        })),
        Packets: packets,
        Payload: toHex(PAYLOAD),
        Surb: surb,
        SurbKeys: surbKeys,
      });
    }
  }
  return cases;
}

