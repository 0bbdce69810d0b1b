/**
 * The partition check (docs/client.md, "Consensus"): the digest of the document the authority
 * served is compared with what other mirrors serve for the same epoch. An authority that shows one
 * client a document the rest of the network does not see (to partition it from the others) is then
 * caught, as long as one of the mirrors asked is honest.
 */
export interface MirrorAnswer {
  /** Where the answer came from (a URL, for the message). */
  readonly mirror: string;
  /** The digest of the mirror's document, or why there is none (unreachable, no document …). */
  readonly digest?: Uint8Array;
  readonly failure?: string;
}

export type MirrorVerdict =
  | { readonly ok: true; readonly agreed: number }
  | { readonly ok: false; readonly kind: 'mismatch' | 'too-few'; readonly message: string };

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * Whether the mirrors' answers confirm `digest`: any mirror serving another document is a
 * mismatch; fewer than `required` confirming mirrors is too few.
 */
export function judgeMirrors(digest: Uint8Array, answers: readonly MirrorAnswer[], required: number): MirrorVerdict {
  const differing = answers.filter((answer) => answer.digest !== undefined && !equal(answer.digest, digest));
  if (differing.length > 0) {
    return { ok: false, kind: 'mismatch', message: `the consensus from the authority differs from the one served by ${differing.map((a) => a.mirror).join(', ')}: the network may be partitioned` };
  }
  const agreed = answers.filter((answer) => answer.digest !== undefined).length;
  if (agreed < required) {
    const failures = answers.filter((answer) => answer.digest === undefined).map((a) => `${a.mirror}: ${a.failure ?? 'no answer'}`);
    return { ok: false, kind: 'too-few', message: `only ${agreed} of the ${required} mirrors needed confirmed the consensus${failures.length === 0 ? '' : ` (${failures.join('; ')})`}` };
  }
  return { ok: true, agreed };
}

/** `candidates` shuffled (Fisher–Yates) with `randomIndex(n)` ∈ [0, n): mirrors are asked in this order. */
export function chooseMirrors<T>(candidates: readonly T[], randomIndex: (n: number) => number): T[] {
  const pool = [...candidates];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = randomIndex(i + 1);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return pool;
}
