import { concatBytes as concat } from '../codec/bytes.js';
import { CryptoError, LowOrderPointError } from '../crypto/errors.js';
import type { RandomSource } from '../crypto/seeded-random.js';
import {
  decodeHopCommands,
  encodeHopCommands,
  hopFields,
  NODE_ID_LENGTH,
  type HopCommand,
  type RoutingCommand,
} from './commands.js';
import { SphinxError } from './errors.js';
import { makeGeometry, type Geometry, type GeometryOptions } from './geometry.js';
import type { ReplayFilter } from './replay.js';
import type { CipherSuite, HopKeys } from './suite.js';

/** One hop of a path: its node ID, its current Sphinx public key, and what it should do. */
export interface PathHop {
  readonly id: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Commands for this hop; the next-hop command is added for every hop but the last. */
  readonly commands: readonly HopCommand[];
}

interface Common {
  readonly replayTag: Uint8Array;
  readonly commands: readonly RoutingCommand[];
}
/** The packet goes on to `nextHop` after `delayMs` (if the sender asked for one). */
export interface ForwardResult extends Common {
  readonly kind: 'forward';
  readonly nextHop: Uint8Array;
  readonly delayMs: number | undefined;
  readonly packet: Uint8Array;
}
/** This hop is the last; the payload's tag verified and was removed: [SURB] | message. */
export interface DeliverResult extends Common {
  readonly kind: 'deliver';
  readonly recipient: Uint8Array | undefined;
  readonly payload: Uint8Array;
}
/** A reply made from a SURB: the payload stays encrypted for the SURB's owner. */
export interface SurbReplyResult extends Common {
  readonly kind: 'surb-reply';
  readonly recipient: Uint8Array | undefined;
  readonly surbId: Uint8Array;
  readonly payload: Uint8Array;
}
export type UnwrapResult = ForwardResult | DeliverResult | SurbReplyResult;

export interface Surb {
  /** What the replier needs: header | first hop ID | the key of the reply's first layer. */
  readonly surb: Uint8Array;
  /**
   * What the SURB's creator keeps to read the reply: the hops' payload keys from the last hop to
   * the first, then the SURB's own key (Katzenpost's layout, fixed by its vectors).
   */
  readonly decryptionToken: Uint8Array;
}

/**
 * Sphinx packets (Danezis and Goldberg) for one geometry and one cipher suite: creation,
 * per-hop unwrapping, SURBs and replies. Pure: randomness comes in as a parameter, and nothing
 * here touches the clock, files or the network. docs/sphinx.md describes the format.
 */
export class Sphinx {
  readonly geometry: Geometry;
  readonly suite: CipherSuite;
  private readonly zeroTag: Uint8Array;
  // Scratch memory of unwrap (synchronous, so one set per instance): the routing information with
  // a slot appended, the shared secret and the computed MAC. One buffer, past the size V8 keeps on
  // its heap, so native calls take views of it without first copying it off the heap.
  private readonly routingScratch: Uint8Array;
  /** Views of routingScratch: this hop's slot, and what the next hop gets. */
  private readonly routingSlot: Uint8Array;
  private readonly routingNext: Uint8Array;
  private readonly secretScratch: Uint8Array;
  private readonly macScratch: Uint8Array;

  constructor(suite: CipherSuite, options: GeometryOptions) {
    this.suite = suite;
    this.geometry = makeGeometry(suite, options);
    this.zeroTag = new Uint8Array(suite.payloadTagLength);
    const routingLength = this.geometry.routingInfoLength + this.geometry.perHopLength;
    const scratch = new Uint8Array(routingLength + 32 + this.geometry.macLength);
    this.routingScratch = scratch.subarray(0, routingLength);
    this.routingSlot = this.routingScratch.subarray(0, this.geometry.perHopLength);
    this.routingNext = this.routingScratch.subarray(this.geometry.perHopLength);
    this.secretScratch = scratch.subarray(routingLength, routingLength + 32);
    this.macScratch = scratch.subarray(routingLength + 32);
  }

