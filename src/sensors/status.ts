// Verifies what install made: every expected object, its security-relevant properties
// (SECURITY DEFINER, pinned search_path, enabled state) and the compiled guard source.
// Prints expected beside actual; anything not OK is drift, which may be tampering.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { LATEST_SCHEMA_VERSION } from './migrations.ts';
import { RECORDER_ROLE, WATCHER_ROLE, installedVersion } from './install.ts';
import { EXPECTED_EVENT_TRIGGERS, EXPECTED_FUNCTIONS, EXPECTED_TABLES, EXPECTED_TRIGGERS, PINNED } from './manifest.ts';

/** How long a change may wait for a sink that no process serves before status calls it FAILED. */
const STALE_DELIVERY_MS = 5 * 60_000;

export type CheckState = 'OK' | 'MISSING' | 'CHANGED' | 'DISABLED' | 'FAILED' | 'WARN';

/** Anything but OK and WARN means the installed guard is not what install made. */
export function isDrift(state: CheckState): boolean {
  return state !== 'OK' && state !== 'WARN';
}

export interface StatusItem {
  object: string;
  state: CheckState;
  expected: string;
  actual: string;
}

export interface StatusReport {
  database: string;
  serverVersion: number;
  installed: boolean;
  schemaVersion: number;
  items: StatusItem[];
  /** True when some item is MISSING, CHANGED or DISABLED. */
  drift: boolean;
}

function flag(value: boolean, yes: string, no: string): string {
  return value ? yes : no;
}

