/** Small text helpers for the command line's human-readable output. */

/** The first 8 hex characters: enough to tell IDs apart at a glance. */
export function short(hex: string): string {
  return hex.slice(0, 8);
}

export function formatMs(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

export type Align = 'left' | 'right';

/** A plain-text table with a header row; columns are as wide as their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = [], indent = '  '): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    indent +
    widths
      .map((width, column) => {
        const cell = cells[column] ?? '';
        return align[column] === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}
