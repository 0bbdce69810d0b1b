import { x25519 } from '@noble/curves/ed25519.js';
import sodium from 'sodium-native';
import type { BackendName } from '../src/crypto/index.js';

/**
 * The floor of a Sphinx unwrap: raw X25519 scalar multiplications, called on each library directly
 * (no Umbra wrapper, no allocation), so the ratio charges all of Umbra's overhead to the unwrap.
 */
export function rawX25519(backend: BackendName): (scalar: Uint8Array, point: Uint8Array) => void {
  if (backend === 'sodium') {
    const out = new Uint8Array(32);
    return (scalar, point) => sodium.crypto_scalarmult(out, scalar, point);
  }
  return (scalar, point) => {
    x25519.scalarMult(scalar, point);
  };
}