export async function sensorsStatus(client: pg.ClientBase): Promise<StatusReport> {
  const { rows: [info] } = await client.query<{ database: string; version: number; schema: boolean }>(
    `${SQL_TAG}SELECT pg_catalog.current_database() AS database,
       pg_catalog.current_setting('server_version_num')::int AS version,
       EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = 'pgwarden') AS schema`);
  const items: StatusItem[] = [];
  const report: StatusReport = {
    database: info!.database, serverVersion: info!.version, installed: info!.schema, schemaVersion: 0, items, drift: false,
  };
  if (!info!.schema) {
    items.push({ object: 'schema pgwarden', state: 'MISSING', expected: `installed (version ${LATEST_SCHEMA_VERSION})`, actual: 'absent' });
    report.drift = true;
    return report;
  }

  report.schemaVersion = await installedVersion(client);
  items.push({
    object: 'schema version',
    state: report.schemaVersion === LATEST_SCHEMA_VERSION ? 'OK' : (report.schemaVersion < LATEST_SCHEMA_VERSION ? 'CHANGED' : 'WARN'),
    expected: String(LATEST_SCHEMA_VERSION),
    actual: String(report.schemaVersion),
  });

  for (const table of EXPECTED_TABLES) {
    const { rows } = await client.query(`${SQL_TAG}SELECT pg_catalog.to_regclass($1) IS NOT NULL AS present`, [`pgwarden.${table}`]);
    const present = rows[0]!.present as boolean;
    items.push({ object: `table pgwarden.${table}`, state: present ? 'OK' : 'MISSING', expected: 'present', actual: present ? 'present' : 'absent' });
  }

  for (const fn of EXPECTED_FUNCTIONS) {
    const { rows } = await client.query<{ secdef: boolean; config: string[] | null; public_execute: boolean }>(
      `${SQL_TAG}SELECT p.prosecdef AS secdef, p.proconfig AS config,
         EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
                  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
         FROM pg_catalog.pg_proc p WHERE p.oid = pg_catalog.to_regprocedure($1)`, [fn.signature]);
    const expected = `${flag(fn.securityDefiner, 'definer', 'invoker')}, search_path pinned, ${flag(fn.publicExecute, 'PUBLIC execute', 'no PUBLIC execute')}`;
    const row = rows[0];
    if (!row) {
      items.push({ object: `function ${fn.signature}`, state: 'MISSING', expected, actual: 'absent' });
      continue;
    }
    const pinned = (row.config ?? []).includes(PINNED);
    const actual = `${flag(row.secdef, 'definer', 'invoker')}, ${pinned ? 'search_path pinned' : `${row.config?.join(' ') || 'search_path not pinned'}`}, ${flag(row.public_execute, 'PUBLIC execute', 'no PUBLIC execute')}`;
    const ok = row.secdef === fn.securityDefiner && pinned && row.public_execute === fn.publicExecute;
    items.push({ object: `function ${fn.signature}`, state: ok ? 'OK' : 'CHANGED', expected, actual });
  }

  for (const trigger of EXPECTED_TRIGGERS) {
    const { rows } = await client.query<{ enabled: string }>(
      `${SQL_TAG}SELECT t.tgenabled AS enabled FROM pg_catalog.pg_trigger t
        WHERE t.tgrelid = pg_catalog.to_regclass($1) AND t.tgname = $2`, [`pgwarden.${trigger.table}`, trigger.name]);
    const enabled = rows[0]?.enabled;
    items.push({
      object: `trigger ${trigger.name} on pgwarden.${trigger.table}`,
      state: enabled === undefined ? 'MISSING' : enabled === 'D' ? 'DISABLED' : 'OK',
      expected: 'enabled', actual: enabled === undefined ? 'absent' : enabled === 'D' ? 'disabled' : 'enabled',
    });
  }

  for (const trigger of EXPECTED_EVENT_TRIGGERS.filter((t) => report.serverVersion >= t.since)) {
    const { rows } = await client.query<{ enabled: string; func: string; event: string }>(
      `${SQL_TAG}SELECT evtenabled AS enabled, evtfoid::regprocedure::text AS func, evtevent AS event
         FROM pg_catalog.pg_event_trigger WHERE evtname = $1`, [trigger.name]);
    const row = rows[0];
    const expected = `enabled, ON ${trigger.event}, EXECUTE ${trigger.fn}`;
    let state: CheckState = 'OK';
    let actual = 'absent';
    if (!row) state = 'MISSING';
    else {
      // 'R' fires only in replication-replica sessions: as good as disabled for everyone else.
      const mode = { O: 'enabled', D: 'disabled', R: 'enabled for replicas only', A: 'enabled always' }[row.enabled] ?? row.enabled;
      actual = `${mode}, ON ${row.event}, EXECUTE ${row.func}`;
      if (row.enabled === 'D' || row.enabled === 'R') state = 'DISABLED';
      else if (row.func !== trigger.fn || row.event !== trigger.event) state = 'CHANGED';
    }
    items.push({ object: `event trigger ${trigger.name}`, state, expected, actual });
  }

  if (report.serverVersion < 170000) {
    const { rows } = await client.query<{ preload: string | null; login: string | null }>(
      `${SQL_TAG}SELECT pg_catalog.current_setting('session_preload_libraries', true) AS preload,
                        pg_catalog.current_setting('session_exec.login_name', true) AS login`);
    const configured = (rows[0]?.preload ?? '').includes('session_exec') && rows[0]?.login === 'pgwarden.guard_check';
    items.push({
      object: 'login enforcement (session_exec)',
      state: configured ? 'OK' : 'WARN',
      expected: "session_preload_libraries has session_exec, session_exec.login_name = 'pgwarden.guard_check'",
      actual: configured ? 'configured' : 'not configured: logins are not checked; run `pgwarden guard watch` or see docs/guard.md',
    });
  }

  // The generated guard must be exactly what guard_compile() last produced (keyed by signature:
  // rule functions of the previous release stay as overloads).
  const { rows: compiled } = await client.query<{ name: string; recorded: string | null; actual: string | null }>(
    `${SQL_TAG}SELECT c.name, c.source_md5 AS recorded, pg_catalog.md5(p.prosrc) AS actual
       FROM pgwarden.compiled_functions c
       LEFT JOIN pg_catalog.pg_proc p ON p.oid = pg_catalog.to_regprocedure(c.name)
      ORDER BY c.name`).catch(() => ({ rows: [] as { name: string; recorded: string | null; actual: string | null }[] }));
  for (const row of compiled) {
    items.push({
      object: `compiled source of ${row.name.replace(/\(.*\)$/, '')}${/\(text,inet,text\)$/.test(row.name) ? ' (0.1 forwarder)' : ''}`,
      state: row.actual === null ? 'MISSING' : row.actual === row.recorded ? 'OK' : 'CHANGED',
      expected: `md5 ${row.recorded}`,
      actual: row.actual === null ? 'absent' : `md5 ${row.actual}`,
    });
  }

  // Functions install wrote: the body must be what install recorded.
  const { rows: hashed } = await client.query<{ signature: string; recorded: string | null; actual: string | null }>(
    `${SQL_TAG}SELECT f.signature, h.source_md5 AS recorded, pg_catalog.md5(p.prosrc) AS actual
       FROM pg_catalog.unnest($1::text[]) AS f(signature)
       LEFT JOIN pgwarden.function_hashes h ON h.signature = f.signature
       LEFT JOIN pg_catalog.pg_proc p ON p.oid = pg_catalog.to_regprocedure(f.signature)
      ORDER BY f.signature`,
    [EXPECTED_FUNCTIONS.filter((f) => f.hash !== 'compiled').map((f) => f.signature)],
  ).catch(() => ({ rows: [] as { signature: string; recorded: string | null; actual: string | null }[] }));
  for (const row of hashed.filter((h) => h.actual !== null)) {
    items.push({
      object: `definition of ${row.signature}`,
      state: row.recorded === null ? 'WARN' : row.actual === row.recorded ? 'OK' : 'CHANGED',
      expected: row.recorded === null ? 'a recorded hash (run `pgwarden install`)' : `md5 ${row.recorded}`,
      actual: `md5 ${row.actual}`,
    });
  }

  // Alert delivery: a sink that keeps failing, or that no `alerts run` serves, is something to
  // fix before an alert is missed. A running process holds the sink's advisory lock (pg_locks
  // shows it to everyone; the two int4 keys appear as classid/objid with objsubid 2).
  type SinkRow = { sink: string; attempts: number; last_error: string | null; next_attempt_at: Date | null; waiting: string; oldest: Date | null; served: boolean };
  const { rows: sinks } = await client.query<SinkRow>(
    `${SQL_TAG}SELECT s.sink, s.attempts, s.last_error, s.next_attempt_at, w.waiting::text AS waiting, w.oldest,
        EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                   AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                   AND l.classid = (pg_catalog.hashtext('pgwarden.alerts')::bigint & 4294967295)::oid
                   AND l.objid = (pg_catalog.hashtext(s.sink)::bigint & 4294967295)::oid) AS served
       FROM pgwarden.alert_sinks s,
       LATERAL (SELECT pg_catalog.count(*) AS waiting, pg_catalog.min(e.ts) AS oldest
                  FROM pgwarden.ddl_events e WHERE e.id > s.delivered_through) w
      ORDER BY s.sink`,
  ).catch(() => ({ rows: [] as SinkRow[] }));
  for (const sink of sinks) {
    const waiting = `${sink.waiting} change(s) not yet settled${sink.oldest ? ` (oldest ${sink.oldest.toISOString()})` : ''}`;
    let state: CheckState = 'OK';
    let actual = `delivering; ${waiting}`;
    if (sink.attempts > 0) {
      state = 'FAILED';
      actual = `${sink.attempts} failed attempt(s), last: ${sink.last_error ?? '?'}; ${waiting}; next try ${sink.next_attempt_at?.toISOString() ?? 'soon'}`;
    } else if (!sink.served) {
      // Changes waiting for minutes with nobody to send them: alerts are being missed.
      state = sink.oldest && Date.now() - sink.oldest.getTime() > STALE_DELIVERY_MS ? 'FAILED' : 'WARN';
      actual = `no \`pgwarden alerts run\` is delivering to it; ${waiting}. Start one, or retire the sink with \`pgwarden alerts forget ${sink.sink}\``;
    }
    items.push({ object: `alert delivery to ${sink.sink}`, state, expected: 'a running `alerts run` delivering', actual });
  }

  const { rows: roleRows } = await client.query(`${SQL_TAG}SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = $1`, [RECORDER_ROLE]);
  items.push({
    object: `role ${RECORDER_ROLE}`,
    state: roleRows.length === 0 ? 'MISSING' : roleRows[0]!.rolcanlogin ? 'OK' : 'DISABLED',
    expected: 'present, LOGIN', actual: roleRows.length === 0 ? 'absent' : roleRows[0]!.rolcanlogin ? 'present, LOGIN' : 'present, NOLOGIN',
  });

  const { rows: watcherRows } = await client.query(`${SQL_TAG}SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1`, [WATCHER_ROLE]);
  items.push({
    object: `role ${WATCHER_ROLE}`,
    state: watcherRows.length === 0 ? 'MISSING' : 'OK',
    expected: 'present', actual: watcherRows.length === 0 ? 'absent' : 'present',
  });

  const { rows: dblinkRows } = await client.query<{ schema: string }>(
    `${SQL_TAG}SELECT n.nspname AS schema FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'dblink'`);
  items.push({
    object: 'extension dblink (records refusals)',
    state: dblinkRows.length > 0 ? 'OK' : 'WARN',
    expected: 'installed', actual: dblinkRows.length > 0 ? 'installed' : 'absent: refusals go to the server log only',
  });
  if (dblinkRows.length > 0) items.push(await recorderCheck(client, dblinkRows[0]!.schema));
  items.push(...await ruleRoleChecks(client));

  report.drift = items.some((item) => isDrift(item.state));
  return report;
}

