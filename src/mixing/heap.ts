/**
 * The two moves of a binary min-heap over any storage: the caller says how two slots compare and
 * how they swap, so a heap of objects (the mix schedule) and one of parallel arrays (the
 * simulator's event queue) share one implementation.
 */
export interface HeapSlots {
  /** True when slot `a` must come out before slot `b`. */
  less(a: number, b: number): boolean;
  swap(a: number, b: number): void;
}

/** Moves slot `i` up until its parent comes first. */
export function siftUp(slots: HeapSlots, i: number): void {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!slots.less(i, parent)) return;
    slots.swap(i, parent);
    i = parent;
  }
}

/** Moves slot `i` down, among `size` slots, until both children come after it. */
export function siftDown(slots: HeapSlots, i: number, size: number): void {
  for (;;) {
    const left = 2 * i + 1;
    const right = left + 1;
    let least = i;
    if (left < size && slots.less(left, least)) least = left;
    if (right < size && slots.less(right, least)) least = right;
    if (least === i) return;
    slots.swap(i, least);
    i = least;
  }
}
