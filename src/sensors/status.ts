// Verifies what install made: every expected object, its security-relevant properties
// (SECURITY DEFINER, pinned search_path, enabled state) and the compiled guard source.
// Prints expected beside actual; anything not OK is drift, which may be tampering.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import { PINNED_SEARCH_PATH, RESPONDER_ROLE } from '../core/roles.ts';
import { LATEST_SCHEMA_VERSION } from './migrations.ts';
import { RECORDER_ROLE, WATCHER_ROLE, installedVersion, missingPrivileges, unexpectedPrivileges } from './install.ts';
import {
  DATABASE_MARKER, EXPECTED_EVENT_TRIGGERS, EXPECTED_FUNCTIONS, EXPECTED_TABLES, EXPECTED_TRIGGERS, GUARDED_SETTINGS, OWN_ROLES, OWN_ROLE_SETTINGS,
  RECORDER_CONNECTION_LIMIT, UNPINNED_COMPILED,
} from './manifest.ts';

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
    const { rows } = await client.query<{ secdef: boolean; config: string[] | null; public_execute: boolean; strict: boolean }>(
      `${SQL_TAG}SELECT p.prosecdef AS secdef, p.proconfig AS config, p.proisstrict AS strict,
         EXISTS (SELECT 1 FROM pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
                  WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_execute
         FROM pg_catalog.pg_proc p WHERE p.oid = pg_catalog.to_regprocedure($1)`, [fn.signature]);
    const strict = fn.kind === 'FUNCTION' ? `, ${flag(Boolean(fn.strict), 'strict', 'called on null input')}` : '';
    // A compiled function meant to be inlined (UNPINNED_COMPILED) has no SET clause when guard_compile()
    // regenerates it and the pinned one when install made it: either is pgwarden's own.
    const inlinable = UNPINNED_COMPILED.test(fn.signature);
    const expected = `${flag(fn.securityDefiner, 'definer', 'invoker')}, ${inlinable ? 'search_path pinned or no SET clause (inlined into its pinned caller)' : 'search_path pinned'}, ${flag(fn.publicExecute, 'PUBLIC execute', 'no PUBLIC execute')}${strict}`;
    const row = rows[0];
    if (!row) {
      items.push({ object: `function ${fn.signature}`, state: 'MISSING', expected, actual: 'absent' });
      continue;
    }
    // Exactly the pinned search_path: any other setting beside it changes how the function runs.
    const pinned = (row.config?.length === 1 && row.config[0] === PINNED_SEARCH_PATH) || (inlinable && row.config === null);
    const actualStrict = fn.kind === 'FUNCTION' ? `, ${flag(row.strict, 'strict', 'called on null input')}` : '';
    const actual = `${flag(row.secdef, 'definer', 'invoker')}, ${pinned ? (row.config === null ? 'no SET clause' : 'search_path pinned') : `${row.config?.join(' ') || 'search_path not pinned'}`}, ${flag(row.public_execute, 'PUBLIC execute', 'no PUBLIC execute')}${actualStrict}`;
    const ok = row.secdef === fn.securityDefiner && pinned && row.public_execute === fn.publicExecute && (fn.kind === 'PROCEDURE' || row.strict === Boolean(fn.strict));
    items.push({ object: `function ${fn.signature}`, state: ok ? 'OK' : 'CHANGED', expected, actual });
  }

  for (const trigger of EXPECTED_TRIGGERS) {
    const { rows } = await client.query<{ enabled: string }>(
      `${SQL_TAG}SELECT t.tgenabled AS enabled FROM pg_catalog.pg_trigger t
        WHERE t.tgrelid = pg_catalog.to_regclass($1) AND t.tgname = $2`, [`pgwarden.${trigger.table}`, trigger.name]);
    const enabled = rows[0]?.enabled;
    items.push({
      object: `trigger ${trigger.name} on pgwarden.${trigger.table}`,
      // 'R' (ENABLE REPLICA TRIGGER) fires only under session_replication_role = replica: off in normal sessions.
      state: enabled === undefined ? 'MISSING' : enabled === 'O' || enabled === 'A' ? 'OK' : 'DISABLED',
      expected: 'enabled', actual: enabled === undefined ? 'absent' : enabled === 'D' ? 'disabled' : enabled === 'R' ? 'enabled for replicas only' : 'enabled',
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
    // session_preload_libraries is readable only with pg_read_all_settings: the alerts role's tamper
    // check failed as a whole here on PostgreSQL 14-16.
    const { rows } = await client.query<{ preload: string | null; login: string | null }>(
      `${SQL_TAG}SELECT CASE WHEN pg_catalog.pg_has_role('pg_read_all_settings', 'USAGE')
                          THEN pg_catalog.current_setting('session_preload_libraries', true) END AS preload,
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
  // The tamper check runs as a login with pgwarden_alerts, which may not read the guard's
  // tables: those checks are left out for it rather than failing a statement every run.
  const { rows: [reads] } = await client.query<{ recorder: boolean; rules: boolean }>(
    `${SQL_TAG}SELECT COALESCE(pg_catalog.has_table_privilege(pg_catalog.to_regclass('pgwarden.guard_recorder'), 'SELECT'), false) AS recorder,
            COALESCE(pg_catalog.has_table_privilege(pg_catalog.to_regclass('pgwarden.guard_rules'), 'SELECT'), false)
              AND COALESCE(pg_catalog.has_table_privilege(pg_catalog.to_regclass('pgwarden.guard_settings'), 'SELECT'), false)
              AND COALESCE(pg_catalog.has_table_privilege(pg_catalog.to_regclass('pgwarden.guard_break_glass'), 'SELECT'), false) AS rules`);
  if (dblinkRows.length > 0) items.push(await recorderCheck(client, dblinkRows[0]!.schema, reads!.recorder));
  if (reads!.rules) items.push(...await ruleRoleChecks(client));
  items.push(...await definitionChecks(client));
  items.push(...await tableRuleChecks(client));
  items.push(...await settingChecks(client, report.serverVersion));
  items.push(...await membershipChecks(client));
  items.push(...await responseChecks(client));
  const databases = await databaseChecks(client);
  items.push(...databases);
  items.push(...await unrecordedChanges(client, new Set(databases.filter((d) => d.object.startsWith('database ')).map((d) => d.object.slice('database '.length)))));

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
async function recorderCheck(client: pg.ClientBase, dblinkSchema: string, mayRead: boolean): Promise<StatusItem> {
  const object = 'refusal recorder (dblink loopback login)';
  const expected = `${RECORDER_ROLE} logs in and may CALL pgwarden.record_refusal`;
  const notTested: StatusItem = { object, state: 'WARN', expected, actual: 'not tested: needs the owner of the pgwarden schema' };
  if (!mayRead) return notTested;
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
    if (e.code === '42501') return notTested;
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

/**
 * Everything else about pgwarden's objects that changes what they do (issue 13, item 6): any
 * privilege install did not grant, an owner other than the schema's, a generated function with
 * settings or strictness its generator did not give it, and a function install knows nothing of.
 */
/**
 * What changes the rows pgwarden's tables take or show without touching the tables' definition:
 * a rule (ON INSERT DO INSTEAD NOTHING drops every record, its own creation included), a row
 * security policy or row security itself (rows hidden from the readers), a trigger install did not
 * make. pgwarden creates none of these, so each one is reported.
 */
async function tableRuleChecks(client: pg.ClientBase): Promise<StatusItem[]> {
  const expected = EXPECTED_TRIGGERS.map((t) => `${t.table}.${t.name}`);
  const { rows } = await client.query<{ object: string; actual: string }>(
    `${SQL_TAG}SELECT 'rule ' || r.rulename || ' on pgwarden.' || c.relname AS object, pg_catalog.pg_get_ruledef(r.oid) AS actual
       FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class
      WHERE c.relnamespace = 'pgwarden'::regnamespace AND NOT (c.relkind = 'v' AND r.rulename = '_RETURN')
     UNION ALL
     SELECT 'policy ' || p.polname || ' on pgwarden.' || c.relname, 'row security policy'
       FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid
      WHERE c.relnamespace = 'pgwarden'::regnamespace
     UNION ALL
     SELECT 'row security on pgwarden.' || c.relname, CASE WHEN c.relforcerowsecurity THEN 'enabled and forced' ELSE 'enabled' END
       FROM pg_catalog.pg_class c
      WHERE c.relnamespace = 'pgwarden'::regnamespace AND c.relrowsecurity
     UNION ALL
     SELECT 'trigger ' || t.tgname || ' on pgwarden.' || c.relname, pg_catalog.pg_get_triggerdef(t.oid)
       FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = 'pgwarden'::regnamespace AND NOT t.tgisinternal
        AND NOT (c.relname || '.' || t.tgname = ANY ($1::text[]))
      ORDER BY 1`, [expected]);
  return rows.map((row) => ({ object: row.object, state: 'CHANGED' as const, expected: 'absent (install makes none)', actual: row.actual }));
}

/** A check that could not run: FAILED, naming the error (status must not pass what it could not see). */
function failed(what: string, error: unknown): StatusItem {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
  return { object: `check of ${what}`, state: 'FAILED', expected: 'the check runs', actual: `failed: ${message}` };
}

async function definitionChecks(client: pg.ClientBase): Promise<StatusItem[]> {
  const items: StatusItem[] = [];
  try {
    for (const extra of await unexpectedPrivileges(client)) {
      items.push({
        object: `privilege on ${extra.object}${extra.column ? ` (${extra.column})` : ''}`, state: 'CHANGED',
        expected: 'only the grants install makes (docs/sensors.md)', actual: `${extra.privilege} granted to ${extra.grantee}`,
      });
    }
    for (const gone of await missingPrivileges(client)) {
      items.push({
        object: `privilege on ${gone.object}${gone.column ? ` (${gone.column})` : ''} for ${gone.grantee}`, state: 'MISSING',
        expected: `${gone.privilege} granted to ${gone.grantee} (install grants it)`, actual: 'not granted: run `pgwarden install`',
      });
    }
  } catch (error) {
    items.push(failed('privileges on pgwarden\'s objects', error));
  }
  const { rows: owners } = await client.query<{ object: string; owner: string; schema_owner: string; schema_owner_super: boolean }>(
    `${SQL_TAG}WITH s AS (SELECT n.oid, n.nspowner FROM pg_catalog.pg_namespace n WHERE n.nspname = 'pgwarden')
     SELECT o.object, o.owner::regrole::text AS owner, s.nspowner::regrole::text AS schema_owner,
            COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = s.nspowner), false) AS schema_owner_super
       FROM s, LATERAL (
         SELECT 'schema pgwarden' AS object, s.nspowner AS owner
         UNION ALL SELECT 'relation pgwarden.' || c.relname, c.relowner FROM pg_catalog.pg_class c WHERE c.relnamespace = s.oid AND c.relkind IN ('r', 'p', 'v', 'S', 'm', 'f')
         UNION ALL SELECT 'function ' || p.oid::regprocedure::text, p.proowner FROM pg_catalog.pg_proc p WHERE p.pronamespace = s.oid) o
      WHERE o.owner <> s.nspowner OR (o.object = 'schema pgwarden' AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = s.nspowner), false))
      ORDER BY 1`);
  for (const row of owners) {
    items.push({
      object: `owner of ${row.object}`, state: 'CHANGED',
      expected: row.object === 'schema pgwarden' ? 'a superuser' : `${row.schema_owner} (the schema's owner)`,
      actual: row.object === 'schema pgwarden' ? `${row.owner}, not a superuser` : row.owner,
    });
  }
  // Generated and unknown functions (those of the manifest are checked above).
  const known = new Set(EXPECTED_FUNCTIONS.map((f) => f.signature));
  const { rows: functions } = await client.query<{ signature: string; config: string[] | null; strict: boolean; secdef: boolean; compiled: boolean }>(
    `${SQL_TAG}SELECT 'pgwarden.' || p.proname || '(' || pg_catalog.replace(pg_catalog.oidvectortypes(p.proargtypes), ', ', ',') || ')' AS signature,
            p.proconfig AS config, p.proisstrict AS strict, p.prosecdef AS secdef,
            EXISTS (SELECT 1 FROM pgwarden.compiled_functions c WHERE pg_catalog.to_regprocedure(c.name) = p.oid) AS compiled
       FROM pg_catalog.pg_proc p
      WHERE p.pronamespace = 'pgwarden'::pg_catalog.regnamespace
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e')
      ORDER BY 1`).catch((error: unknown) => {
    items.push(failed('functions in schema pgwarden', error));
    return { rows: [] as never[] };
  });
  for (const fn of functions.filter((f) => !known.has(f.signature))) {
    if (!fn.compiled) {
      items.push({ object: `function ${fn.signature}`, state: 'CHANGED', expected: 'only functions pgwarden makes in schema pgwarden', actual: 'not made by pgwarden' });
      continue;
    }
    const unpinned = UNPINNED_COMPILED.test(fn.signature);
    const configOk = unpinned ? fn.config === null : fn.config?.length === 1 && fn.config[0] === PINNED_SEARCH_PATH;
    if (configOk && !fn.strict) continue;
    items.push({
      object: `settings of ${fn.signature}`, state: 'CHANGED',
      expected: `${unpinned ? 'no SET clause (inlined into its pinned caller)' : 'search_path pinned, nothing else'}, called on null input`,
      actual: `${fn.config?.join(' ') || 'no SET clause'}${fn.strict ? ', strict' : ''}`,
    });
  }
  return items;
}

