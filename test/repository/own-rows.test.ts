// pgwarden's own rows (issue 14): stored, hidden by default in reports, the dashboard's lists and
// alerts, shown on request — decided by role (the roles pgwarden creates, the logins repo migrate
// grants them, the logins `repo own-roles --sync` finds on an audited server), never by
// application_name: a client that sets PGAPPNAME=pgwarden/collect stays visible.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';
import { auditSearch } from '../../src/server/queries/events.ts';
import { sessionList } from '../../src/server/queries/sessions.ts';
import { installedCluster, runCli } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

/** Members of pgwarden's roles that are not pgwarden (see before()): never hidden. */
const PEOPLE = ['db1:rds_master', 'db1:delegate', 'db2:analyst'];

describe("pgwarden's own rows: hidden by role, shown on request", () => {
  let cluster: Cluster;
  let tmp: string;
  const at = Date.now() - 60_000;
  const audit = (server: string, user: string, application: string, i: number): PgwardenEvent => ({
    ...newEvent('audit', server, { input: '/var/log/own.log', position: i, line: i }), ts: new Date(at + i).toISOString(),
    user, database: 'shop', application, session_id: `s.${user}`, message: `AUDIT: ${i}`,
    audit: { type: 'SESSION', statement_id: i, substatement_id: 1, class: 'READ', command: 'SELECT', object_type: null,
      object_name: null, statement: `SELECT ${i}`, parameters: null, statement_logged: 'yes', rows: null },
  });
  const login = (server: string, user: string, application: string, i: number): PgwardenEvent => ({
    ...newEvent('connection_authorized', server, { input: '/var/log/own.log', position: 1000 + i, line: i }), ts: new Date(at + i).toISOString(),
    user, database: 'shop', application, session_id: `s.${user}`, message: 'connection authorized',
  });

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-own-'));
    // pgwarden installed: its roles (pgwarden_alerts among them) exist on this "audited server"
    cluster = await installedCluster('pg17');
    await cluster.createDatabase('repo');
    await cluster.createRole('pgwarden_ingest', 'ingest-pw', '');
    await cluster.createRole('collector_login', 'c-pw', '');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--writer-login', 'pgwarden_ingest']);
    assert.equal(migrate.code, 0, migrate.stderr);
    // granted after migrate: repo migrate records the members of pgwarden's roles of the repository's
    // cluster as pgwarden's on every server; this one stands for an audited server's login
    await cluster.query('GRANT pgwarden_alerts TO collector_login');
    // Not pgwarden's: people and role administrators that are members of pgwarden's roles without
    // being pgwarden. rds_master: the cloud master user (CREATEROLE, no superuser) that created
    // pgwarden's roles — on 16+ it holds ADMIN of each, with neither INHERIT nor SET (the grant
    // PostgreSQL gives a CREATEROLE creator); delegate: the same ADMIN-only grant, no CREATEROLE;
    // analyst: a person granted the reports role.
    await cluster.createRole('rds_master', 'm-pw', '');
    await cluster.query('ALTER ROLE rds_master CREATEROLE');
    await cluster.createRole('delegate', 'd-pw', '');
    await cluster.createRole('analyst', 'a-pw', '');
    for (const role of ['pgwarden_alerts', 'pgwarden_repo_writer']) {
      await cluster.query(`GRANT ${role} TO rds_master WITH ADMIN TRUE, INHERIT FALSE, SET FALSE`);
      await cluster.query(`GRANT ${role} TO delegate WITH ADMIN TRUE, INHERIT FALSE, SET FALSE`);
    }
    await cluster.query('GRANT pgwarden_repo_reader TO analyst');
    // run again now that they are members: what repo migrate records must not hide them anywhere
    const again = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--writer-login', 'pgwarden_ingest']);
    assert.equal(again.code, 0, again.stderr);
    const writer = new RepositoryWriter({ url: cluster.url('repo'), label: 'own' });
    try {
      await writer.write([
        login('db1', 'alice', 'psql', 1), audit('db1', 'alice', 'psql', 2),
        // anyone may name their session pgwarden's: that hides nothing
        login('db1', 'mallory', 'pgwarden/collect', 3), audit('db1', 'mallory', 'pgwarden/collect', 4),
        login('db1', 'pgwarden_ingest', 'pgwarden/ingest', 5), audit('db1', 'pgwarden_ingest', 'pgwarden/ingest', 6),
        audit('db1', 'pgwarden_alerts', 'pgwarden/alerts', 7),
        login('db1', 'collector_login', 'pgwarden/collect', 8), audit('db1', 'collector_login', 'pgwarden/collect', 9),
        // the same login name on a server where it was not synced is someone else's
        audit('db2', 'collector_login', 'x', 10),
        audit('db1', 'rds_master', 'psql', 11), audit('db1', 'delegate', 'psql', 12), audit('db2', 'analyst', 'psql', 13),
      ]);
    } finally {
      await writer.close();
    }
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const reportUsers = async (extra: string[] = []) => {
    const r = await runCli(['report', 'audit', '--repo', cluster.url('repo'), '--format', 'json', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { server: string; user: string }[]).map((row) => `${row.server}:${row.user}`);
  };

  it('report audit hides the roles pgwarden creates and the logins repo migrate granted them, not a pgwarden/ application name', async () => {
    // before: collector_login (a member of pgwarden_alerts on the repository's cluster when repo
    // migrate ran), rds_master, delegate and analyst were recorded as pgwarden's on every server
    assert.deepEqual(await reportUsers(), ['db1:alice', 'db1:mallory', 'db1:collector_login', 'db2:collector_login', ...PEOPLE]);
    assert.deepEqual(await reportUsers(['--include-own']),
      ['db1:alice', 'db1:mallory', 'db1:pgwarden_ingest', 'db1:pgwarden_alerts', 'db1:collector_login', 'db2:collector_login', ...PEOPLE]);
    const table = await runCli(['report', 'audit', '--repo', cluster.url('repo')]);
    assert.match(table.stdout, /^2 of pgwarden's own rows hidden \(--include-own\)$/m);
  });

  it('repo own-roles --sync records an audited server\'s logins granted pgwarden roles, for that server only', async () => {
    const config = path.join(tmp, 'pgwarden.yaml');
    writeFileSync(config, `servers:\n  db1: { url: '${cluster.url('postgres')}' }\n`);
    const sync = await runCli(['--config', config, 'repo', 'own-roles', '--repo', cluster.url('repo'), '--sync', 'db1']);
    assert.equal(sync.code, 0, sync.stderr);
    assert.match(sync.stdout, /db1\s+collector_login\s+repo own-roles --sync/);
    assert.match(sync.stdout, /\*\s+pgwarden_ingest\s+repo migrate --writer-login/);
    // an ADMIN-only membership (the CREATEROLE creator's) gives no privileges; the reports role is a person's
    assert.doesNotMatch(sync.stdout, /rds_master|delegate|analyst/);
    assert.deepEqual(await reportUsers(), ['db1:alice', 'db1:mallory', 'db2:collector_login', ...PEOPLE]);
  });

  it("the dashboard's audit search and sessions hide them unless own=1", async () => {
    const client = new pg.Client({ connectionString: cluster.url('repo') });
    await client.connect();
    try {
      const request = { range: { from: new Date(at - 1000), to: new Date(at + 60_000) }, cursor: null, limit: 50, budgetMs: 5000 };
      const users = (rows: { server: string | null; user_name: string | null }[]) => rows.map((r) => `${r.server}:${r.user_name}`).sort();
      assert.deepEqual(users((await auditSearch(client, {}, request)).rows), ['db1:alice', 'db1:delegate', 'db1:mallory', 'db1:rds_master', 'db2:analyst', 'db2:collector_login']);
      assert.equal((await auditSearch(client, { own: '1' }, request)).rows.length, 9);
      assert.deepEqual(users((await sessionList(client, {}, request)).rows), ['db1:alice', 'db1:mallory']);
      assert.deepEqual(users((await sessionList(client, { own: '1' }, request)).rows), ['db1:alice', 'db1:collector_login', 'db1:mallory', 'db1:pgwarden_ingest']);
    } finally {
      await client.end();
    }
  });
});
