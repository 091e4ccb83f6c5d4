// Detection and response inside `pgwarden collect` on a live PostgreSQL 16: a brute force
// (failed scram logins over TCP) in the csvlog collect follows gives exactly one alert at a real
// webhook receiver, and with a lock_role action and `install --responder` the role is locked by
// collect, refused while locked, and unlocked by collect's own lift when the lock's time is up.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pgEnv, runCli, tryLogin, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { startHttpReceiver, type HttpReceiver } from '../harness/receivers.ts';
import { startCollect, type Daemon } from './collect-helpers.ts';

const PASSWORD = 'Right-horse-battery-9';

describe('collect with detect.in_collect on a live PostgreSQL 16', () => {
  let cluster: Cluster;
  let receiver: HttpReceiver;
  let daemon: Daemon | undefined;
  const root = mkdtempSync(join(tmpdir(), 'pgwarden-collect-detect-live-'));

  before(async () => {
    cluster = await startCluster({
      flavor: 'pg16', settings: {
        log_destination: "'csvlog'", logging_collector: 'on', log_filename: "'postgresql-%Y%m%d_%H%M%S.log'", log_connections: 'on',
      },
    });
    const hba = join(cluster.dataDir, 'pg_hba.conf');
    writeFileSync(hba, `host all all 127.0.0.0/8 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    await cluster.query(`CREATE ROLE victim LOGIN PASSWORD '${PASSWORD}'`);
    await cluster.query(`CREATE ROLE pgw LOGIN PASSWORD '${PASSWORD}'`);
    const install = await runCli(['install', '--responder'], pgEnv(cluster));
    assert.equal(install.code, 0, install.stderr);
    await cluster.query('GRANT pgwarden_watcher TO pgw');
    receiver = await startHttpReceiver();
  });
  after(async () => {
    await daemon?.stop('SIGKILL');
    await receiver?.close();
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function canLogin(role: string): Promise<boolean> {
    const { rows } = await cluster.query(`SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = '${role}'`) as { rows: { rolcanlogin: boolean }[] };
    return rows[0]!.rolcanlogin;
  }

  it('a brute force gives one alert at the webhook; the password guessed after it locks the role by collect, which unlocks it on time', async () => {
    const passwordFile = join(root, 'pgw.password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const config = join(root, 'pgwarden.yaml');
    writeFileSync(config, `servers:
  db1: { url: 'postgres://pgw@127.0.0.1:${cluster.port}/postgres', password_file: ${passwordFile} }
detect:
  in_collect: true
  responses: { lift_interval: 1s }
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
      actions: [{ type: lock_role, duration: 6s }]
pipeline:
  sources:
    pg: { type: logfile, path: ${join(cluster.dataDir, 'log')}, pattern: '*.csv', format: csvlog, server: db1, state_dir: ${join(root, 'state')}, poll_ms: 100 }
  sinks:
    hook: { type: webhook, url: ${receiver.url}/alerts, format: json, inputs: [detect] }
`);
    daemon = startCollect(config);
    await waitFor(async () => /"msg":"collecting"/.test(daemon!.stderr()), 60_000, 'collect running')
      .catch((error: Error) => assert.fail(`${error.message}: ${daemon!.stderr()}`));
    for (let i = 0; i < 8; i++) {
      const outcome = await tryLogin(cluster, 'victim', `wrong-${i}`, 'hydra');
      assert.equal(outcome.ok, false);
    }
    await waitFor(async () => receiver.requests.length >= 1, 30_000, 'the brute force alert at the webhook');
    // the guessed password: a login that works after the failures, which the lock_role rule answers
    assert.deepEqual(await tryLogin(cluster, 'victim', PASSWORD, 'hydra'), { ok: true });
    await waitFor(async () => !(await canLogin('victim')), 30_000, 'victim locked by collect');
    const refused = await tryLogin(cluster, 'victim', PASSWORD, 'app');
    assert.equal(refused.ok, false, 'the right password is refused while the role is locked');
    await waitFor(async () => canLogin('victim'), 30_000, 'victim unlocked by collect\'s lift');
    assert.deepEqual(await tryLogin(cluster, 'victim', PASSWORD, 'app'), { ok: true }, 'admitted again after the lock');
    // the throttle holds the later failures (and the refused login) in the same incident: no second message
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const bodies = receiver.requests.map((r) => JSON.parse(r.body) as { delivery_id: string; notice: string; alert: { rule: string; user: string; server: string; responses: { action: string }[] } });
    assert.deepEqual(bodies.map((b) => b.alert.rule), ['brute_force', 'guessed_password'], `exactly one alert per rule: ${receiver.requests.map((r) => r.body).join('\n')}`);
    for (const [i, body] of bodies.entries()) {
      assert.equal(body.alert.user, 'victim');
      assert.equal(body.alert.server, 'db1');
      assert.equal(body.notice, 'opened');
      assert.equal(receiver.requests[i]!.headers['x-pgwarden-delivery'], body.delivery_id);
    }
    assert.deepEqual(bodies[1]!.alert.responses.map((r) => r.action), ['lock_role']);
    const { rows } = await cluster.query("SELECT action, outcome FROM pgwarden.response_actions WHERE role_name = 'victim' ORDER BY id") as { rows: { action: string; outcome: string }[] };
    assert.deepEqual(rows.map((r) => `${r.action} ${r.outcome}`), ['lock_role done', 'unlock_role done'], 'recorded: locked, then lifted');
    assert.match(daemon.stderr(), /"action":"lock_role","outcome":"done","role":"victim".*"msg":"response"/);
    assert.match(daemon.stderr(), /"action":"unlock_role","outcome":"done","role":"victim".*"msg":"lifted"/);
    assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    daemon = undefined;
  });
});
