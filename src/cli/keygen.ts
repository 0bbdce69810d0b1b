import { toBase64Url } from '../codec/bytes.js';
import { getCrypto } from '../crypto/index.js';
import { parseOptions } from './parse.js';

/**
 * `umbra keygen`: fresh node keys as JSON — the identity seed (signs descriptors or consensus
 * documents; its public key is the node ID) and the link seed (its TLS certificate's key). Paste
 * the seeds into the node's config; publish only the public keys.
 */
export function keygenCommand(args: readonly string[]): number {
  parseOptions('keygen', args, {});
  const crypto = getCrypto();
  const identitySeed = crypto.randomBytes(32);
  const linkSeed = crypto.randomBytes(32);
  const keys = {
    identitySeed: toBase64Url(identitySeed),
    identityPublicKey: toBase64Url(crypto.ed25519PublicKey(identitySeed)),
    linkSeed: toBase64Url(linkSeed),
    linkPublicKey: toBase64Url(crypto.ed25519PublicKey(linkSeed)),
  };
  process.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
  return 0;
}