/**
 * Settings that switch a sensor off for a role or a database (ALTER ROLE … SET event_triggers =
 * off, session_replication_role = replica …), grants to set them (pg_parameter_acl, PostgreSQL
 * 15+), and the server-wide values.
 */
async function settingChecks(client: pg.ClientBase, version: number): Promise<StatusItem[]> {
  const items: StatusItem[] = [];
  // Settings that switch a sensor off, for anyone; any setting on pgwarden's own roles but the
  // ones install gives them (ALTER ROLE pgwarden_recorder SET default_transaction_read_only = on
  // makes every refusal record fail); pgAudit's own settings for a role or a database.
  const { rows } = await client.query<{ role: string | null; database: string | null; setting: string; own: boolean; guarded: boolean; repository_quiet: boolean }>(
    `${SQL_TAG}SELECT r.rolname::text AS role, d.datname::text AS database, c AS setting,
            COALESCE(r.rolname = ANY ($2::text[]), false) AS own,
            pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) = ANY ($1::text[]) AS guarded,
            -- repo migrate quiets pgAudit for the repository writer and its logins (their inserts
            -- would audit themselves): pgwarden's own configuration (docs/repository.md)
            (x.setdatabase = 0 AND c = 'pgaudit.log=none'
             AND (r.rolname = 'pgwarden_repo_writer' OR EXISTS (
                   SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles w ON w.oid = m.roleid
                    WHERE w.rolname = 'pgwarden_repo_writer' AND m.member = r.oid))) AS repository_quiet
       FROM pg_catalog.pg_db_role_setting x
       LEFT JOIN pg_catalog.pg_roles r ON r.oid = x.setrole
       LEFT JOIN pg_catalog.pg_database d ON d.oid = x.setdatabase,
       pg_catalog.unnest(x.setconfig) AS c
      WHERE pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) = ANY ($1::text[])
         OR (r.rolname = ANY ($2::text[]) AND NOT (x.setdatabase = 0 AND c = ANY ($3::text[])))
         OR pg_catalog.lower(pg_catalog.split_part(c, '=', 1)) LIKE 'pgaudit.%'
      ORDER BY 1, 2, 3`, [GUARDED_SETTINGS, OWN_ROLES, OWN_ROLE_SETTINGS]);
  for (const row of rows) {
    if (row.repository_quiet && !row.guarded && !row.own) continue;
    const scope = row.role && row.database ? `role ${row.role} in database ${row.database}` : row.role ? `role ${row.role}` : `database ${row.database ?? '?'}`;
    const name = row.setting.split('=')[0]!;
    if (!row.guarded && !row.own) {
      items.push({
        object: `setting ${name} for ${scope}`, state: 'WARN', expected: 'pgAudit as configured server-wide',
        actual: `${row.setting}: pgAudit set apart for ${scope} (as \`pgwarden pgaudit enable --database/--role\` does; unless someone meant it, it may switch auditing off)`,
      });
      continue;
    }
    items.push({
      object: `setting ${name} for ${scope}`, state: 'CHANGED',
      expected: row.guarded ? 'not set per role or database (it can switch a sensor off)'
        : `only what install sets on pgwarden's roles (${OWN_ROLE_SETTINGS.join(', ')} for ${RECORDER_ROLE}); \`pgwarden install\` resets it`,
      actual: row.setting,
    });
  }
  const { rows: server } = await client.query<{ name: string; value: string; source: string }>(
    `${SQL_TAG}SELECT name, reset_val AS value, source FROM pg_catalog.pg_settings WHERE name IN ('event_triggers', 'session_replication_role')`);
  for (const row of server) {
    const off = (row.name === 'event_triggers' && row.value === 'off') || (row.name === 'session_replication_role' && row.value === 'replica');
    if (off) items.push({ object: `server setting ${row.name}`, state: 'DISABLED', expected: row.name === 'event_triggers' ? 'on' : 'origin', actual: `${row.value} (from ${row.source}): event triggers do not fire` });
  }
  if (version >= 150000) {
    const { rows: acl } = await client.query<{ parameter: string; grantee: string; privilege: string }>(
      `${SQL_TAG}SELECT p.parname AS parameter, CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee, a.privilege_type AS privilege
         FROM pg_catalog.pg_parameter_acl p, pg_catalog.aclexplode(p.paracl) a
        WHERE pg_catalog.lower(p.parname) = ANY ($1::text[])
          AND NOT COALESCE((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = a.grantee), false) ORDER BY 1, 2, 3`, [GUARDED_SETTINGS]);
    for (const row of acl) {
      items.push({
        object: `privilege on parameter ${row.parameter}`, state: 'CHANGED',
        expected: 'superusers only (GRANT … ON PARAMETER lets a role switch a sensor off)', actual: `${row.privilege} granted to ${row.grantee}`,
      });
    }
  }
  return items;
}

