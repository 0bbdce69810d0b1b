/**
 * Replay detection. A mix keeps one filter per Sphinx key (per epoch) and drops a packet whose
 * tag it has seen; when the key is destroyed at rotation, the filter goes with it.
 */
export interface ReplayFilter {
  /** Records the tag; returns true if it had already been recorded. */
  testAndSet(tag: Uint8Array): boolean;
  readonly size: number;
}

/** An exact in-memory filter: a Set of tags (16 bytes of each 32-byte tag suffice to be unique). */
export class MemoryReplayFilter implements ReplayFilter {
  private readonly seen = new Set<string>();

  testAndSet(tag: Uint8Array): boolean {
    const key = String.fromCharCode(...tag.subarray(0, 16));
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    return false;
  }

  get size(): number {
    return this.seen.size;
  }
}