  /** A forward packet carrying `message` (zero-padded to the user payload length) and, when the geometry says so, a SURB. */
  newPacket(path: readonly PathHop[], message: Uint8Array, random: RandomSource, surb?: Uint8Array): Uint8Array {
    const g = this.geometry;
    if (g.withSurb !== (surb !== undefined)) {
      throw new SphinxError('payload-too-long', g.withSurb ? 'this geometry carries a SURB in every forward packet' : 'this geometry has no room for a SURB');
    }
    if (!(message instanceof Uint8Array) || message.length > g.userForwardPayloadLength) {
      throw new SphinxError('payload-too-long', `message must be at most ${g.userForwardPayloadLength} bytes`);
    }
    const { header, payloadKeys } = this.createHeader(path, random);
    let payload: Uint8Array = new Uint8Array(g.payloadLength);
    let offset = g.payloadTagLength;
    if (surb !== undefined) {
      if (!(surb instanceof Uint8Array) || surb.length !== g.surbLength) throw new SphinxError('wrong-size', 'SURB has the wrong length');
      payload.set(surb, offset);
      offset += surb.length;
    }
    payload.set(message, offset);
    for (let i = payloadKeys.length - 1; i >= 0; i--) payload = this.suite.sprpEncrypt(payloadKeys[i], payload);
    return concat(header, payload);
  }

  /**
   * A packet whose whole payload (payloadLength bytes, integrity tag included) is the caller's, for
   * a path whose last hop carries a SURB-reply command: that hop checks no tag and hands the payload
   * on as it hands on a reply's, so the two look alike. The caller authenticates the payload itself.
   */
  newPacketWithPayload(path: readonly PathHop[], payload: Uint8Array, random: RandomSource): Uint8Array {
    const g = this.geometry;
    if (!(payload instanceof Uint8Array) || payload.length !== g.payloadLength) {
      throw new SphinxError('wrong-size', `payload must be ${g.payloadLength} bytes`);
    }
    const last = path[path.length - 1];
    if (last === undefined || !last.commands.some((command) => command.type === 'surb-reply')) {
      throw new SphinxError('invalid-path', 'the last hop of a packet with a whole payload must be a SURB-reply hop');
    }
    const { header, payloadKeys } = this.createHeader(path, random);
    let out: Uint8Array = payload.slice();
    for (let i = payloadKeys.length - 1; i >= 0; i--) out = this.suite.sprpEncrypt(payloadKeys[i], out);
    return concat(header, out);
  }

  /**
   * Removes this hop's layer. Throws SphinxError with a code for every kind of bad input; with a
   * replay filter, a packet seen before is 'replay'.
   */
  unwrap(privateKey: Uint8Array, packet: Uint8Array, replay?: ReplayFilter): UnwrapResult {
    const g = this.geometry;
    const suite = this.suite;
    if (!(packet instanceof Uint8Array) || packet.length !== g.packetLength) {
      throw new SphinxError('wrong-size', `packet must be ${g.packetLength} bytes`);
    }
    if (!(privateKey instanceof Uint8Array) || privateKey.length !== 32) {
      throw new SphinxError('invalid-key', 'private key must be 32 bytes');
    }
    const adLength = g.additionalDataLength;
    for (let i = 0; i < adLength; i++) {
      if (packet[i] !== suite.additionalData[i]) throw new SphinxError('bad-version', 'packet is for another suite or version');
    }
    const geEnd = adLength + g.groupElementLength;
    const macStart = geEnd + g.routingInfoLength;
    const groupElement = packet.subarray(adLength, geEnd);

    const sharedSecret = this.exp(privateKey, groupElement, 'bad-group-element', this.secretScratch);
    const keys = suite.deriveUnwrapKeys(sharedSecret);
    const mac = suite.mac(keys.headerMacKey, packet.subarray(0, macStart), this.macScratch);
    if (!equalsAt(mac, packet, macStart)) throw new SphinxError('bad-mac', 'header MAC does not verify');
    if (replay !== undefined && replay.testAndSet(keys.replayTag)) {
      throw new SphinxError('replay', 'packet already processed');
    }

    // Decrypt the routing information with a slot of zeros appended, so that the header keeps its
    // length after this hop's slot is removed. The scratch buffer is reused: unwrap is synchronous.
    const routing = this.routingScratch;
    routing.set(packet.subarray(geEnd, macStart));
    routing.fill(0, g.routingInfoLength);
    suite.headerStreamXor(keys, routing);
    const commands = decodeHopCommands(this.routingSlot, g.macLength);

    // The outgoing packet is built in one buffer; the payload is deciphered from the packet
    // straight into it, with no copy first.
    const out = new Uint8Array(g.packetLength);
    const payload = suite.sprpDecrypt(keys.payloadKey, packet.subarray(g.headerLength), out.subarray(g.headerLength));
    const replayTag = keys.replayTag.slice();

    const { nextHop, recipient, surbId, delayMs } = hopFields(commands);

    if (nextHop !== undefined) {
      out.set(suite.additionalData, 0);
      this.exp(keys.blindingFactor, groupElement, 'bad-group-element', out.subarray(adLength, geEnd));
      out.set(this.routingNext, geEnd);
      out.set(nextHop.mac, macStart);
      return { kind: 'forward', nextHop: nextHop.nodeId, delayMs, packet: out, replayTag, commands };
    }
    if (surbId !== undefined) {
      return { kind: 'surb-reply', recipient, surbId, payload, replayTag, commands };
    }
    if (!equalsAt(this.zeroTag, payload, 0)) {
      throw new SphinxError('bad-payload', 'payload integrity tag does not verify');
    }
    return { kind: 'deliver', recipient, payload: payload.subarray(g.payloadTagLength), replayTag, commands };
  }