/**
 * A libpq connection-string literal of a SQL expression, quoted inline: a function call would be a
 * nested statement whose parameter (the password) auto_explain logs. E'' literals read the same
 * whatever standard_conforming_strings says.
 */
function quoted(expression: string): string {
  return String.raw`E'\'' || pg_catalog.replace(pg_catalog.replace(${expression}, E'\\', E'\\\\'), E'\'', E'\\\'') || E'\''`;
}

/** Logs in the way the guard does when it records a refusal, so a broken recorder shows before a refusal is lost. */
async function recorderCheck(client: pg.ClientBase, dblinkSchema: string): Promise<StatusItem> {
  const object = 'refusal recorder (dblink loopback login)';
  const expected = `${RECORDER_ROLE} logs in and may CALL pgwarden.record_refusal`;
  try {
    // The password is read and quoted inside the statement (no parameter carries it, for pgAudit or auto_explain to log).
    const { rows } = await client.query<{ ok: number; may_call: boolean; host: string }>(
      `${SQL_TAG}SELECT t.ok, r.host,
          pg_catalog.has_function_privilege('${RECORDER_ROLE}', 'pgwarden.record_refusal(integer,bigint,text,text)', 'EXECUTE') AS may_call
         FROM pgwarden.guard_recorder r,
         LATERAL ${client.escapeIdentifier(dblinkSchema)}.dblink(
           pg_catalog.format('host=%s port=%s dbname=%s user=${RECORDER_ROLE} password=%s application_name=pgwarden-status connect_timeout=5',
             ${quoted('r.host')}, pg_catalog.current_setting('port'),
             ${quoted('pg_catalog.current_database()')}, ${quoted('r.password')}),
           'SELECT 1') AS t(ok integer)`);
    const row = rows[0];
    if (!row) return { object, state: 'FAILED', expected, actual: 'no recorder settings: run `pgwarden install`' };
    return row.may_call
      ? { object, state: 'OK', expected, actual: `logs in via ${row.host}` }
      : { object, state: 'CHANGED', expected, actual: `logs in via ${row.host} but may not CALL pgwarden.record_refusal` };
  } catch (error) {
    const e = error as { code?: string; message: string; detail?: string };
    if (e.code === '42501') return { object, state: 'WARN', expected, actual: 'not tested: needs the owner of the pgwarden schema' };
    const why = [e.message, e.detail].filter(Boolean).map((text) => text!.split('\n')[0]).join(': ');
    return { object, state: 'FAILED', expected, actual: `cannot log in: ${why} (refusals go to the server log only)` };
  }
}

