// check_mk local checks (one service per line):
//   <state> <service name> <metrics or -> <text>
// state 0..3, service name without spaces, metrics name=value;warn;crit;min;max joined by |.
import { STATE_CODE, type CheckResult, type ServerResult } from '../types.ts';
import { multiServer, oneLine, plainNumber } from './common.ts';

function metricName(text: string): string {
  return text.replace(/[^A-Za-z0-9_]/g, '_').replace(/_+/g, '_').replace(/^_|_$/g, '') || 'value';
}

export function serviceName(server: string | null, check: string): string {
  return ['pgwarden', server, check].filter(Boolean).join('_').replace(/[^A-Za-z0-9_.-]/g, '_');
}

function metrics(check: CheckResult): string {
  const limit = (v: number | null) => (v === null || check.thresholds.direction === 'below' ? '' : plainNumber(v));
  const bounds = check.unit === 'percent' ? ';0;100' : '';
  const seen = new Set<string>();
  const parts = check.rows.filter((r) => r.value !== null).flatMap((row) => {
    const name = metricName(row.item ? `${check.name}_${row.item}` : check.name);
    if (seen.has(name)) return [];
    seen.add(name);
    return [`${name}=${plainNumber(row.value!)};${limit(check.thresholds.warning)};${limit(check.thresholds.critical)}${bounds}`];
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
