// Zabbix: input for `zabbix_sender -i FILE` (one "<host> <key> <value>" per line; "-" is the
// host given to zabbix_sender with -s). Per server:
//   pgwarden.discovery.status  LLD JSON, one row per check ({#ITEM} "") and per check item
//   pgwarden.discovery.value   LLD JSON, one row per check item (not for a check that has only a status)
//   pgwarden.state             worst level of the run (0 ok ... 3 unknown), a plain trapper item
//   pgwarden.error             why the run failed, "" when it did not
//   pgwarden.status[CHECK,ITEM] level (-1 skipped, 0 ok, 1 warning, 2 critical, 3 unknown)
//   pgwarden.value[CHECK,ITEM]  the measured value
// Zabbix builds the item keys from the prototypes pgwarden.status[{#CHECK},{#ITEM}] itself, and
// the sender's key must match byte for byte: keyParam() substitutes exactly as Zabbix does.
import { STATE_CODE, worse, type Level, type ServerResult } from '../types.ts';
import { multiServer, plainNumber } from './common.ts';

/** A zabbix_sender input field: quoted when it holds a space, quote or backslash (escapes \" and \\). */
export function senderField(text: string): string {
  return /[\s"\\]/.test(text) || text === '' ? `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : text;
}

/** Zabbix 6.0 ITEM_KEY_LEN: a longer key is refused when the item is created. */
const ITEM_KEY_LEN = 2048;

/**
 * An LLD macro value as Zabbix puts it into an unquoted key parameter of a prototype
 * (quote_key_param in Zabbix's sysinfo.c): quoted, with " escaped as \", only when it starts
 * with a double quote, a space or "[", or contains "," or "]"; otherwise as it is (an empty
 * value gives an empty parameter). A value that needs quotes but ends in a backslash cannot be
 * quoted: Zabbix creates no item for it, and this returns null.
 */
export function keyParam(text: string): string | null {
  const needsQuotes = /^["[ ]/.test(text) || text.includes(',') || text.includes(']');
  if (!needsQuotes) return text;
  if (text.endsWith('\\')) return null;
  return `"${text.replace(/"/g, '\\"')}"`;
}

/** The key Zabbix creates from prototype NAME[{#CHECK},{#ITEM}], or null when it creates none or it cannot be sent. */
export function itemKey(name: string, check: string, item: string): string | null {
  // zabbix_sender reads one value per line: an item with a line break cannot be sent.
  if (/[\r\n]/.test(item)) return null;
  const param = keyParam(item);
  if (param === null) return null;
  const key = `${name}[${check},${param}]`;
  return [...key].length > ITEM_KEY_LEN ? null : key;
}

const STATUS: Record<Level, number> = { ...STATE_CODE, skipped: -1 };

export function renderZabbix(results: readonly ServerResult[]): string {
  const many = multiServer(results);
  const lines: string[] = [];
  for (const server of results) {
    const host = senderField(many ? server.server : '-');
    const statusRows: Record<string, string>[] = [];
    const valueRows: Record<string, string>[] = [];
    const values: string[] = [];
    const seen = new Set<string>();
    let level: Level = server.error ? server.level : 'ok';
    for (const check of server.checks) {
      level = worse(level, check.level);
      const macros = { '{#CHECK}': check.name, '{#CATEGORY}': check.category };
      // The check as a whole: always there, so a row Zabbix cannot hold still raises it.
      const checkKey = itemKey('pgwarden.status', check.name, '')!;
      seen.add(checkKey);
      statusRows.push({ ...macros, '{#ITEM}': '' });
      values.push(`${host} ${senderField(checkKey)} ${STATUS[check.level]}`);
      for (const row of check.rows) {
        const statusKey = itemKey('pgwarden.status', check.name, row.item);
        if (statusKey === null) continue;
        if (!seen.has(statusKey)) {
          seen.add(statusKey);
          statusRows.push({ ...macros, '{#ITEM}': row.item });
          values.push(`${host} ${senderField(statusKey)} ${STATUS[row.level]}`);
        }
        // A row has a value item even while its value is unknown (a first sample, no backup
        // yet): Zabbix creates items after the send that discovers them, so an item made only
        // when the value appears would lose that first value.
        const valueKey = itemKey('pgwarden.value', check.name, row.item)!;
        if (seen.has(valueKey)) continue;
        seen.add(valueKey);
        valueRows.push({ ...macros, '{#ITEM}': row.item, '{#UNIT}': check.unit });
        if (row.value !== null && Number.isFinite(row.value)) values.push(`${host} ${senderField(valueKey)} ${plainNumber(row.value)}`);
      }
    }
    lines.push(
      `${host} pgwarden.discovery.status ${senderField(JSON.stringify({ data: statusRows }))}`,
      `${host} pgwarden.discovery.value ${senderField(JSON.stringify({ data: valueRows }))}`,
      `${host} pgwarden.state ${STATUS[level === 'skipped' ? 'ok' : level]}`,
      `${host} pgwarden.error ${senderField(server.error ?? '')}`,
      ...values,
    );
  }
  return lines.join('\n') + '\n';
}

/** Anything that stopped the run: the host's state item UNKNOWN (3) and the reason. */
export function renderZabbixError(message: string): string {
  return `- pgwarden.state 3\n- pgwarden.error ${senderField(message.replace(/[\r\n]+/g, ' '))}\n`;
}
