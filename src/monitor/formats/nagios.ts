// Nagios / Icinga plugin output (Nagios Plugin Development Guidelines): one line
// "PGWARDEN <STATE> - <text> | <perfdata>", exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
// Perfdata: 'label'=value[UOM];[warn];[crit];[min];[max], labels quoted, without quote, "="
// or "|". Thresholds are ranges that alert exactly when pgwarden does (value >= limit:
// "@limit:", value <= limit: "@~:limit"), so a consumer that recomputes the state from the
// perfdata gets pgwarden's answer. A value that cannot be determined is left
// out: the guidelines allow "U", but Icinga 2 and Monitoring::Plugin reject or drop it.
import { STATE_CODE, worse, type CheckResult, type Level, type ServerResult, type Unit } from '../types.ts';
import { multiServer, oneLine, plainNumber } from './common.ts';

const UOM: Record<Unit, string> = { boolean: '', count: '', percent: '%', seconds: 's', bytes: 'B', bytes_per_hour: '', per_second: '' };

/**
 * Nagios turns every ";" of the status text into ":" (base/checks.c), so the text never holds
 * one, and lists use separators that survive: " * " between the rows of a check (as
 * check_postgres does), " // " between checks.
 */
export const ROW_SEPARATOR = ' * ';
export const CHECK_SEPARATOR = ' // ';

function label(text: string): string {
  // "=" is not allowed in a label, "|" would end the text part for some parsers, and a quote
  // (which the guidelines escape by doubling) breaks Monitoring::Plugin's parser.
  return `'${text.replace(/[='|]/g, '_').replace(/[\r\n]/g, ' ')}'`;
}

/** The plugin-guidelines range that alerts exactly when pgwarden's rule does. */
export function nagiosRange(limit: number | null, direction: 'above' | 'below'): string {
  if (limit === null || !Number.isFinite(limit)) return '';
  return direction === 'above' ? `@${plainNumber(limit)}:` : `@~:${plainNumber(limit)}`;
}

function perfdata(prefix: string, check: CheckResult): string[] {
  if (check.level === 'skipped' || check.error) return [];
  const uom = UOM[check.unit];
  const bounds = check.unit === 'percent' ? ';0;100' : check.unit === 'boolean' ? ';0;1' : '';
  const thresholds = `;${nagiosRange(check.thresholds.warning, check.thresholds.direction)};${nagiosRange(check.thresholds.critical, check.thresholds.direction)}`;
  return check.rows.filter((row) => row.value !== null && Number.isFinite(row.value)).map((row) => {
    const name = prefix + check.name + (row.item ? `::${row.item}` : '');
    return `${label(name)}=${plainNumber(row.value!)}${uom}${thresholds}${bounds}`.replace(/;+$/, '');
  });
}

/** Status text without what Nagios would rewrite or cut: no ";" and no "|". */
function text(value: string): string {
  return oneLine(value).replace(/;/g, ':').replace(/\|/g, '/');
}

/** What a check that is not OK says: its worst rows, or its error. */
function describe(check: CheckResult): string {
  const bad = check.rows.filter((r) => r.level !== 'ok');
  if (bad.length === 0) return text(check.summary);
  const shown = bad.slice(0, 3).map((r) => text((r.item ? `${r.item}: ` : '') + (r.detail ?? String(r.value))));
  return shown.join(ROW_SEPARATOR) + (bad.length > 3 ? `${ROW_SEPARATOR}and ${bad.length - 3} more` : '');
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
    if (server.error) parts.push(`${prefix}${text(server.error)}`);
    for (const check of server.checks) {
      perf.push(...perfdata(prefix, check));
      if (check.level === 'ok') ok++;
      else if (check.level === 'skipped') skipped++;
      // A server-wide error (unreachable, not installed) is said once, not once per check.
      else if (!server.error) parts.push(`${prefix}${check.name} ${check.level.toUpperCase()}: ${describe(check)}`);
    }
  }
  const counts = `${ok} ok${skipped ? `, ${skipped} skipped` : ''}`;
  const line = parts.length > 0 ? `${parts.join(CHECK_SEPARATOR)} (${counts})` : counts;
  return `PGWARDEN ${state} - ${line}${perf.length > 0 ? ` | ${perf.join(' ')}` : ''}\n`;
}

/** The plugin answer to anything that stopped the run (bad input included): UNKNOWN, exit 3. */
export function renderNagiosError(message: string): string {
  return `PGWARDEN UNKNOWN - ${text(message)}\n`;
}
