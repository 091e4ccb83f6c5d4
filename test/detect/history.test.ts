// dormant_role_login from the repository's history (src/detect/history.ts): on a real repository
// (PostgreSQL 18, `repo migrate`) whose sessions say olduser last logged in 120 days ago and
// regular 2 days ago, a log with their logins gives exactly one dormant alert, for olduser, in
// `detect replay --repo` and in `collect` (whose repository sink stores the very sessions the
// rule asks about: the history counts only logins before the server's first record). Without
// the history (an empty repository, or no repository) the same log gives none.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startHttpReceiver, type HttpReceiver } from '../harness/receivers.ts';
import { startCollect } from '../pipeline/collect-helpers.ts';

const T = Date.parse('2026-06-01T10:00:00Z');
const DAY = 86_400_000;
const csvTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC');

function login(user: string, ms: number, n: number): string {
  const ts = csvTime(ms);
  return `${ts},"${user}","app",${3000 + n},"10.2.0.${n}:5555",6c0f0000.${n.toString(16)},2,"authentication",${ts},3/1,0,LOG,00000,"connection authorized: user=${user} database=app application_name=psql",,,,,,,,,"","client backend",,0\n`;
}

/** olduser (dormant for 120 days), regular (2 days) and newbie (no history) log in; olduser again 10 s later. */
const LOG = login('olduser', T, 1) + login('regular', T + 1000, 2) + login('newbie', T + 2000, 3) + login('olduser', T + 10_000, 4);

interface Alert { rule: string; user: string | null; server: string | null; count: number }

