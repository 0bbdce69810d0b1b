import type { ReplayFilter } from '../sphinx/replay.js';
import { BloomReplayFilter } from './bloom-replay.js';
import type { ReplaySizing } from './replay-sizing.js';

/**
 * A replay filter for one epoch key made of two Bloom generations (docs/nodes.md, "Replay
 * filter"). A tag is a replay when either generation holds it; new tags go into the current one.
 * When the current generation reaches its capacity it becomes the previous one, the old previous
 * one is dropped, and a new current one is sized by `sizing()` (read again at each rotation, so a
 * newer consensus resizes it). The false-positive rate therefore stays under the sizing's target
 * however many tags arrive; the cost is that a packet whose tag was in a dropped generation is no
 * longer recognised, which is why generations are sized so that an epoch's expected traffic fits in
 * one and `rotations` is reported.
 */
export class RotatingReplayFilter implements ReplayFilter {
  private current: { bloom: BloomReplayFilter; capacity: number } | undefined;
  private previous: BloomReplayFilter | undefined;
  private rotationCount = 0;

  constructor(
    private readonly sizing: () => ReplaySizing,
    private readonly onRotate: () => void = () => undefined,
  ) {}

  /** Tags recorded in the generations held. */
  get size(): number {
    return (this.current?.bloom.size ?? 0) + (this.previous?.size ?? 0);
  }

  /** Generations retired so far. */
  get rotations(): number {
    return this.rotationCount;
  }

  /** Memory the generations hold, in bytes. */
  get bytes(): number {
    return (this.current?.bloom.bytes ?? 0) + (this.previous?.bytes ?? 0);
  }

  testAndSet(tag: Uint8Array): boolean {
    this.current ??= this.generation();
    if (this.previous !== undefined && this.previous.has(tag)) return true;
    if (this.current.bloom.testAndSet(tag)) return true;
    if (this.current.bloom.size >= this.current.capacity) {
      this.previous = this.current.bloom;
      this.current = this.generation();
      this.rotationCount++;
      this.onRotate();
    }
    return false;
  }

  private generation(): { bloom: BloomReplayFilter; capacity: number } {
    const sizing = this.sizing();
    return { bloom: new BloomReplayFilter(sizing.log2Bits, sizing.probes), capacity: sizing.capacity };
  }
}
