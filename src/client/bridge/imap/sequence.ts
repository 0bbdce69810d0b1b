/**
 * Sequence sets (RFC 3501 section 9, `sequence-set`): `1:4,7,9:*`. Numbers are message sequence
 * numbers or UIDs; `*` is the largest one in use. Bounded: at most MAX_RANGES ranges.
 */
export type SequenceSet = ReadonlyArray<readonly [number, number]>;

const MAX_RANGES = 1000;
const NUMBER = /^[1-9]\d{0,9}$/;

export function parseSequenceSet(text: string): SequenceSet | undefined {
  const parts = text.split(',');
  if (parts.length > MAX_RANGES) return undefined;
  const ranges: [number, number][] = [];
  for (const part of parts) {
    const ends = part.split(':');
    if (ends.length > 2) return undefined;
    const values = ends.map((e) => (e === '*' ? Infinity : NUMBER.test(e) ? Number(e) : NaN));
    if (values.some((v) => Number.isNaN(v) || (v !== Infinity && v > 2 ** 32 - 1))) return undefined;
    const [a, b] = values.length === 1 ? [values[0], values[0]] : values;
    ranges.push(a <= b ? [a, b] : [b, a]);
  }
  return ranges;
}

/** Whether `n` is in the set, `*` standing for `largest` (0 in an empty folder). */
export function inSet(set: SequenceSet, n: number, largest: number): boolean {
  return set.some(([a, b]) => {
    const lo = a === Infinity ? largest : a;
    const hi = b === Infinity ? largest : b;
    return n >= Math.min(lo, hi) && n <= Math.max(lo, hi);
  });
}

/** A UID set for a response code (COPYUID, APPENDUID): ascending, ranges joined. */
export function formatUidSet(uids: readonly number[]): string {
  const out: string[] = [];
  let start = -1;
  let prev = -1;
  for (const uid of uids) {
    if (start >= 0 && uid === prev + 1) {
      prev = uid;
      continue;
    }
    if (start >= 0) out.push(start === prev ? `${start}` : `${start}:${prev}`);
    start = uid;
    prev = uid;
  }
  if (start >= 0) out.push(start === prev ? `${start}` : `${start}:${prev}`);
  return out.join(',');
}