  /** Splits a delivered forward payload into its SURB (if the geometry has one) and message. */
  splitForwardPayload(payload: Uint8Array): { surb: Uint8Array | undefined; message: Uint8Array } {
    const g = this.geometry;
    if (!(payload instanceof Uint8Array) || payload.length !== g.forwardPayloadLength) {
      throw new SphinxError('wrong-size', 'forward payload has the wrong length');
    }
    if (!g.withSurb) return { surb: undefined, message: payload };
    return { surb: payload.subarray(0, g.surbLength), message: payload.subarray(g.surbLength) };
  }

  /** A SURB for `path` (whose last hop should carry a SURB-reply command) and its decryption token. */
  newSurb(path: readonly PathHop[], random: RandomSource): Surb {
    const { header, payloadKeys } = this.createHeader(path, random);
    const surbKey = random(this.suite.payloadKeyLength);
    return {
      surb: concat(header, path[0].id, surbKey),
      decryptionToken: concat(...payloadKeys.reverse(), surbKey),
    };
  }

  /** The reply packet for a SURB, and the node it must be sent to. */
  newPacketFromSurb(surb: Uint8Array, message: Uint8Array): { firstHop: Uint8Array; packet: Uint8Array } {
    const g = this.geometry;
    if (!(surb instanceof Uint8Array) || surb.length !== g.surbLength) {
      throw new SphinxError('wrong-size', `SURB must be ${g.surbLength} bytes`);
    }
    if (!(message instanceof Uint8Array) || message.length > g.forwardPayloadLength) {
      throw new SphinxError('payload-too-long', `reply must be at most ${g.forwardPayloadLength} bytes`);
    }
    if (!surb.subarray(0, g.additionalDataLength).every((byte, i) => byte === this.suite.additionalData[i])) {
      throw new SphinxError('bad-version', 'SURB is for another suite or version');
    }
    const keyStart = g.headerLength + NODE_ID_LENGTH;
    const payload = new Uint8Array(g.payloadLength);
    payload.set(message, g.payloadTagLength);
    const encrypted = this.suite.sprpEncrypt(surb.subarray(keyStart), payload);
    return { firstHop: surb.slice(g.headerLength, keyStart), packet: concat(surb.subarray(0, g.headerLength), encrypted) };
  }

  /** Reads a reply at the SURB's creator: re-applies each hop's layer, then removes the SURB's own. */
  decryptSurbPayload(payload: Uint8Array, decryptionToken: Uint8Array): Uint8Array {
    const g = this.geometry;
    const keyLength = this.suite.payloadKeyLength;
    if (!(payload instanceof Uint8Array) || payload.length !== g.payloadLength) {
      throw new SphinxError('wrong-size', `reply payload must be ${g.payloadLength} bytes`);
    }
    const count = decryptionToken instanceof Uint8Array ? decryptionToken.length / keyLength : 0;
    if (!Number.isInteger(count) || count < 2 || count > g.hops + 1) {
      throw new SphinxError('wrong-size', 'decryption token has the wrong length');
    }
    const key = (i: number): Uint8Array => decryptionToken.subarray(i * keyLength, (i + 1) * keyLength);
    let data: Uint8Array = payload.slice();
    for (let i = 0; i < count - 1; i++) data = this.suite.sprpEncrypt(key(i), data);
    data = this.suite.sprpDecrypt(key(count - 1), data);
    if (!this.suite.crypto.constantTimeEqual(data.subarray(0, g.payloadTagLength), this.zeroTag)) {
      throw new SphinxError('bad-payload', 'reply integrity tag does not verify');
    }
    return data.slice(g.payloadTagLength);
  }