/**
 * Members of pgwarden's own roles. Install grants none: each is listed (WARN), and one granted by a
 * role that is not a superuser (a CREATEROLE role granting itself, on PostgreSQL 14 and 15) is
 * CHANGED. Also the recorder role's attributes.
 */
/**
 * The responses (migration 5): a member of pgwarden_responder, which has none by design (on 14
 * and 15 a CREATEROLE role may grant it to itself) is CHANGED; a lock whose time has come and
 * that nothing lifted is WARN: no recorded login since its end (the login lift of migration 6
 * needs a login check that runs and records: 17+, or session_exec on 14-16), no cron entry for
 * `detect responses lift-expired`, no collect running.
 */
async function responseChecks(client: pg.ClientBase): Promise<StatusItem[]> {
  const items: StatusItem[] = [];
  const { rows: members } = await client.query<{ member: string; grantor: string }>(
    `${SQL_TAG}SELECT m.rolname::text AS member, COALESCE(gr.rolname::text, '?') AS grantor
       FROM pg_catalog.pg_auth_members am
       JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
       JOIN pg_catalog.pg_roles m ON m.oid = am.member
       LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = am.grantor
      WHERE g.rolname = $1 ORDER BY 1`, [RESPONDER_ROLE]);
  for (const row of members) {
    items.push({ object: `member ${row.member} of ${RESPONDER_ROLE}`, state: 'CHANGED', expected: 'no members (nobody logs in as the responder or sets it)', actual: `granted by ${row.grantor}` });
  }
  const { rows: [readable] } = await client.query<{ ok: boolean }>(
    `${SQL_TAG}SELECT COALESCE(pg_catalog.has_table_privilege(pg_catalog.to_regclass('pgwarden.response_locks'), 'SELECT'), false) AS ok`);
  if (!readable!.ok) return items;
  const { rows: overdue } = await client.query<{ id: string; role: string; until: string }>(
    `${SQL_TAG}SELECT l.id::text AS id, l.role_name AS role, pg_catalog.to_char(l.until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS until
       FROM pgwarden.response_locks l WHERE l.lifted_at IS NULL AND l.until <= pg_catalog.now() ORDER BY l.until, l.id`);
  for (const row of overdue) {
    items.push({
      object: `lock ${row.id} of role ${row.role}`, state: 'WARN', expected: `lifted at ${row.until}`,
      actual: 'still NOLOGIN: no recorded login and no lift since its end; run `pgwarden detect responses lift-expired` from cron (docs/detect.md, "Expiry while collect is down")',
    });
  }
  return items;
}

