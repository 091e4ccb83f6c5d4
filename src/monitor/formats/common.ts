// What the output formats share.
import type { ServerResult } from '../types.ts';

/** A number as plain decimal text: no exponent (Nagios perfdata and Zabbix reject it). */
export function plainNumber(value: number): string {
  if (!Number.isFinite(value)) return 'U';
  if (Number.isInteger(value)) return Math.abs(value) < 1e21 ? String(value) : value.toFixed(0);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(12).replace(/0+$/, '').replace(/\.$/, '');
}

export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

/** Whether results from several servers are shown (labels then carry the server name). */
export function multiServer(results: readonly ServerResult[]): boolean {
  return results.length > 1;
}

