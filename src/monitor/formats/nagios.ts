// Nagios / Icinga plugin output (Nagios Plugin Development Guidelines): one line
// "PGWARDEN <STATE> - <text> | <perfdata>", exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
// Perfdata: 'label'=value[UOM];[warn];[crit];[min];[max], labels quoted, a quote doubled,
// "=" not allowed in labels; a value that cannot be determined is U.
import { STATE_CODE, worse, type CheckResult, type Level, type ServerResult, type Unit } from '../types.ts';
import { multiServer, oneLine, plainNumber } from './common.ts';

const UOM: Record<Unit, string> = { boolean: '', count: '', percent: '%', seconds: 's', bytes: 'B', bytes_per_hour: '', per_second: '' };

function label(text: string): string {
  // "=" is not allowed in a label, "|" would end the text part for some parsers.
  return `'${text.replace(/[=|]/g, '_').replace(/'/g, "''").replace(/[\r\n]/g, ' ')}'`;
}

function range(limit: number | null, direction: 'above' | 'below'): string {
  if (limit === null) return '';
  return direction === 'above' ? plainNumber(limit) : `${plainNumber(limit)}:`;
}

function perfdata(prefix: string, check: CheckResult): string[] {
  if (check.level === 'skipped' || check.error) return [];
  const uom = UOM[check.unit];
  const bounds = check.unit === 'percent' ? ';0;100' : check.unit === 'boolean' ? ';0;1' : '';
  return check.rows.map((row) => {
    const name = prefix + check.name + (row.item ? `::${row.item}` : '');
    const value = row.value === null ? 'U' : plainNumber(row.value) + uom;
    const thresholds = `;${range(check.thresholds.warning, check.thresholds.direction)};${range(check.thresholds.critical, check.thresholds.direction)}`;
    return `${label(name)}=${value}${thresholds}${bounds}`.replace(/;+$/, '');
  });
}

export function worstLevel(results: readonly ServerResult[]): Level {
  return results.reduce<Level>((acc, r) => worse(acc, r.level), 'ok');
}

export function nagiosExitCode(results: readonly ServerResult[]): number {
  return STATE_CODE[worstLevel(results)];
}

export function renderNagios(results: readonly ServerResult[]): string {
  const many = multiServer(results);
  const level = worstLevel(results);
  const state = level === 'skipped' ? 'OK' : level.toUpperCase();
  const parts: string[] = [];
  const perf: string[] = [];
  let ok = 0;
  let skipped = 0;
  for (const server of results) {
    const prefix = many ? `${server.server}/` : '';
    if (server.error) parts.push(`${prefix}${server.error}`);
    for (const check of server.checks) {
      perf.push(...perfdata(prefix, check));
      if (check.level === 'ok') ok++;
      else if (check.level === 'skipped') skipped++;
      // A server-wide error (unreachable, not installed) is said once, not once per check.
      else if (!server.error) parts.push(`${prefix}${check.name} ${check.level.toUpperCase()}: ${check.summary}`);
    }
  }
  const counts = `${ok} ok${skipped ? `, ${skipped} skipped` : ''}`;
  const text = oneLine(parts.length > 0 ? `${parts.join('; ')} (${counts})` : `${counts}`).replace(/\|/g, '/');
  return `PGWARDEN ${state} - ${text}${perf.length > 0 ? ` | ${perf.join(' ')}` : ''}\n`;
}
