// Zabbix: input for `zabbix_sender -i FILE` (one "<host> <key> <value>" per line; "-" is the
// host given to zabbix_sender with -s). The first line per server sends the low-level
// discovery (LLD) JSON to pgwarden.discovery, with macros {#CHECK}, {#ITEM}, {#UNIT}; then
// pgwarden.value[check,item] (the measured value) and pgwarden.status[check,item]
// (0 ok, 1 warning, 2 critical, 3 unknown; -1 skipped) follow for each row.
import { STATE_CODE, type ServerResult } from '../types.ts';
import { multiServer, plainNumber } from './common.ts';

/** A zabbix_sender input field: quoted when it holds a space, quote or backslash. */
export function senderField(text: string): string {
  return /[\s"\\]/.test(text) || text === '' ? `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : text;
}

/** An item key parameter: quoted when it holds a comma, bracket, quote, space or is empty. */
export function keyParam(text: string): string {
  return /[,[\]"\s]/.test(text) || text === '' ? `"${text.replace(/"/g, '\\"')}"` : text;
}

export function renderZabbix(results: readonly ServerResult[]): string {
  const many = multiServer(results);
  const lines: string[] = [];
  for (const server of results) {
    const host = many ? server.server : '-';
    const discovery: Record<string, string>[] = [];
    const values: string[] = [];
    for (const check of server.checks) {
      const rows = check.rows.length > 0 ? check.rows : [{ item: '', value: null, level: check.level }];
      for (const row of rows) {
        discovery.push({ '{#CHECK}': check.name, '{#ITEM}': row.item, '{#UNIT}': check.unit, '{#CATEGORY}': check.category });
        const key = (name: string) => `pgwarden.${name}[${keyParam(check.name)},${keyParam(row.item)}]`;
        const status = check.level === 'skipped' ? -1 : STATE_CODE[row.level === 'ok' && check.error ? check.level : row.level];
        values.push(`${senderField(host)} ${senderField(key('status'))} ${status}`);
        if (row.value !== null) values.push(`${senderField(host)} ${senderField(key('value'))} ${plainNumber(row.value)}`);
      }
    }
    lines.push(`${senderField(host)} pgwarden.discovery ${senderField(JSON.stringify({ data: discovery }))}`, ...values);
  }
  return lines.join('\n') + '\n';
}
