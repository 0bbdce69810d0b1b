/**
 * Why Sphinx refused a packet, a path, a payload or a SURB. Mix nodes count rejections by
 * code; nothing else about the packet is reported.
 */
export type SphinxErrorCode =
  | 'wrong-size' // packet, SURB or token of the wrong length
  | 'bad-version' // the header's additional data names another suite or version
  | 'bad-group-element' // the header's group element has small order
  | 'bad-mac' // header MAC mismatch: corrupted, or not for this node's key
  | 'invalid-key' // the node's private key is not a 32-byte array
  | 'replay' // this packet was already processed with this key
  | 'malformed-commands' // unknown or truncated routing command, or a hop's commands do not fit
  | 'bad-payload' // the payload's integrity tag is not intact after decryption
  | 'invalid-path' // empty or too long a path, a bad public key or node ID
  | 'payload-too-long'; // the message does not fit the geometry's payload

export class SphinxError extends Error {
  readonly code: SphinxErrorCode;
  constructor(code: SphinxErrorCode, message: string) {
    super(`sphinx: ${message}`);
    this.name = 'SphinxError';
    this.code = code;
  }
}