async function membershipChecks(client: pg.ClientBase): Promise<StatusItem[]> {
  const items: StatusItem[] = [];
  const { rows } = await client.query<{ role: string; member: string; grantor: string; grantor_super: boolean }>(
    `${SQL_TAG}SELECT g.rolname::text AS role, m.rolname::text AS member, COALESCE(gr.rolname::text, '?') AS grantor,
            COALESCE(gr.rolsuper, false) AS grantor_super
       FROM pg_catalog.pg_auth_members am
       JOIN pg_catalog.pg_roles g ON g.oid = am.roleid
       JOIN pg_catalog.pg_roles m ON m.oid = am.member
       LEFT JOIN pg_catalog.pg_roles gr ON gr.oid = am.grantor
      WHERE g.rolname = ANY ($1::text[]) ORDER BY 1, 2`, [OWN_ROLES]);
  for (const row of rows) {
    items.push({
      object: `member ${row.member} of ${row.role}`, state: row.grantor_super ? 'WARN' : 'CHANGED',
      expected: 'granted by a superuser, on purpose (install grants none)',
      actual: `granted by ${row.grantor}${row.grantor_super ? '' : ', not a superuser'}`,
    });
  }
  const { rows: [recorder] } = await client.query<{ bad: string | null }>(
    `${SQL_TAG}SELECT NULLIF(pg_catalog.concat_ws(', ', CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
        CASE WHEN rolcreatedb THEN 'CREATEDB' END, CASE WHEN rolinherit THEN 'INHERIT' END, CASE WHEN rolreplication THEN 'REPLICATION' END,
        CASE WHEN rolbypassrls THEN 'BYPASSRLS' END, CASE WHEN rolconnlimit <> ${RECORDER_CONNECTION_LIMIT} THEN 'CONNECTION LIMIT ' || rolconnlimit END), '') AS bad
       FROM pg_catalog.pg_roles WHERE rolname = $1`, [RECORDER_ROLE]);
  if (recorder?.bad) {
    items.push({ object: `attributes of role ${RECORDER_ROLE}`, state: 'CHANGED', expected: `NOSUPERUSER NOCREATEROLE NOCREATEDB NOINHERIT NOREPLICATION NOBYPASSRLS CONNECTION LIMIT ${RECORDER_CONNECTION_LIMIT}`, actual: recorder.bad });
  }
  return items;
}

