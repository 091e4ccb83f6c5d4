// The real pgJDBC driver (Debian's libpostgresql-jdbc-java) against the guard on PostgreSQL 18.
// With default settings it sends no application_name at login and sets it right after with
// `SET application_name`, so the login trigger sees an empty name; `assumeMinServerVersion=9.0`
// puts the name in the startup packet, where the login trigger refuses it. Watch mode ends a
// session that renamed itself within its first second; allow-listing refuses the nameless login.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { installedCluster, pgEnv, runCli, waitFor } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

const DRIVER = '/usr/share/java/postgresql.jar';
const PROGRAM = fileURLToPath(new URL('./jdbc/ShortSessions.java', import.meta.url));

export interface JdbcSession { pid: number; loginAt: number; outcome: string; sqlstate: string | null }

/** Runs ShortSessions.java: `count` sessions, each connect, (pause), SELECT 1, close. */
export function jdbcSessions(cluster: Cluster, user: string, password: string, count: number, pauseMs: number, properties: string[]): Promise<JdbcSession[]> {
  const url = `jdbc:postgresql://${cluster.host}:${cluster.port}/postgres`;
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', DRIVER, PROGRAM, url, user, String(count), String(pauseMs), ...properties],
      { env: { ...process.env, PGPASSWORD: password }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`java exited with ${code}: ${err}`));
      resolve(out.trim().split('\n').map((line) => {
        const [pid, loginAt, outcome, sqlstate] = line.split(' ');
        return { pid: Number(pid), loginAt: Number(loginAt), outcome: outcome!, sqlstate: outcome === 'error' ? sqlstate! : null };
      }));
    });
  });
}

describe('pgJDBC and the guard (PostgreSQL 18)', { skip: existsSync(DRIVER) ? false : `${DRIVER} missing: run scripts/install-test-deps.sh` }, () => {
  let cluster: Cluster;
  let env: NodeJS.ProcessEnv;
  const dbeaver = 'ApplicationName=DBeaver 24.1.0 - Main';
  before(async () => {
    cluster = await installedCluster('pg18');
    env = pgEnv(cluster);
    for (const role of ['app_user', 'orders_svc']) await cluster.createRole(role, 'pw');
    assert.equal((await runCli(['guard', 'deny', '--role', 'app_user', '--app', '%dbeaver%'], env)).code, 0);
  });
  after(async () => cluster?.stop());

  it('default settings: the login trigger sees no application name; with assumeMinServerVersion=9.0 it refuses at login', async () => {
    const plain = await jdbcSessions(cluster, 'app_user', 'pw', 2, 0, [dbeaver]);
    assert.deepEqual(plain.map((s) => s.outcome), ['rows', 'rows'], 'without watch mode, both ran their query');
    const { rows } = await cluster.query("SELECT application FROM pgwarden.connection_attempts WHERE user_name = 'app_user' AND decision = 'allow'");
    assert.deepEqual(rows.map((r) => r.application), ['', ''], 'the name arrived after the login check');
    const named = await jdbcSessions(cluster, 'app_user', 'pw', 1, 0, [dbeaver, 'assumeMinServerVersion=9.0']);
    assert.deepEqual(named.map((s) => [s.outcome, s.sqlstate]), [['error', '28000']]);
  });

  it('watch mode ends a pgJDBC session that renamed itself, within its first second', async () => {
    const watch = spawn(process.execPath, ['bin/pgwarden.js', 'guard', 'watch', '--interval', '60', '--recheck', '5'],
      { env: { ...process.env, PGWARDEN_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    watch.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    watch.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      await waitFor(async () => out.includes('"watching"'), 15_000, 'the watcher to start');
      // A tool that lingers after login (DBeaver reads metadata for seconds); full sweeps are a minute apart.
      const [ended] = await jdbcSessions(cluster, 'app_user', 'pw', 1, 1500, [dbeaver]);
      assert.equal(ended!.outcome, 'error', JSON.stringify(ended));
      assert.ok(['57P01', '08006'].includes(ended!.sqlstate!), JSON.stringify(ended));
      await waitFor(async () => out.includes(`terminated pid ${ended!.pid} `), 5000, 'the watcher to report it');
    } finally {
      watch.kill('SIGTERM');
      await new Promise((resolve) => watch.on('close', resolve));
    }
  });

  it('allow-listing an application account refuses the nameless pgJDBC login; the application then sets assumeMinServerVersion', async () => {
    assert.equal((await runCli(['guard', 'allow', '--role', 'orders_svc', '--app', 'orders-api', '--priority', '10'], env)).code, 0);
    assert.equal((await runCli(['guard', 'deny', '--role', 'orders_svc', '--message', 'orders_svc connects only as orders-api'], env)).code, 0);
    const tool = await jdbcSessions(cluster, 'orders_svc', 'pw', 1, 0, [dbeaver]);
    assert.deepEqual(tool.map((s) => [s.outcome, s.sqlstate]), [['error', '28000']], 'a tool with default settings is refused at login');
    const legacy = await jdbcSessions(cluster, 'orders_svc', 'pw', 1, 0, ['ApplicationName=orders-api']);
    assert.deepEqual(legacy.map((s) => s.sqlstate), ['28000'], 'so is the application itself, until it sends its name at login');
    const app = await jdbcSessions(cluster, 'orders_svc', 'pw', 1, 0, ['ApplicationName=orders-api', 'assumeMinServerVersion=9.0']);
    assert.deepEqual(app.map((s) => s.outcome), ['rows']);
  });
});
