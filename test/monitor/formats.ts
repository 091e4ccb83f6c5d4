// Consumers' rules for each output format, as strict parsers: a line that one of the
// consumers would reject fails the test.
import assert from 'node:assert/strict';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface NagiosOutput { state: string; text: string; perfdata: { label: string; value: string; uom: string; warn: string; crit: string }[] }

const NAGIOS_STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'];
// 'label'=value[UOM];[warn];[crit];[min];[max] (Nagios Plugin Development Guidelines).
const PERF = /^'((?:[^'=]|'')+)'=(-?\d+(?:\.\d+)?|U)(s|ms|us|%|B|KB|MB|GB|TB|c)?(?:;(@?(?:~|-?\d+(?:\.\d+)?)?:?(?:-?\d+(?:\.\d+)?)?)?(?:;(@?(?:~|-?\d+(?:\.\d+)?)?:?(?:-?\d+(?:\.\d+)?)?)?(?:;(-?\d+(?:\.\d+)?)?(?:;(-?\d+(?:\.\d+)?)?)?)?)?)?$/;

/** Parses plugin output by the Nagios rules: one line, "|" only before perfdata, exit code = state. */
export function parseNagios(stdout: string, exitCode: number): NagiosOutput {
  assert.ok(stdout.endsWith('\n'));
  const lines = stdout.slice(0, -1).split('\n');
  assert.equal(lines.length, 1, 'one line of output');
  const [text, perf, ...rest] = lines[0]!.split(' | ');
  assert.equal(rest.length, 0, 'one "|" at most');
  const match = /^PGWARDEN (OK|WARNING|CRITICAL|UNKNOWN) - (.+)$/.exec(text!);
  assert.ok(match, `status line: ${text}`);
  assert.equal(NAGIOS_STATES.indexOf(match[1]!), exitCode, `exit code ${exitCode} matches ${match[1]}`);
  const perfdata = (perf ?? '').match(/'(?:[^']|'')+'=\S*/g) ?? [];
  assert.equal(perfdata.join(' '), perf ?? '', 'perfdata is space-separated label=value items');
  return {
    state: match[1]!,
    text: match[2]!,
    perfdata: perfdata.map((item) => {
      const m = PERF.exec(item);
      assert.ok(m, `perfdata item ${item}`);
      return { label: m[1]!.replace(/''/g, "'"), value: m[2]!, uom: m[3] ?? '', warn: m[4] ?? '', crit: m[5] ?? '' };
    }),
  };
}

export interface CheckmkMetric { value: number; upper: [number | null, number | null]; lower: [number | null, number | null] }

/** One metric as cmk's local check parser reads it: NAME=VALUE;[[WARN_LOWER:]WARN_UPPER];[[CRIT_LOWER:]CRIT_UPPER];MIN;MAX. */
function checkmkMetric(entry: string): [string, CheckmkMetric] {
  const [name, rest] = entry.replace(/;+$/, '').split('=') as [string, string];
  const raw = rest.split(';');
  const num = (text: string | undefined) => (text === undefined || text === '' || Number.isNaN(Number(text)) ? null : Number(text));
  const [warn, crit] = [raw[1]?.split(':'), raw[2]?.split(':')];
  return [name, {
    value: Number(raw[0]),
    upper: [num(warn?.at(-1)), num(crit?.at(-1))],
    lower: [warn && warn.length > 1 ? num(warn[0]) : null, crit && crit.length > 1 ? num(crit[0]) : null],
  }];
}

/** check_mk local check lines: <state> <service> <metrics|-> <text>. */
export function parseCheckmk(stdout: string): { state: number; service: string; metrics: Record<string, number>; levels: Record<string, CheckmkMetric>; text: string }[] {
  const metric = '[A-Za-z0-9_]+=-?\\d+(?:\\.\\d+)?(?:;(?:-?[\\d.]*:)?-?[\\d.]*){0,4}';
  const line = new RegExp(`^([0-3]) ([A-Za-z0-9_.-]+) (-|${metric}(?:\\|${metric})*) (\\S.*)$`);
  return stdout.trimEnd().split('\n').map((text) => {
    const m = line.exec(text);
    assert.ok(m, `check_mk local check line: ${text}`);
    const levels = m[3] === '-' ? {} : Object.fromEntries(m[3]!.split('|').map(checkmkMetric));
    const metrics = Object.fromEntries(Object.entries(levels).map(([k, v]) => [k, v.value]));
    return { state: Number(m[1]), service: m[2]!, metrics, levels, text: m[4]! };
  });
}

