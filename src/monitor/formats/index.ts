// The output formats of `pgwarden check`, by name.
import type { ServerResult } from '../types.ts';
import { renderCheckmk } from './checkmk.ts';
import { renderJson } from './json.ts';
import { nagiosExitCode, renderNagios, worstLevel } from './nagios.ts';
import { renderPrometheus } from './prometheus.ts';
import { renderZabbix } from './zabbix.ts';

export const CHECK_FORMATS = ['nagios', 'checkmk', 'zabbix', 'prometheus', 'json'] as const;
export type CheckFormat = (typeof CHECK_FORMATS)[number];

export function renderResults(results: readonly ServerResult[], format: CheckFormat): string {
  switch (format) {
    case 'nagios': return renderNagios(results);
    case 'checkmk': return renderCheckmk(results);
    case 'zabbix': return renderZabbix(results);
    case 'prometheus': return renderPrometheus(results);
    case 'json': return renderJson(results);
  }
}

/**
 * nagios: the plugin convention (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
 * Other formats carry the state in their output: 0 when at least one server was checked, else 3.
 */
export function exitCode(results: readonly ServerResult[], format: CheckFormat): number {
  if (format === 'nagios') return nagiosExitCode(results);
  return results.some((r) => r.error === null) ? 0 : 3;
}

export { renderCheckmk, renderJson, renderNagios, renderPrometheus, renderZabbix, worstLevel };
