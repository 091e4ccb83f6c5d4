// Charts as plain SVG, drawn on the server: stacked bars over time and horizontal bars. Colours
// and sizes are SVG attributes (never style attributes), and hover text is <title>, so they
// need neither script nor inline style.
import { Html, html, formatTime } from './html.ts';

/** A colour per event kind, the same on every page. */
export const KIND_COLOURS: Record<string, string> = {
  audit: '#4e79a7', connection_received: '#a0cbe8', connection_authorized: '#59a14f', disconnection: '#8cd17d',
  auth_failed: '#e15759', guard_deny: '#f28e2b', guard_allow: '#b6992d', ddl: '#b07aa1', tamper: '#9c1c1c', response: '#76b7b2',
  error: '#ff9d9a', log: '#bab0ac',
};

function colourOf(kind: string): string {
  return KIND_COLOURS[kind] ?? '#79706e';
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return String(Math.round(n));
}

export interface SeriesInput {
  from: Date;
  to: Date;
  bucketMs: number;
  points: { t: string; kind: string; events: number }[];
  /** the kinds to stack, bottom first (default: those present) */
  kinds?: string[];
  label: string;
}

/** Stacked bars: one per bucket, one segment per kind. */
export function stackedBars(input: SeriesInput): Html {
  const width = 960;
  const height = 220;
  const left = 48;
  const bottom = 24;
  const start = Math.floor(input.from.getTime() / input.bucketMs) * input.bucketMs;
  const buckets = Math.max(1, Math.ceil((input.to.getTime() - start) / input.bucketMs));
  const kinds = input.kinds ?? [...new Set(input.points.map((p) => p.kind))].sort((a, b) => Object.keys(KIND_COLOURS).indexOf(a) - Object.keys(KIND_COLOURS).indexOf(b));
  const cells = new Map<string, number>();
  const totals = new Array<number>(buckets).fill(0);
  for (const point of input.points) {
    const index = Math.floor((Date.parse(point.t) - start) / input.bucketMs);
    if (index < 0 || index >= buckets || !kinds.includes(point.kind)) continue;
    cells.set(`${index}/${point.kind}`, (cells.get(`${index}/${point.kind}`) ?? 0) + point.events);
    totals[index]! += point.events;
  }
  const max = Math.max(1, ...totals);
  const plotHeight = height - bottom - 8;
  const slot = (width - left) / buckets;
  const barWidth = Math.max(1, slot * 0.8);
  const bars: Html[] = [];
  for (let i = 0; i < buckets; i++) {
    let y = height - bottom;
    const at = new Date(start + i * input.bucketMs);
    for (const kind of kinds) {
      const value = cells.get(`${i}/${kind}`) ?? 0;
      if (value === 0) continue;
      const h = (value / max) * plotHeight;
      y -= h;
      bars.push(html`<rect x="${(left + i * slot).toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${Math.max(h, 0.5).toFixed(1)}" fill="${colourOf(kind)}"><title>${formatTime(at)} · ${kind}: ${value}</title></rect>`);
    }
  }
  const ticks = [0, Math.floor(buckets / 2), buckets - 1].filter((v, i, all) => all.indexOf(v) === i);
  return html`<figure class="chart">
<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${input.label}">
  <line x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}" stroke="#999"/>
  <text x="${left - 6}" y="14" text-anchor="end" class="axis">${compact(max)}</text>
  <text x="${left - 6}" y="${height - bottom}" text-anchor="end" class="axis">0</text>
  ${ticks.map((i, n) => html`<text x="${(left + i * slot + (n === ticks.length - 1 && n > 0 ? barWidth : 0)).toFixed(1)}" y="${height - 6}" class="axis"${n === ticks.length - 1 && n > 0 ? html` text-anchor="end"` : ''}>${formatTime(new Date(start + i * input.bucketMs)).slice(0, 16)}</text>`)}
  ${bars}
</svg>
<figcaption>${input.label}${kinds.length ? html` — ${kinds.map((k) => html`<span class="key"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${colourOf(k)}"/></svg> ${k}</span>`)}` : ' — no events in this range'}</figcaption>
</figure>`;
}

/** A small horizontal bar for a table cell: value relative to max. */
export function inlineBar(value: number, max: number, colour = '#4e79a7'): Html {
  const width = max > 0 ? Math.max(value > 0 ? 1 : 0, Math.round((value / max) * 120)) : 0;
  return html`<svg class="bar" width="120" height="10" aria-hidden="true"><rect width="${width}" height="10" fill="${colour}"/></svg>`;
}