/**
 * Every connectable database, seen from this one (issue 13, item 8): one without pgwarden (created
 * TEMPLATE template0, or from a template without it) has no guard and no DDL audit. Known without
 * connecting: install's grants to pgwarden_recorder leave a shared dependency (pg_shdepend) in
 * each database that has the schema.
 */
async function databaseChecks(client: pg.ClientBase): Promise<StatusItem[]> {
  // The mark is an owner entry (deptype 'o') of a type on pgwarden_recorder: a database owner can
  // grant to the role (that left the 'a' entries the check once trusted) but cannot make an
  // object owned by it without being a member of it (members are reported above).
  const { rows } = await client.query<{ database: string; template: boolean; guarded: boolean }>(
    `${SQL_TAG}SELECT d.datname::text AS database, d.datistemplate AS template,
        EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend s
                 WHERE s.dbid = d.oid AND s.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND s.deptype = 'o'
                   AND s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
                   AND s.refobjid = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = $1)) AS guarded
       FROM pg_catalog.pg_database d
      WHERE d.datallowconn AND d.datname <> 'template0' AND d.datname <> pg_catalog.current_database()
      ORDER BY 1`, [RECORDER_ROLE]);
  const items: StatusItem[] = rows.filter((r) => !r.guarded).map((r) => ({
    object: `database ${r.database}`,
    state: r.template ? 'WARN' : 'MISSING',
    expected: 'pgwarden installed (guard, DDL audit, tamper check)',
    actual: r.template
      ? `no pgwarden (or one older than this release): databases created from this template get none; run \`pgwarden install --dbname ${r.database}\``
      : `no pgwarden (or one older than this release): logins are not guarded and DDL is not audited there; run \`pgwarden install --dbname ${r.database}\` (or --all-databases)`,
  }));
  const { rows: [marker] } = await client.query<{ owner: string | null }>(
    `${SQL_TAG}SELECT (SELECT t.typowner::regrole::text FROM pg_catalog.pg_type t WHERE t.oid = pg_catalog.to_regtype($1)) AS owner`, [DATABASE_MARKER]);
  if (marker?.owner !== RECORDER_ROLE) {
    items.push({
      object: `type ${DATABASE_MARKER}`, state: marker?.owner ? 'CHANGED' : 'MISSING', expected: `owned by ${RECORDER_ROLE} (marks this database as installed)`,
      actual: marker?.owner ? `owned by ${marker.owner}: other databases report this one as without pgwarden` : 'absent: other databases report this one as without pgwarden; run `pgwarden install`',
    });
  }
  return items;
}

