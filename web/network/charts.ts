import { svg, type TemplateResult } from 'lit-html';

/**
 * Small SVG charts drawn with attributes only (the page's CSP allows no inline style): a rate
 * sparkline and a bar histogram, both scaled to their own maximum, with a text alternative.
 */
export function sparkline(values: readonly number[], label: string, width = 220, height = 40): TemplateResult {
  const max = Math.max(1e-9, ...values);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ');
  return svg`<svg class="spark" viewBox="0 0 ${width} ${height}" width=${width} height=${height} role="img" aria-label=${label}>
    <rect width=${width} height=${height} fill="#f3f4f6"></rect>
    ${values.length > 1 ? svg`<polyline points=${points} fill="none" stroke="#0b4fb3" stroke-width="2"></polyline>` : svg``}
  </svg>`;
}

export interface Bar {
  readonly label: string;
  readonly value: number;
}

export function bars(items: readonly Bar[], label: string, width = 220, height = 70): TemplateResult {
  const max = Math.max(1, ...items.map((b) => b.value));
  const slot = width / Math.max(1, items.length);
  const plot = height - 14;
  return svg`<svg class="bars" viewBox="0 0 ${width} ${height}" width=${width} height=${height} role="img" aria-label=${label}>
    <rect width=${width} height=${plot} fill="#f3f4f6"></rect>
    ${items.map((b, i) => {
      const h = (b.value / max) * (plot - 2);
      return svg`<rect x=${(i * slot + 1).toFixed(1)} y=${(plot - h).toFixed(1)} width=${Math.max(1, slot - 2).toFixed(1)} height=${h.toFixed(1)} fill="#0b4fb3"><title>${b.label}: ${b.value}</title></rect>
        <text x=${(i * slot + slot / 2).toFixed(1)} y=${height - 2} font-size="8" text-anchor="middle" fill="#333">${b.label}</text>`;
    })}
  </svg>`;
}

/** Cumulative Prometheus buckets to counts per bucket, labelled by their upper bound. */
export function perBucket(buckets: readonly { le: string; count: number }[], unit: (le: number) => string): Bar[] {
  return buckets.map((b, i) => ({ label: b.le === '+Inf' ? 'more' : unit(Number(b.le)), value: b.count - (i > 0 ? buckets[i - 1].count : 0) }));
}

/** Values into fixed bins (upper bounds), the last bin open. */
export function binned(values: readonly number[], bounds: readonly number[], unit: (x: number) => string): Bar[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of values) {
    const i = bounds.findIndex((b) => v <= b);
    counts[i === -1 ? bounds.length : i]++;
  }
  return counts.map((value, i) => ({ label: i < bounds.length ? unit(bounds[i]) : 'more', value }));
}
