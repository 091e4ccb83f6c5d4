// Runs checks against servers: a few connections per server, checks spread over them in
// parallel, each with its own statement timeout, so one slow or failing check never hides
// the others. Values become levels here, from the thresholds in the registry or the config.
import type pg from 'pg';
import { SQL_TAG, connect, type Target } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { CHECKS, CHECK_NAMES, findCheck } from './checks/index.ts';
import { functionName } from './sql.ts';
import { worse, type LocalContext, type CheckDefinition, type RawCheckRow, type CheckResult, type CheckRow, type Level, type ServerResult, type Thresholds } from './types.ts';

export interface CheckSettings {
  enabled?: boolean;
  warning?: number | null;
  critical?: number | null;
  /** Items (a role, a database, a slot...) whose rows never raise the level. */
  ignore?: string[];
  /** Passed to the check function (window_minutes, hold_hours, min_blocks, ...). */
  params?: Record<string, number>;
}

export interface RunOptions {
  /** Only these checks (names from the registry); default: every enabled check. */
  checks?: readonly string[];
  /** Per-check timeout in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Connections per server (default 4). */
  concurrency?: number;
  settings?: Readonly<Record<string, CheckSettings>>;
  /** Custom checks from pgwarden.yaml (monitor.custom_checks), beside the registry's. */
  customChecks?: readonly CheckDefinition[];
}