/** One zabbix_sender input field: quoted with backslash escapes, or bare without whitespace. */
export function senderFields(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === '"') {
      let value = '';
      i++;
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\') i++;
        value += line[i];
      }
      assert.equal(line[i], '"', `unterminated quote in ${line}`);
      fields.push(value);
      i++;
    } else {
      const end = line.indexOf(' ', i);
      fields.push(line.slice(i, end === -1 ? undefined : end));
      i = end === -1 ? line.length : end;
    }
    if (i < line.length) {
      assert.equal(line[i], ' ', `fields are separated by one space: ${line}`);
      i++;
    }
  }
  return fields;
}

/** Item key params by the Zabbix key grammar: quoted "..." (\" escapes) or unquoted without , ] */
export function keyParams(key: string): { name: string; params: string[] } {
  const m = /^([0-9A-Za-z_.-]+)\[(.*)\]$/.exec(key);
  assert.ok(m, `item key ${key}`);
  const params: string[] = [];
  let rest = m[2]!;
  for (;;) {
    if (rest.startsWith('"')) {
      // Inside quotes only \" is an escape; any other backslash is literal.
      const q = /^"((?:[^"\\]|\\"|\\(?!"))*)"/.exec(rest);
      assert.ok(q, `quoted key parameter in ${key}`);
      params.push(q[1]!.replace(/\\"/g, '"'));
      rest = rest.slice(q[0].length);
    } else {
      // Unquoted: anything up to the next comma or "]" (a quote inside is an ordinary character).
      const u = /^[^,\]]*/.exec(rest)!;
      assert.ok(!/^\s/.test(u[0]), `unquoted parameter must not start with a space in ${key}`);
      params.push(u[0]);
      rest = rest.slice(u[0].length);
    }
    if (rest === '') break;
    assert.equal(rest[0], ',', `parameters separated by commas in ${key}`);
    rest = rest.slice(1);
  }
  return { name: m[1]!, params };
}

export interface ZabbixOutput {
  /** LLD rows per host and discovery key (pgwarden.discovery.status, pgwarden.discovery.value). */
  discovery: Record<string, Record<string, Record<string, string>[]>>;
  /** pgwarden.state and pgwarden.error per host. */
  plain: Record<string, Record<string, string>>;
  values: { host: string; key: string; name: string; params: string[]; value: string }[];
}

export function parseZabbix(stdout: string): ZabbixOutput {
  const out: ZabbixOutput = { discovery: {}, plain: {}, values: [] };
  for (const line of stdout.trimEnd().split('\n')) {
    const fields = senderFields(line);
    assert.equal(fields.length, 3, `<host> <key> <value>: ${line}`);
    const [host, key, value] = fields as [string, string, string];
    if (key.startsWith('pgwarden.discovery.')) {
      const lld = JSON.parse(value) as { data: Record<string, string>[] };
      assert.ok(Array.isArray(lld.data));
      for (const entry of lld.data) for (const macro of Object.keys(entry)) assert.match(macro, /^\{#[A-Z0-9_.]+\}$/);
      (out.discovery[host] ??= {})[key] = lld.data;
      continue;
    }
    if (key === 'pgwarden.state' || key === 'pgwarden.error') {
      if (key === 'pgwarden.state') assert.match(value, /^[0-3]$/);
      (out.plain[host] ??= {})[key] = value;
      continue;
    }
    const { name, params } = keyParams(key);
    assert.ok(name === 'pgwarden.value' || name === 'pgwarden.status', key);
    assert.equal(params.length, 2);
    assert.match(value, /^-?\d+(\.\d+)?$/, `numeric value for ${key}`);
    out.values.push({ host, key, name, params, value });
  }
  return out;
}

const PROM_LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const PROM_SAMPLE = new RegExp(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{${PROM_LABEL}(?:,${PROM_LABEL})*\\})? (NaN|[+-]Inf|-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)$`);

/** Text exposition 0.0.4 by a real parser, plus the rules it does not enforce: TYPE before samples, no duplicate series. */
export function parsePrometheus(stdout: string): ReturnType<typeof parsePrometheusTextFormat> {
  const families = parsePrometheusTextFormat(stdout);
  const typed = new Set<string>();
  const series = new Set<string>();
  for (const line of stdout.trimEnd().split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      assert.ok(!typed.has(type[1]!), `one TYPE line for ${type[1]}`);
      typed.add(type[1]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = PROM_SAMPLE.exec(line);
    assert.ok(m, `sample line: ${line}`);
    assert.ok(typed.has(m[1]!), `TYPE of ${m[1]} comes before its samples`);
    assert.ok(!series.has(m[1]! + (m[2] ?? '')), `duplicate series ${line}`);
    series.add(m[1]! + (m[2] ?? ''));
  }
  return families;
}
