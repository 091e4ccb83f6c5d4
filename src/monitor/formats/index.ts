// The output formats of `pgwarden check`, by name, and the answer each gives when the run
// could not start (docs/monitor.md, "When pgwarden check itself fails").
import type { ServerResult } from '../types.ts';
import { renderCheckmk, renderCheckmkError } from './checkmk.ts';
import { renderJson, renderJsonError } from './json.ts';
import { nagiosExitCode, renderNagios, renderNagiosError, worstLevel } from './nagios.ts';
import { renderPrometheus, renderPrometheusError } from './prometheus.ts';
import { renderZabbix, renderZabbixError } from './zabbix.ts';

export const CHECK_FORMATS = ['nagios', 'checkmk', 'zabbix', 'prometheus', 'json'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

export function isCheckFormat(value: unknown): value is CheckFormat {
  return typeof value === 'string' && (CHECK_FORMATS as readonly string[]).includes(value);
}

export function renderResults(results: readonly ServerResult[], format: CheckFormat): string {
  switch (format) {
    case 'nagios': return renderNagios(results);
    case 'checkmk': return renderCheckmk(results);
    case 'zabbix': return renderZabbix(results);
    case 'prometheus': return renderPrometheus(results);
    case 'json': return renderJson(results);
  }
}

/** The consumer-shaped answer to an error that stopped the run; an unknown format answers as nagios. */
export function renderError(message: string, format: CheckFormat | undefined): string {
  switch (format) {
    case 'checkmk': return renderCheckmkError(message);
    case 'zabbix': return renderZabbixError(message);
    case 'prometheus': return renderPrometheusError(message);
    case 'json': return renderJsonError(message);
    default: return renderNagiosError(message);
  }
}

/** Exit code of a run that could not start: UNKNOWN for every format. */
export const ERROR_EXIT_CODE = 3;

/**
 * nagios: the plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
 * Other formats carry the state in their output: 0 when at least one server was checked, else 3.
 */
export function exitCode(results: readonly ServerResult[], format: CheckFormat): number {
  if (format === 'nagios') return nagiosExitCode(results);
  return results.some((r) => r.error === null) ? 0 : 3;
}

export { renderCheckmk, renderJson, renderNagios, renderPrometheus, renderZabbix, worstLevel };
