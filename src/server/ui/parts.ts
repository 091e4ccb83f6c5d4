// Pieces the dashboard's pages share: the time-range picker, long statement text, the links from
// a count to the events behind it, and a check's history as a strip of levels. All plain HTML and
// SVG: no script, no style attribute (the Content-Security-Policy forbids both).
import type { TimeRange } from '../queries/range.ts';
import { Html, formatTime, html, query } from './html.ts';

export type Query = Record<string, string | undefined>;

const PRESETS = ['1h', '6h', '24h', '7d', '30d'] as const;

/** A time as a datetime-local field shows it: UTC, to the minute. */
function fieldTime(date: Date): string {
  return date.toISOString().slice(0, 16);
}

/**
 * The time range of a page: preset links, and a from/to picker (datetime-local fields, read as
 * UTC) in a GET form that keeps the page's other filters.
 */
export function rangePicker(path: string, current: Query, range: TimeRange): Html {
  const selected = current.to ? '' : (current.from || '24h');
  const kept = Object.entries(current).filter(([name, value]) => !['from', 'to', 'cursor'].includes(name) && value !== undefined && value !== '');
  return html`<form class="range" method="get" action="${path}" aria-label="time range">
    <span class="presets">${PRESETS.map((r) => html`<a href="${path}${query({ ...current, from: r, to: undefined, cursor: undefined })}"${selected === r ? html` aria-current="true"` : ''}>${r}</a>`)}</span>
    <label>From <input type="datetime-local" name="from" value="${fieldTime(range.from)}" step="60" required></label>
    <label>To <input type="datetime-local" name="to" value="${current.to ? fieldTime(range.to) : ''}" step="60"></label>
    ${kept.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
    <button type="submit">Show</button>
    <span class="note">${current.to ? '' : 'to: now · '}times in UTC</span>
  </form>`;
}

/** The range of a page carried by its filter form, so that filtering keeps it. */
export function rangeHidden(current: Query): Html {
  return html`${current.from ? html`<input type="hidden" name="from" value="${current.from}">` : ''}${current.to ? html`<input type="hidden" name="to" value="${current.to}">` : ''}`;
}

/** Characters of a statement a table row shows; the rest opens below it. */
export const STATEMENT_SHOWN = 160;

/** Statement text: the first STATEMENT_SHOWN characters, the whole of it one click away (<details>). */
export function statementText(text: string | null | undefined): Html | string {
  if (!text) return '';
  const chars = [...text];
  if (chars.length <= STATEMENT_SHOWN) return text;
  return html`<details class="long"><summary><span class="start">${chars.slice(0, STATEMENT_SHOWN).join('').trimEnd()}…</span></summary><div class="whole">${text}</div></details>`;
}

/** A link to a session's page (its logins and everything it did). */
export function sessionLink(server: string | null, sessionId: string | null, label?: string): Html | string {
  if (!sessionId) return '';
  return html`<a href="/session${query({ server: server ?? '', id: sessionId })}">${label ?? sessionId}</a>`;
}

/** A count that links to the events it counts (nothing to link when it is 0). */
export function countLink(n: number, href: string, strong = false): Html | number {
  if (n === 0) return 0;
  return strong ? html`<a href="${href}"><strong>${n}</strong></a>` : html`<a href="${href}">${n}</a>`;
}

export const LEVEL_COLOURS: Record<string, string> = { ok: '#59a14f', warning: '#e8a33b', critical: '#c0392b', unknown: '#8e44ad', skipped: '#bab0ac' };
export const LEVEL_ORDER = ['skipped', 'ok', 'warning', 'unknown', 'critical'] as const;

/** A check's history: one cell per bucket, in the colour of its worst level, empty where it did not run. */
export function levelStrip(range: TimeRange, bucketMs: number, cells: { t: Date; level: string; runs: number }[], label: string): Html {
  const width = 240;
  const height = 14;
  const start = Math.floor(range.from.getTime() / bucketMs) * bucketMs;
  const buckets = Math.max(1, Math.ceil((range.to.getTime() - start) / bucketMs));
  const slot = width / buckets;
  return html`<svg class="strip" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${label}">
    <rect width="${width}" height="${height}" fill="#eef1f4"/>
    ${cells.map((c) => {
      const i = Math.floor((c.t.getTime() - start) / bucketMs);
      if (i < 0 || i >= buckets) return '';
      return html`<rect x="${(i * slot).toFixed(2)}" width="${Math.max(1, slot - 0.5).toFixed(2)}" height="${height}" fill="${LEVEL_COLOURS[c.level] ?? '#999'}"><title>${formatTime(c.t).slice(0, 16)}: ${c.level} (${c.runs} run${c.runs === 1 ? '' : 's'})</title></rect>`;
    })}
  </svg>`;
}
