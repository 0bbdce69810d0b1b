import { ByteReader, ByteWriter, sameBytes } from '../codec/bytes.js';
import { PkiError } from './errors.js';
import { isBytes, KEY_BYTES, SIGNATURE_BYTES } from './fields.js';

/**
 * One authority's signature on the document it tallied for an epoch, as sent to its peers
 * (docs/pki.md, "Voting"). The signature is the consensus signature itself (over
 * "umbra consensus document v1" ‖ the document without signatures); `digest` (consensusDigest)
 * names the document, so a peer that tallied a different one sees it at once.
 *
 *   magic "UMBS" (4) ‖ version 01 ‖ epoch (u64) ‖ signer (32) ‖ digest (32) ‖ signature (64)
 */
export interface SignatureShare {
  readonly epoch: number;
  readonly signer: Uint8Array;
  readonly digest: Uint8Array;
  readonly signature: Uint8Array;
}

export const SIGNATURE_SHARE_MAGIC = new Uint8Array([0x55, 0x4d, 0x42, 0x53]); // "UMBS"
export const SIGNATURE_SHARE_BYTES = 4 + 1 + 8 + KEY_BYTES + 32 + SIGNATURE_BYTES;

export function encodeSignatureShare(share: SignatureShare): Uint8Array {
  if (!Number.isSafeInteger(share.epoch) || share.epoch < 0 || !isBytes(share.signer, KEY_BYTES) || !isBytes(share.digest, 32) || !isBytes(share.signature, SIGNATURE_BYTES)) {
    throw new PkiError('invalid', 'signature share: a field breaks its rule');
  }
  return new ByteWriter(SIGNATURE_SHARE_BYTES).bytes(SIGNATURE_SHARE_MAGIC).u8(1).u64(share.epoch).bytes(share.signer).bytes(share.digest).bytes(share.signature).finish();
}

/** Parses a share ('malformed'); the signature is checked by whoever holds the document it names. */
export function decodeSignatureShare(bytes: Uint8Array): SignatureShare {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SIGNATURE_SHARE_BYTES) throw new PkiError('malformed', `signature share: not ${SIGNATURE_SHARE_BYTES} bytes`);
  try {
    const reader = new ByteReader(bytes, 'signature share');
    if (!sameBytes(reader.bytesOf(4, 'magic'), SIGNATURE_SHARE_MAGIC)) throw new PkiError('malformed', 'signature share: not a signature share');
    if (reader.u8('version') !== 1) throw new PkiError('malformed', 'signature share: unknown version');
    const epoch = reader.u64('epoch');
    const share = { epoch, signer: reader.bytesOf(KEY_BYTES, 'signer'), digest: reader.bytesOf(32, 'digest'), signature: reader.bytesOf(SIGNATURE_BYTES, 'signature') };
    reader.end();
    return share;
  } catch (error) {
    if (error instanceof PkiError) throw error;
    throw new PkiError('malformed', `signature share: ${error instanceof Error ? error.message : 'does not parse'}`);
  }
}