  /**
   * Builds a header for `path` (Katzenpost's Sphinx specification, section 5.1) and returns the
   * payload key of every hop. The unused tail of the routing information is random, not zero, so
   * that the last hop cannot read the path length from it.
   */
  createHeader(path: readonly PathHop[], random: RandomSource): { header: Uint8Array; payloadKeys: Uint8Array[] } {
    const g = this.geometry;
    const suite = this.suite;
    this.checkPath(path);
    const n = path.length;
    const P = g.perHopLength;
    const R = g.routingInfoLength;

    // 1. Per-hop shared secrets and group elements: alpha_i = g^(x b_0 ... b_{i-1}).
    const secret = random(32);
    const keys: HopKeys[] = [];
    const groupElements: Uint8Array[] = [];
    let groupElement = suite.crypto.x25519Base(secret);
    for (let i = 0; i < n; i++) {
      if (i > 0) groupElement = this.exp(keys[i - 1].blindingFactor, groupElement, 'invalid-path');
      groupElements.push(groupElement);
      let sharedSecret = this.exp(secret, path[i].publicKey, 'invalid-path');
      for (let j = 0; j < i; j++) sharedSecret = this.exp(keys[j].blindingFactor, sharedSecret, 'invalid-path');
      keys.push(suite.deriveKeys(sharedSecret));
    }

    // 2. Each hop's header keystream, and the filler each hop's unwrapping appends (phi_i is the
    //    tail of the routing information after hops 0..i: (i+1) slots long).
    const keystreams: Uint8Array[] = [];
    const fillers: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      const keystream = new Uint8Array(R + P);
      suite.headerStreamXor(keys[i], keystream);
      keystreams.push(keystream);
      const filler = keystream.slice(R + P - (i + 1) * P);
      if (i > 0) xorInto(filler, fillers[i - 1]);
      fillers.push(filler);
    }

    // 3. Routing information, from the last hop backwards.
    const last = n - 1;
    let routing: Uint8Array = new Uint8Array(R - last * P);
    routing.set(encodeHopCommands(path[last].commands, P, g.macLength), 0);
    xorInto(routing.subarray(0, P), keystreams[last]);
    routing.set(random(R - n * P), P);
    let mac = this.headerMac(keys[last], groupElements[last], routing, last > 0 ? fillers[last - 1] : undefined);
    for (let i = n - 2; i >= 0; i--) {
      const slot = encodeHopCommands([{ type: 'next-hop', nodeId: path[i + 1].id, mac }, ...path[i].commands], P, g.macLength);
      routing = concat(slot, routing);
      xorInto(routing, keystreams[i]);
      mac = this.headerMac(keys[i], groupElements[i], routing, i > 0 ? fillers[i - 1] : undefined);
    }

    const header = concat(suite.additionalData, groupElements[0], routing, mac);
    return { header, payloadKeys: keys.map((k) => k.payloadKey.slice()) };
  }

  private headerMac(keys: HopKeys, groupElement: Uint8Array, routing: Uint8Array, filler: Uint8Array | undefined): Uint8Array {
    return this.suite.mac(keys.headerMacKey, concat(this.suite.additionalData, groupElement, routing, filler ?? new Uint8Array(0)));
  }

  /** X25519 that reports a small-order point as the given Sphinx error. */
  private exp(scalar: Uint8Array, point: Uint8Array, code: 'bad-group-element' | 'invalid-path', out?: Uint8Array): Uint8Array {
    try {
      return this.suite.crypto.x25519(scalar, point, out);
    } catch (error) {
      if (error instanceof LowOrderPointError) throw new SphinxError(code, 'group element has small order');
      if (error instanceof CryptoError && code === 'invalid-path') throw new SphinxError(code, 'public key must be 32 bytes');
      throw error;
    }
  }

  private checkPath(path: readonly PathHop[]): void {
    if (!Array.isArray(path) || path.length < 1 || path.length > this.geometry.hops) {
      throw new SphinxError('invalid-path', `path must have 1..${this.geometry.hops} hops`);
    }
    for (const hop of path) {
      if (typeof hop !== 'object' || hop === null || !Array.isArray(hop.commands)) {
        throw new SphinxError('invalid-path', 'each hop needs an ID, a public key and a list of commands');
      }
      if (!(hop.id instanceof Uint8Array) || hop.id.length !== NODE_ID_LENGTH) throw new SphinxError('invalid-path', 'node ID must be 32 bytes');
      if (!(hop.publicKey instanceof Uint8Array) || hop.publicKey.length !== 32) throw new SphinxError('invalid-path', 'public key must be 32 bytes');
    }
  }
}

/**
 * Whether `expected` equals the bytes of `data` at `offset`, in time that depends only on the
 * length (MACs and tags are short: a loop costs less than a native call and a view).
 */
function equalsAt(expected: Uint8Array, data: Uint8Array, offset: number): boolean {
  if (offset + expected.length > data.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected[i] ^ data[offset + i];
  return difference === 0;
}

function xorInto(target: Uint8Array, source: Uint8Array): void {
  const length = Math.min(target.length, source.length);
  for (let i = 0; i < length; i++) target[i] ^= source[i];
}