/**
 * Rules and settings naming roles that cannot log in as named: a rule for a role that does not
 * exist (a typo, or one created later by someone with CREATEROLE) or cannot log in, and a
 * break-glass role that does not exist or was dropped and created again since the guard was
 * compiled (it is then not break-glass: the guard compares the role's OID).
 */
async function ruleRoleChecks(client: pg.ClientBase): Promise<StatusItem[]> {
  const items: StatusItem[] = [];
  const { rows } = await client.query<{ role: string; rules: string; exists: boolean; login: boolean | null; group: boolean }>(
    `${SQL_TAG}SELECT n.role, pg_catalog.string_agg(n.id::text, ',' ORDER BY n.id) AS rules,
        r.oid IS NOT NULL AS exists, r.rolcanlogin AS login, n.grp AS group
       FROM (SELECT g.id, CASE WHEN pg_catalog.left(x, 1) = '+' THEN pg_catalog.substr(x, 2) ELSE x END AS role,
                    pg_catalog.left(x, 1) = '+' AS grp
               FROM pgwarden.guard_rules g, pg_catalog.unnest(g.roles) AS x WHERE x <> '*') n
       LEFT JOIN pg_catalog.pg_roles r ON r.rolname = n.role
      GROUP BY n.role, r.oid, r.rolcanlogin, n.grp ORDER BY n.role`).catch(() => ({ rows: [] as never[] }));
  for (const row of rows) {
    if (row.exists && (row.login || row.group)) continue;
    items.push({
      object: `${row.group ? 'group ' : ''}role ${row.role} in rule ${row.rules}`, state: 'WARN',
      expected: row.group ? 'an existing role' : 'an existing role that can log in',
      actual: row.exists ? 'NOLOGIN: the rule never applies to a login of it' : 'no such role: whoever creates it later gets the rule only from then on',
    });
  }
  const { rows: glass } = await client.query<{ role: string; exists: boolean; compiled: boolean }>(
    `${SQL_TAG}SELECT b AS role, r.oid IS NOT NULL AS exists, c.role_oid IS NOT DISTINCT FROM r.oid AS compiled
       FROM pgwarden.guard_settings s, pg_catalog.unnest(s.break_glass_roles) AS b
       LEFT JOIN pg_catalog.pg_roles r ON r.rolname = b
       LEFT JOIN pgwarden.guard_break_glass c ON c.role = b
      ORDER BY b`).catch(() => ({ rows: [] as never[] }));
  for (const row of glass) {
    if (row.exists && row.compiled) continue;
    items.push({
      object: `break-glass role ${row.role}`, state: 'WARN', expected: 'an existing role, as compiled into the guard',
      actual: row.exists ? 'created again since the guard was compiled: not break-glass until `pgwarden guard settings` names it again'
        : 'no such role: not break-glass (a role created under this name later is not either)',
    });
  }
  return items;
}
