import { getCrypto, seededRandom } from '../src/crypto/index.js';
import { createIdentity } from '../src/e2e/identity.js';
import { MailEndpoint } from '../src/e2e/mail-endpoint.js';
import { median, round } from './timing.js';

/**
 * `npm run bench -- e2e`: MB/s to seal and fragment a mail, and to reassemble and open it, for
 * 1 KiB, 100 KiB and 10 MiB mails in an established session (sodium backend, 2048-byte fragments);
 * the bandwidth expansion (fragment bytes ÷ mail bytes); and, as the floor measured in the same
 * run, one XChaCha20-Poly1305 pass over the same mail.
 */
const SIZES = [1024, 100 * 1024, 10 * 1024 * 1024];

function rounds(size: number): number {
  return size >= 1024 * 1024 ? 3 : size >= 100 * 1024 ? 7 : 40;
}

export function benchE2e(): Record<string, unknown> {
  const crypto = getCrypto('sodium');
  const random = seededRandom(crypto, 99);
  const alice = new MailEndpoint(crypto, random, createIdentity(crypto, random, { name: 'Alice', servers: [] }));
  const bob = new MailEndpoint(crypto, random, createIdentity(crypto, random, { name: 'Bob', servers: [] }));
  // Establish the session both ways, so the figures are the steady state (ratchet messages).
  for (const [from, to] of [[alice, bob], [bob, alice]] as const) {
    for (const fragment of from.seal(to.card, random(10)).fragments) to.receive(fragment, 0);
  }
  const key = random(32);
  const nonce = random(24);
  const results = SIZES.map((size) => {
    const mail = random(size);
    const sealMs: number[] = [];
    const openMs: number[] = [];
    const aeadMs: number[] = [];
    let fragmentBytes = 0;
    for (let r = 0; r < rounds(size); r++) {
      let start = performance.now();
      const out = alice.seal(bob.card, mail);
      sealMs.push(performance.now() - start);
      fragmentBytes = out.fragments.length * out.fragments[0].length;
      start = performance.now();
      let delivered = false;
      for (const fragment of out.fragments) if (bob.receive(fragment, 0).status === 'delivered') delivered = true;
      openMs.push(performance.now() - start);
      if (!delivered) throw new Error('bench: the mail was not delivered');
      start = performance.now();
      crypto.xchacha20Poly1305Seal(key, nonce, mail);
      aeadMs.push(performance.now() - start);
    }
    const mbps = (ms: number): number => round(size / 1e6 / (ms / 1000), 1);
    const result = {
      bytes: size,
      seal_fragment_mb_s: mbps(median(sealMs)),
      reassemble_open_mb_s: mbps(median(openMs)),
      aead_floor_mb_s: mbps(median(aeadMs)),
      expansion: round(fragmentBytes / size, 2),
    };
    console.error(JSON.stringify(result));
    return result;
  });
  return { bench: 'e2e', backend: 'sodium', fragment_bytes: alice.params.fragmentLength, redundancy: alice.params.redundancy, results };
}