/**
 * What changed since the baseline with no DDL record (issue 13, item 7): relations created without
 * an event trigger (EXPLAIN ANALYZE CREATE TABLE AS …), owners changed by REASSIGN OWNED, roles and
 * databases (no event trigger fires for them). `pgwarden ddl baseline --accept` accepts them.
 */
async function unrecordedChanges(client: pg.ClientBase, unguarded: ReadonlySet<string>): Promise<StatusItem[]> {
  let rows: { kind: string; change: string; name: string; detail: string }[];
  try {
    ({ rows } = await client.query<{ kind: string; change: string; name: string; detail: string }>(
      `${SQL_TAG}SELECT kind, change, name, detail FROM pgwarden.ddl_unrecorded() ORDER BY kind, name, change`));
  } catch (error) {
    return [failed('DDL baseline reconciliation (pgwarden.ddl_unrecorded())', error)];
  }
  return rows.map((row) => row.kind === 'baseline'
    ? { object: 'DDL baseline', state: 'WARN' as const, expected: 'taken in this database', actual: `${row.detail}; run \`pgwarden ddl baseline --accept\`` }
    : {
      object: `unrecorded change: ${row.kind} ${row.name} ${row.change}`,
      // A new database that has pgwarden (from template1) guards and audits itself: listed, not drift.
      state: row.kind === 'database' && row.change === 'created' && !unguarded.has(row.name) ? 'WARN' as const : 'CHANGED' as const,
      expected: 'every change in the DDL log (or accepted with `pgwarden ddl baseline --accept`)',
      actual: `${row.change} with no DDL record${row.detail ? ` (${row.detail})` : ''}`,
    });
}
