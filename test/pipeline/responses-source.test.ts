// The responses source on a real PostgreSQL 16 with the sensors and the responder installed:
// every row of pgwarden.response_actions — responses run by hand, dry runs and real ones, their
// lifts — lands once in a real repository as an event of kind `response` (through `pgwarden
// collect`), with its action, outcome, role, pid, network and until; a restarted collect stores
// nothing twice. And collect with detect.responses.dry_run: a rule's lock_role and terminate are
// only described (rows with outcome dry_run, which arrive through the source with the rule and
// incident), the role stays LOGIN and the session alive, and no rule alerts on the response events.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ResponseInfo } from '../../src/core/event.ts';
import { pgEnv, runCli, tryLogin, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startCollect, type Daemon } from './collect-helpers.ts';

const PASSWORD = 'Right-horse-battery-9';

interface StoredResponse {
  ts: Date; server: string; database_name: string; user_name: string | null; pid: number | null; session_id: string | null;
  source_input: string; source_position: string; response: ResponseInfo;
}

interface ActionRow {
  id: number; action: string; outcome: string; role_name: string | null; pid: number | null; session_id: string | null;
  network: string | null; until: Date | null; reason: string; detail: Record<string, unknown>;
}

describe('responses source: pgwarden.response_actions into the repository', () => {
  let cluster: Cluster;
  let tmp: string;
  let daemon: Daemon | undefined;
  const inRepo = async <T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  };
  const actions = async (): Promise<ActionRow[]> => (await cluster.query<ActionRow>(`SELECT id::int, action, outcome, role_name, pid, session_id,
      network::text AS network, until, reason, detail FROM pgwarden.response_actions ORDER BY id`)).rows;
  const stored = () => inRepo<StoredResponse>(`SELECT ts, server, database_name, user_name, pid, session_id, source_input, source_position, response
      FROM pgwarden_repo.events WHERE kind = 'response' ORDER BY source_position`);
  /** The incidents the repository sink stored (an alert sink), each with the inputs of its events. */
  const incidents = () => inRepo<{ rule: string; inputs: string[] }>(`SELECT i.rule, pg_catalog.array_agg(e.source_input) AS inputs
      FROM pgwarden_repo.incidents i JOIN pgwarden_repo.incident_events e ON e.incident_id = i.id GROUP BY i.id, i.rule`);
  const canLogin = async (role: string) => (await cluster.query<{ l: boolean }>('SELECT rolcanlogin AS l FROM pg_catalog.pg_roles WHERE rolname = $1', [role])).rows[0]!.l;
  /** A session held open as the role, and its pid and session id (%c) as the log prints them. */
  const hold = async (role: string) => {
    const client = new pg.Client({ connectionString: cluster.url('postgres', role, PASSWORD), application_name: 'app' });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const { rows: [row] } = await cluster.query<{ sid: string }>(
      'SELECT pgwarden.response_session_id(backend_start, pid) AS sid FROM pg_stat_activity WHERE pid = $1', [pid]);
    return { client, pid, sid: row!.sid };
  };

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-responses-src-'));
    cluster = await startCluster({
      flavor: 'pg16', settings: {
        log_destination: "'csvlog'", logging_collector: 'on', log_filename: "'postgresql-%Y%m%d_%H%M%S.log'", log_connections: 'on',
      },
    });
    const hba = path.join(cluster.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all all 127.0.0.0/8 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    for (const role of ['target1', 'target2', 'victim', 'pgw']) await cluster.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
    await cluster.createDatabase('repo');
    const install = await runCli(['install', '--responder'], pgEnv(cluster));
    assert.equal(install.code, 0, install.stderr);
    // collect's login: pgwarden's watcher (responds, and may read the response table), nothing more
    await cluster.query('GRANT pgwarden_watcher TO pgw');
    assert.equal((await runCli(['repo', 'migrate', '--repo', cluster.url('repo')])).code, 0);
    writeFileSync(path.join(tmp, 'pgw.password'), `${PASSWORD}\n`, { mode: 0o600 });
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('every response run by hand lands once, with its fields; a restarted collect stores nothing twice', async () => {
    const env = pgEnv(cluster);
    const run = async (args: string[], code = 0) => {
      const result = await runCli(['detect', 'responses', 'run', ...args], env);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}${result.stdout}`);
    };
    await run(['--action', 'lock_role', '--role', 'target1', '--duration', '30m', '--dry-run']);
    assert.equal(await canLogin('target1'), true, 'a dry run changes nothing');
    await run(['--action', 'lock_role', '--role', 'target1', '--duration', '30m']);
    assert.equal(await canLogin('target1'), false);
    const session = await hold('target2');
    await run(['--action', 'terminate', '--pid', String(session.pid), '--session-id', session.sid, '--role', 'target2']);
    await session.client.end().catch(() => undefined);
    await run(['--action', 'block_client', '--network', '203.0.113.0/24', '--duration', '1h', '--dry-run']);
    await run(['--action', 'block_client', '--network', '203.0.113.0/24', '--duration', '1h']);
    const config = path.join(tmp, 'collect.yaml');
    const passwordFile = path.join(tmp, 'pgw.password');
    writeFileSync(config, `servers:\n  db1: { url: 'postgres://pgw@127.0.0.1:${cluster.port}/postgres', password_file: ${passwordFile} }\n` +
      `repository:\n  url: '${cluster.url('repo')}'\npipeline:\n` +
      `  sources:\n    resp: { type: responses, server: db1, poll_seconds: 0.2, state_dir: '${path.join(tmp, 'state')}' }\n` +
      `  sinks:\n    repo: { type: repository }\n`);
    daemon = startCollect(config);
    try {
      await waitFor(async () => (await stored()).length >= 5, 30_000, `the responses in the repository (${daemon.stderr()})`);
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      daemon = undefined;
    }
    const rows = await actions();
    assert.deepEqual(rows.map((r) => `${r.action} ${r.outcome}`),
      ['lock_role dry_run', 'lock_role done', 'terminate done', 'block_client dry_run', 'block_client done']);
    const events = await stored();
    assert.equal(events.length, rows.length, 'one event per row');
    for (const [i, row] of rows.entries()) {
      const event = events[i]!;
      assert.equal(Number(event.source_position), row.id);
      assert.equal(event.source_input, 'responses:db1/postgres');
      assert.equal(event.server, 'db1');
      assert.equal(event.database_name, 'postgres');
      assert.equal(event.user_name, row.role_name);
      assert.equal(event.pid, row.pid);
      assert.equal(event.session_id, row.session_id);
      assert.deepEqual({ ...event.response, response_id: undefined, requested_by: undefined }, {
        id: row.id, response_id: undefined, action: row.action, outcome: row.outcome, role: row.role_name, network: row.network,
        until: row.until === null ? null : row.until.toISOString(), reason: row.reason, rule: null, incident: null, summary: null,
        requested_by: undefined,
      });
    }
    assert.equal(events[1]!.response.role, 'target1');
    assert.ok(events[1]!.response.until !== null, 'a lock has its end');
    assert.equal(events[2]!.pid, session.pid);
    assert.equal(events[2]!.session_id, session.sid);
    assert.equal(events[2]!.user_name, 'target2');
    assert.equal(events[4]!.response.network, '203.0.113.0/24');
    // a lift while collect is down, then a restart: caught up from the checkpoint, nothing twice
    const lock = (await cluster.query<{ id: string }>("SELECT id::text FROM pgwarden.response_locks WHERE role_name = 'target1' AND lifted_at IS NULL")).rows[0]!.id;
    assert.equal((await runCli(['detect', 'responses', 'lift', lock], env)).code, 0);
    assert.equal(await canLogin('target1'), true);
    daemon = startCollect(config);
    try {
      await waitFor(async () => (await stored()).length >= 6, 30_000, 'the unlock');
      // a few more polls: anything read twice would show now
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      daemon = undefined;
    }
    const after = await stored();
    assert.equal(after.length, (await actions()).length);
    assert.deepEqual(after.map((e) => `${e.response.action} ${e.response.outcome}`).slice(5), ['unlock_role done']);
  });

  it('collect with detect.responses.dry_run describes a rule\'s responses and changes nothing; the dry_run events arrive through the source', async () => {
    const before = (await actions()).length;
    const passwordFile = path.join(tmp, 'pgw.password');
    const config = path.join(tmp, 'dry-run.yaml');
    writeFileSync(config, `servers:
  db1: { url: 'postgres://pgw@127.0.0.1:${cluster.port}/postgres', password_file: ${passwordFile} }
repository:
  url: '${cluster.url('repo')}'
detect:
  in_collect: true
  responses: { dry_run: true }
  # the harness's superuser (postgres) logs in at the wall clock's time: no off-hours alert for it, whatever the hour CI runs
  business_hours: { days: [mon, tue, wed, thu, fri, sat, sun], hours: ['00:00-24:00'] }
  custom_rules:
    guessed_password:
      description: failed logins, then a successful one, for one role from one client
      type: sequence
      severity: critical
      steps:
        - { match: { signals: [login_failed] }, count: 3 }
        - { match: { signals: [login] } }
      within: 10m
      group_by: [user, client_addr]
      actions: [{ type: lock_role, duration: 30m }, { type: terminate }]
    responses_unnamed:
      description: would match the response events' messages, but names no kind, so never sees them
      type: match
      match: { messages: ['^pgwarden response '] }
    responses_named:
      description: names kind response, so sees them
      type: match
      match: { kinds: [response], messages: ['^pgwarden response '] }
pipeline:
  sources:
    pg: { type: logfile, path: ${path.join(cluster.dataDir, 'log')}, pattern: '*.csv', format: csvlog, server: db1, state_dir: ${path.join(tmp, 'dry-state')}, poll_ms: 100 }
    resp: { type: responses, server: db1, poll_seconds: 0.2, state_dir: ${path.join(tmp, 'dry-state')} }
  sinks:
    repo: { type: repository }
`);
    daemon = startCollect(config);
    try {
      await waitFor(async () => /"msg":"collecting"/.test(daemon!.stderr()), 60_000, 'collect running')
        .catch((error: Error) => assert.fail(`${error.message}: ${daemon!.stderr()}`));
      for (let i = 0; i < 3; i++) assert.equal((await tryLogin(cluster, 'victim', `wrong-${i}`, 'hydra')).ok, false);
      // the guessed password, in a session that stays open: the one terminate would end
      const session = await hold('victim');
      const dryRuns = async () => (await stored()).filter((e) => e.response.outcome === 'dry_run' && e.response.rule === 'guessed_password');
      const found = await waitFor(async () => {
        const got = await dryRuns();
        return got.some((e) => e.response.action === 'lock_role') && got.some((e) => e.response.action === 'terminate' && e.pid === session.pid) && got;
      }, 30_000, `the dry_run events in the repository (${daemon.stderr()})`);
      const lock = found.find((e) => e.response.action === 'lock_role')!;
      assert.equal(lock.user_name, 'victim');
      assert.match(lock.response.reason, /^would ALTER ROLE victim NOLOGIN until /);
      assert.ok(lock.response.incident, 'the incident it was for');
      assert.match(lock.response.summary ?? '', /victim/);
      const terminate = found.find((e) => e.response.action === 'terminate' && e.pid === session.pid)!;
      assert.equal(terminate.session_id, session.sid);
      assert.match(terminate.response.reason, /^would end pid /);
      assert.equal(terminate.response.incident, lock.response.incident);
      // nothing changed: the role can log in, the session is alive
      assert.equal(await canLogin('victim'), true, 'not locked');
      assert.equal((await session.client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1, 'the session was not ended');
      assert.deepEqual(await tryLogin(cluster, 'victim', PASSWORD, 'app'), { ok: true });
      const rows = (await actions()).slice(before);
      assert.ok(rows.length > 0 && rows.every((r) => r.outcome === 'dry_run' || (r.action === 'terminate' && r.outcome === 'noop')),
        `only descriptions (and failed logins' ended sessions): ${JSON.stringify(rows)}`);
      // the response events reach detection: only the rule that names their kind alerts on them
      await waitFor(async () => (await incidents()).some((i) => i.rule === 'responses_named'), 30_000, 'responses_named\'s incident');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await session.client.end();
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
      daemon = undefined;
    }
    const raised = await incidents();
    assert.deepEqual([...new Set(raised.map((i) => i.rule))].sort(), ['guessed_password', 'responses_named'],
      `no built-in rule and not responses_unnamed: ${raised.map((i) => i.rule).join(', ')}`);
    for (const incident of raised) {
      const fromResponses = incident.inputs.filter((input) => input.startsWith('responses:')).length;
      if (incident.rule === 'responses_named') assert.ok(fromResponses > 0 && fromResponses === incident.inputs.length);
      else assert.equal(fromResponses, 0, `${incident.rule} alerted on a response event: ${incident.inputs.join(', ')}`);
    }
    assert.equal(await canLogin('victim'), true);
  });
});