describe('dormant_role_login reads the repository\'s login history', () => {
  let cluster: Cluster;
  let receiver: HttpReceiver;
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-detect-history-'));
  const log = join(dir, 'logs', 'postgresql-1.csv');

  async function repository(name: string, seeded: boolean, ingested = seeded): Promise<void> {
    await cluster.createDatabase(name);
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url(name)]);
    assert.equal(migrate.code, 0, migrate.stderr);
    if (!seeded) return;
    // the history: olduser 120 days ago, regular 2 days ago; and the replayed sessions themselves,
    // as if the log had been ingested already (they must not count as "the previous login")
    const rows: [string, string, number][] = [
      ['h1', 'olduser', T - 130 * DAY], ['h2', 'olduser', T - 120 * DAY], ['h3', 'regular', T - 2 * DAY],
      ['6c0f0000.1', 'olduser', T], ['6c0f0000.4', 'olduser', T + 10_000], ['6c0f0000.2', 'regular', T + 1000],
      // another server's recent login of olduser says nothing about db1
      ['o1', 'olduser', T - DAY],
    ];
    for (const [session, user, ms] of rows) {
      if (!ingested && session.startsWith('6c0f')) continue;
      await cluster.query(`INSERT INTO pgwarden_repo.sessions (server, session_id, user_name, database_name, authorized_at) VALUES ($1, $2, $3, 'app', $4)`,
        [session === 'o1' ? 'db2' : 'db1', session, user, new Date(ms)], name);
    }
  }

  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    await repository('repo_history', true);
    // collect's own repository sink stores the log's sessions (the lane may be ahead of detection's)
    await repository('repo_collect', true, false);
    await repository('repo_empty', false);
    mkdirSync(join(dir, 'logs'));
    writeFileSync(log, LOG);
    receiver = await startHttpReceiver();
  });
  after(async () => {
    await receiver?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function replay(args: string[]): Promise<Alert[]> {
    const result = await runCli(['detect', 'replay', '--server', 'db1', ...args, log]);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
  }

  it('replay --repo: exactly one dormant alert, for the role whose previous stored login is 120 days old', async () => {
    const dormant = (await replay(['--repo', cluster.url('repo_history')])).filter((a) => a.rule === 'dormant_role_login');
    assert.deepEqual(dormant.map((a) => [a.user, a.server, a.count]), [['olduser', 'db1', 1]]);
  });

  it('replay without the history (an empty repository, no repository): none', async () => {
    assert.deepEqual((await replay(['--repo', cluster.url('repo_empty')])).filter((a) => a.rule === 'dormant_role_login'), []);
    assert.deepEqual((await replay([])).filter((a) => a.rule === 'dormant_role_login'), []);
  });

  it('collect with a repository sink: exactly one dormant alert at the webhook, right after the start', async () => {
    const url = new URL(cluster.url('repo_collect'));
    url.password = '';
    const config = join(dir, 'pgwarden.yaml');
    writeFileSync(config, `detect:
  in_collect: true
pipeline:
  batch: { window_seconds: 0, max_events: 2 }
  sources:
    pg: { type: logfile, path: ${join(dir, 'logs')}, pattern: '*.csv', format: csvlog, server: db1, state_dir: ${join(dir, 'state')}, poll_ms: 100 }
  sinks:
    repo: { type: repository, url: '${url.toString()}', password_env: TEST_REPO_PASSWORD }
    hook: { type: webhook, url: ${receiver.url}/history, format: json, inputs: [detect] }
`);
    process.env.TEST_REPO_PASSWORD = cluster.superuserPassword;
    const daemon = startCollect(config);
    try {
      await waitFor(async () => receiver.requests.length >= 1, 60_000, 'the dormant alert at the webhook')
        .catch((error: Error) => assert.fail(`${error.message}: ${daemon.stderr()}`));
      // the repository sink has stored the log's sessions meanwhile: nothing more comes
      await waitFor(async () => (await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pgwarden_repo.sessions WHERE session_id LIKE '6c0f0000.%' AND authorized_at IS NOT NULL", [], 'repo_collect')).rows[0]!.n >= 4, 30_000, 'the sessions stored');
      await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    assert.match(daemon.stderr(), /detection reads the login history from the repository/);
    const alerts = receiver.requests.map((r) => (JSON.parse(r.body) as { alert: Alert }).alert);
    assert.deepEqual(alerts.map((a) => [a.rule, a.user, a.server]), [['dormant_role_login', 'olduser', 'db1']]);
  });

  // The server's privileged roles (pg_roles), for a source's server under servers:. nightowl is a
  // superuser that pgwarden.yaml names nowhere (detect.privileged_roles is [postgres]) and no
  // record makes one: only the server knows, and off_hours_privileged_login needs to.
  async function offHoursAlerts(name: string, withServer: boolean): Promise<Alert[]> {
    const root = join(dir, name);
    mkdirSync(join(root, 'logs'), { recursive: true });
    const saturday = Date.parse('2026-06-06T03:00:00Z');
    writeFileSync(join(root, 'logs', 'postgresql-1.csv'), login('nightowl', saturday, 7) + login('regular', saturday + 1000, 8));
    const config = join(root, 'pgwarden.yaml');
    writeFileSync(config, `${withServer ? `servers:\n  db1: { url: '${cluster.url()}' }\n` : ''}detect:
  in_collect: true
pipeline:
  batch: { window_seconds: 0, max_events: 2 }
  sources:
    pg: { type: logfile, path: ${join(root, 'logs')}, pattern: '*.csv', format: csvlog, server: db1, state_dir: ${join(root, 'state')}, poll_ms: 100 }
  sinks:
    hook: { type: webhook, url: ${receiver.url}/${name}, format: json, inputs: [detect] }
    out: { type: jsonl, path: ${join(root, 'events.jsonl')}, inputs: [pg] }
`);
    const daemon = startCollect(config);
    try {
      await waitFor(async () => existsSync(join(root, 'events.jsonl')) && readFileSync(join(root, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).length >= 2, 30_000, 'both logins collected')
        .catch((error: Error) => assert.fail(`${error.message}: ${daemon.stderr()}`));
      if (withServer) await waitFor(async () => receiver.requests.some((r) => r.path === `/${name}`), 30_000, 'the alert').catch(() => undefined);
      else await new Promise((resolve) => setTimeout(resolve, 1500));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    if (withServer) assert.match(daemon.stderr(), /detection reads the privileged roles from the servers/);
    return receiver.requests.filter((r) => r.path === `/${name}`).map((r) => (JSON.parse(r.body) as { alert: Alert }).alert);
  }

  it('collect: a superuser only the server knows of logs in off hours: one alert, from the server\'s pg_roles; without servers: none', async () => {
    await cluster.query('CREATE ROLE nightowl SUPERUSER LOGIN');
    const alerts = await offHoursAlerts('roles_server', true);
    assert.deepEqual(alerts.filter((a) => a.rule === 'off_hours_privileged_login').map((a) => [a.user, a.server]), [['nightowl', 'db1']]);
    assert.deepEqual((await offHoursAlerts('roles_none', false)).filter((a) => a.rule === 'off_hours_privileged_login'), []);
  });
});