export interface ServerTarget {
  name: string;
  target: Target;
  /** The server's pgBouncer admin console (its own login), for the pgbouncer checks. */
  pgbouncer?: Target;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_CONCURRENCY = 4;

/** The registry's checks and the custom ones of this run. */
function available(options: RunOptions): readonly CheckDefinition[] {
  return options.customChecks?.length ? [...CHECKS, ...options.customChecks] : CHECKS;
}

/** The checks to run, validated: an unknown name is an error listing the valid ones. */
export function selectChecks(options: RunOptions): CheckDefinition[] {
  const all = available(options);
  const find = (name: string) => findCheck(name) ?? options.customChecks?.find((c) => c.name === name);
  const valid = () => [...CHECK_NAMES, ...(options.customChecks ?? []).map((c) => c.name)].join(', ');
  for (const name of Object.keys(options.settings ?? {})) {
    if (!find(name)) throw new PgwardenError('PGW_ERR_CONFIG', `monitor.checks.${name}: unknown check (valid: ${valid()})`);
  }
  if (options.checks && options.checks.length > 0) {
    return options.checks.map((name) => {
      const check = find(name);
      if (!check) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--checks: "${name}" is not a check (valid: ${valid()})`);
      return check;
    });
  }
  return all.filter((c) => options.settings?.[c.name]?.enabled !== false);
}

export function effectiveThresholds(check: CheckDefinition, settings?: CheckSettings): Thresholds {
  return {
    direction: check.thresholds.direction,
    warning: settings?.warning !== undefined ? settings.warning : check.thresholds.warning,
    critical: settings?.critical !== undefined ? settings.critical : check.thresholds.critical,
  };
}

export function rowLevel(value: number | null, thresholds: Thresholds, nullLevel: Level = 'ok'): Level {
  if (value === null || Number.isNaN(value)) return nullLevel;
  const crosses = (limit: number | null) => limit !== null && (thresholds.direction === 'above' ? value >= limit : value <= limit);
  if (crosses(thresholds.critical)) return 'critical';
  if (crosses(thresholds.warning)) return 'warning';
  return 'ok';
}

type RawRow = RawCheckRow;

/** Where the operator reads what to do: the check's doc page, or the config that defines it. */
function remediationOf(check: CheckDefinition): string {
  return check.custom ? `pgwarden.yaml: monitor.custom_checks.${check.name}` : `docs/checks/${check.name}.md`;
}

function summarize(check: CheckDefinition, rows: CheckRow[]): string {
  if (rows.length === 0) return check.emptyDetail ?? 'nothing to report';
  const bad = rows.filter((r) => r.level !== 'ok');
  const describe = (r: CheckRow) => (r.item ? `${r.item}: ` : '') + (r.detail ?? String(r.value));
  if (bad.length === 0) {
    if (rows.length === 1 || rows.every((r) => r.value === null)) return describe(rows[0]!);
    return `${rows.length} items within thresholds`;
  }
  const shown = bad.slice(0, 3).map(describe).join('; ');
  return bad.length > 3 ? `${shown}; and ${bad.length - 3} more` : shown;
}

/** Turns the function's rows into a result: levels, finding keys, the summary. */
export function evaluate(check: CheckDefinition, raw: RawRow[], settings: CheckSettings | undefined, durationMs: number): CheckResult {
  const thresholds = effectiveThresholds(check, settings);
  const base = { name: check.name, category: check.category, unit: check.unit, thresholds, duration_ms: durationMs, error: null, remediation: remediationOf(check) };
  const skipped = raw.find((r) => r.skipped !== null);
  if (skipped) return { ...base, level: 'skipped', summary: skipped.skipped!, rows: [] };
  const ignore = new Set(settings?.ignore ?? []);
  const rows: CheckRow[] = raw.map((r) => {
    const item = r.item ?? '';
    const ignored = ignore.has(item);
    return {
      item,
      value: r.value,
      detail: r.detail,
      level: ignored ? 'ok' : rowLevel(r.value, thresholds, check.nullLevel),
      metadata: { ...(r.metadata ?? {}), ...(ignored ? { ignored: true } : {}) },
      finding_key: `${check.name}:${item}`,
    };
  });
  const level = rows.reduce<Level>((acc, r) => worse(acc, r.level), 'ok');
  return { ...base, level, summary: summarize(check, rows), rows };
}

function failed(check: CheckDefinition, settings: CheckSettings | undefined, message: string, durationMs: number, level: Level = 'unknown'): CheckResult {
  return {
    name: check.name, category: check.category, unit: check.unit, thresholds: effectiveThresholds(check, settings),
    level, summary: message, rows: [], duration_ms: durationMs, error: message, remediation: remediationOf(check),
  };
}

function describeError(error: unknown, timeoutMs: number): { message: string; code?: string } {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case '57014': return { message: `timed out after ${timeoutMs} ms`, code: e.code };
    case '3F000': return { message: 'schema pgwarden_monitor does not exist here: run `pgwarden monitor install`', code: e.code };
    case '42883': return { message: 'check function not installed here: run `pgwarden monitor install` again', code: e.code };
    case '42501': return { message: `permission denied: is the login a member of pgwarden_monitor? (${e.message})`, code: e.code };
    default: return { message: e.code ? `PostgreSQL error ${e.code}: ${e.message}` : (e.message ?? String(error)), code: e.code };
  }
}

async function runOne(client: pg.Client, check: CheckDefinition, settings: CheckSettings | undefined, timeoutMs: number,
  context: LocalContext): Promise<{ result: CheckResult; broken: boolean; code?: string }> {
  const started = performance.now();
  // Ignored items go to the function too: checks that count (without naming) leave them out.
  const params = JSON.stringify({ ...check.params, ...settings?.params, ...(settings?.ignore?.length ? { ignore: settings.ignore } : {}) });
  let timer: NodeJS.Timeout | undefined;
  // The server cancels at statement_timeout; this only catches a connection that hangs.
  const backstop = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), timeoutMs + 2000); });
  try {
    const query = check.local
      ? check.local(client, context).then((rows) => ({ rows }))
      : client.query<RawRow>(`${SQL_TAG}SELECT item, value, detail, skipped, metadata FROM ${functionName(check)}($1::jsonb)`, [params]);
    query.catch(() => undefined);
    const outcome = await Promise.race([query, backstop]);
    const elapsed = Math.round((performance.now() - started) * 10) / 10;
    if (outcome === 'hung') return { result: failed(check, settings, `timed out after ${timeoutMs} ms (no answer)`, elapsed), broken: true };
    return { result: evaluate(check, outcome.rows, settings, elapsed), broken: false };
  } catch (error) {
    const elapsed = Math.round((performance.now() - started) * 10) / 10;
    const { message, code } = describeError(error, timeoutMs);
    return { result: failed(check, settings, message, elapsed), broken: code === undefined, code };
  } finally {
    clearTimeout(timer);
  }
}

async function openConnection(target: Target, timeoutMs: number): Promise<pg.Client> {
  const client = await connect(target, 'pgwarden/monitor');
  await client.query(`${SQL_TAG}SET statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
  return client;
}

/** Runs the selected checks against one server. Never throws for server trouble: it is in the result. */
export async function checkServer(server: ServerTarget, options: RunOptions = {}): Promise<ServerResult> {
  const started = performance.now();
  const checks = selectChecks(options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const concurrency = Math.max(1, Math.min(options.concurrency ?? DEFAULT_CONCURRENCY, checks.length || 1));
  const settingsOf = (c: CheckDefinition) => options.settings?.[c.name];
  const context: LocalContext = { checks: available(options), pgbouncer: server.pgbouncer, timeoutMs };
  const finish = (partial: Omit<ServerResult, 'duration_ms' | 'server'>): ServerResult =>
    ({ server: server.name, ...partial, duration_ms: Math.round(performance.now() - started) });

  for (const check of checks) check.warm?.(context);
  const opened = await Promise.allSettled(Array.from({ length: concurrency }, () => openConnection(server.target, timeoutMs)));
  const clients = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  if (clients.length === 0) {
    const reason = (opened[0] as PromiseRejectedResult).reason as Error;
    const message = `cannot connect: ${reason.message}`;
    return finish({
      database: null,
      level: 'critical',
      error: message,
      checks: checks.map((c) => c.name === 'alive'
        ? failed(c, settingsOf(c), message, 0, 'critical')
        : failed(c, settingsOf(c), 'not checked: the server cannot be reached', 0)),
    });
  }
  try {
    const database = (await clients[0]!.query<{ db: string }>(`${SQL_TAG}SELECT pg_catalog.current_database() AS db`)).rows[0]!.db;
    const results = new Array<CheckResult>(checks.length);
    const codes: (string | undefined)[] = [];
    let next = 0;
    const worker = async (client: pg.Client) => {
      let current: pg.Client | undefined = client;
      while (next < checks.length) {
        const index = next++;
        const check = checks[index]!;
        if (!current) {
          try {
            current = await openConnection(server.target, timeoutMs);
            clients.push(current);
          } catch (error) {
            results[index] = failed(check, settingsOf(check), `not checked: cannot reconnect (${(error as Error).message})`, 0);
            continue;
          }
        }
        const { result, broken, code } = await runOne(current, check, settingsOf(check), timeoutMs, context);
        results[index] = result;
        codes[index] = code;
        if (broken) {
          // The connection may be unusable: replace it for the next check.
          await current.end().catch(() => undefined);
          current = undefined;
        }
      }
    };
    await Promise.all(clients.slice().map(worker));
    // Every function check failed for want of the schema or of EXECUTE: say so once.
    const functionIndexes = checks.flatMap((c, i) => (c.local ? [] : [i]));
    const notInstalled = functionIndexes.length > 0 && functionIndexes.every((i) => codes[i] === '3F000' || codes[i] === '42501');
    const level = results.reduce<Level>((acc, r) => worse(acc, r.level), 'ok');
    return finish({
      database,
      level: notInstalled ? 'unknown' : level,
      error: notInstalled ? `pgwarden monitor is not installed in database ${database} (or the login is not a member of pgwarden_monitor)` : null,
      checks: results,
    });
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

/** Several servers in parallel, in the order given. */
export async function checkServers(servers: readonly ServerTarget[], options: RunOptions = {}): Promise<ServerResult[]> {
  selectChecks(options); // bad names fail before any connection is made
  return Promise.all(servers.map((s) => checkServer(s, options)));
}
