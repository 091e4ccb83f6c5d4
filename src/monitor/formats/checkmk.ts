// check_mk local checks (one service per line):
//   <state> <service name> <metrics or -> <text>
// state 0..3, service name without spaces, metrics joined by |, each
//   name=value;[warn_lower:]warn_upper;[crit_lower:]crit_upper;min;max
// (cmk's local check parser): a check where high is bad gets upper levels ("80"), one where
// low is bad lower levels ("90:"), so graphs show the thresholds pgwarden applies.
import { STATE_CODE, type CheckResult, type ServerResult } from '../types.ts';
import { multiServer, oneLine, plainNumber } from './common.ts';

function metricName(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '') || 'value';
}

export function serviceName(server: string | null, check: string): string {
  return ['pgwarden', server, check].filter(Boolean).join('_').replace(/[^A-Za-z0-9_.-]/g, '_');
}

function levels(limit: number | null, direction: 'above' | 'below'): string {
  if (limit === null || !Number.isFinite(limit)) return '';
  return direction === 'above' ? plainNumber(limit) : `${plainNumber(limit)}:`;
}

function metrics(check: CheckResult): string {
  const { warning, critical, direction } = check.thresholds;
  const bounds = check.unit === 'percent' ? ';0;100' : check.unit === 'boolean' ? ';0;1' : '';
  const seen = new Set<string>();
  const parts = check.rows.filter((r) => r.value !== null && Number.isFinite(r.value)).flatMap((row) => {
    const name = metricName(row.item ? `${check.name}_${row.item}` : check.name);
    if (seen.has(name)) return [];
    seen.add(name);
    return [`${name}=${plainNumber(row.value!)};${levels(warning, direction)};${levels(critical, direction)}${bounds}`.replace(/;+$/, '')];
  });
  return parts.length > 0 ? parts.join('|') : '-';
}

export function renderCheckmk(results: readonly ServerResult[]): string {
  const many = multiServer(results);
  const lines: string[] = [];
  for (const server of results) {
    for (const check of server.checks) {
      const state = STATE_CODE[check.level];
      const text = check.level === 'skipped' ? `skipped: ${check.summary}` : check.summary;
      lines.push(`${state} ${serviceName(many ? server.server : null, check.name)} ${metrics(check)} ${oneLine(text)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Anything that stopped the run: one UNKNOWN service "pgwarden" saying why. */
export function renderCheckmkError(message: string): string {
  return `3 pgwarden - ${oneLine(message) || 'unknown error'}\n`;
}
