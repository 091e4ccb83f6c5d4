// The monitor on a real hot standby (PostgreSQL 15, made with pg_basebackup): every check runs
// without trying to write, `writable` reports the standby as read-only by design, the checks
// that keep state say what they do there (sampling checks: skipped; settings_drift: compared
// with the baseline the primary recorded), and both sides report replication lag.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, chownSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { CHECKS, checkServer, type ServerTarget } from '../../src/monitor/index.ts';
import { waitFor } from '../harness/cli.ts';
import { freePort, type Cluster } from '../harness/postgres.ts';
import { LOGIN, LOGIN_PASSWORD, monitoredCluster } from './scenarios.ts';

describe('secure monitoring on a hot standby (pg15)', () => {
  let primary: Cluster;
  let standbyDir: string;
  let standbyPort: number;
  let asUser: { uid?: number; gid?: number };
  const pgCtl = (...args: string[]) => {
    const result = spawnSync(path.join(primary.binDir, 'pg_ctl'), args, { ...asUser, encoding: 'utf8', cwd: os.tmpdir() });
    assert.equal(result.status, 0, result.stderr);
  };
  const target = (port: number): ServerTarget =>
    ({ name: String(port), target: { url: `postgres://${LOGIN}:${LOGIN_PASSWORD}@127.0.0.1:${port}/postgres`, label: String(port) } });

  before(async () => {
    ({ cluster: primary } = await monitoredCluster('pg15'));
    const owner = statSync(primary.socketDir);
    asUser = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
    standbyDir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-standby-'));
    if (asUser.uid !== undefined) chownSync(standbyDir, asUser.uid, asUser.gid!);
    const data = path.join(standbyDir, 'data');
    const backup = spawnSync(path.join(primary.binDir, 'pg_basebackup'),
      ['-h', primary.socketDir, '-p', String(primary.port), '-U', primary.superuser, '-D', data, '-R', '-X', 'stream', '--no-sync', '--checkpoint=fast'],
      { ...asUser, encoding: 'utf8', cwd: os.tmpdir() });
    assert.equal(backup.status, 0, backup.stderr);
    standbyPort = await freePort();
    // Later lines win: the standby's own port and socket directory.
    appendFileSync(path.join(data, 'postgresql.auto.conf'), `port = ${standbyPort}\nunix_socket_directories = '${standbyDir}'\nhot_standby = on\n`);
    pgCtl('-D', data, '-l', path.join(standbyDir, 'server.log'), '-w', '-t', '60', 'start');
  });
  after(async () => {
    if (standbyDir) {
      spawnSync(path.join(primary.binDir, 'pg_ctl'), ['-D', path.join(standbyDir, 'data'), '-m', 'immediate', '-w', 'stop'], { ...asUser, cwd: os.tmpdir() });
      rmSync(standbyDir, { recursive: true, force: true });
    }
    await primary?.stop();
  });

  it('runs every check on the standby without an error, and writable says standby', async () => {
    const result = await checkServer(target(standbyPort));
    assert.equal(result.error, null);
    assert.equal(result.checks.length, CHECKS.length);
    for (const check of result.checks) assert.equal(check.error, null, `${check.name}: ${check.error}`);
    const writable = result.checks.find((c) => c.name === 'writable')!;
    assert.equal(writable.level, 'ok');
    assert.match(writable.summary, /standby: read-only/);
    // The checks that compare with a stored sample say why they cannot on a standby, every run.
    for (let run = 0; run < 2; run++) {
      const again = await checkServer(target(standbyPort), { checks: ['transaction_rate', 'deadlocks', 'temp_files', 'database_growth'] });
      for (const check of again.checks) {
        assert.equal(check.level, 'skipped', check.name);
        assert.match(check.summary, /^on a standby: no sample can be stored/, check.name);
      }
    }
  });

  it('settings_drift: skipped until the primary records the baseline, then the standby is compared with it (read-only)', async () => {
    const before = await checkServer(target(standbyPort), { checks: ['settings_drift'] });
    assert.equal(before.checks[0]!.level, 'skipped');
    assert.match(before.checks[0]!.summary, /no settings baseline yet: the primary records it/);
    const onPrimary = await checkServer(target(primary.port), { checks: ['settings_drift'] });
    assert.equal(onPrimary.checks[0]!.rows.length, 0, 'the primary records its baseline');
    const recorded = Number((await primary.query<{ n: string }>('SELECT count(*) AS n FROM pgwarden_monitor.settings_baseline')).rows[0]!.n);
    const onStandby = await waitFor(async () => {
      const r = (await checkServer(target(standbyPort), { checks: ['settings_drift'] })).checks[0]!;
      return r.level !== 'skipped' ? r : undefined;
    }, 15_000, 'the baseline replicated to the standby');
    assert.equal(onStandby.error, null);
    const drifted = onStandby.rows.map((r) => r.item);
    assert.ok(drifted.includes('primary_conninfo') && drifted.includes('port'), `the standby's own settings: ${drifted.join(', ')}`);
    assert.ok(!JSON.stringify(onStandby).includes(String(primary.port)), 'names only, no values');
    const standbyCount = await new pg.Client({ connectionString: `postgres://${primary.superuser}:${primary.superuserPassword}@127.0.0.1:${standbyPort}/postgres` });
    await standbyCount.connect();
    try {
      assert.equal(Number((await standbyCount.query<{ n: string }>('SELECT count(*) AS n FROM pgwarden_monitor.settings_baseline')).rows[0]!.n), recorded, 'the standby wrote nothing');
    } finally {
      await standbyCount.end();
    }
  });

  it('reports replication lag on both sides', async () => {
    const onPrimary = await waitFor(async () => {
      const r = await checkServer(target(primary.port), { checks: ['replication_lag_bytes', 'replication_lag_seconds'] });
      return r.checks.every((c) => c.rows.length === 1) ? r : undefined;
    }, 15_000, 'the standby in pg_stat_replication');
    for (const check of onPrimary.checks) {
      assert.ok(check.rows[0]!.value! >= 0, `${check.name} ${check.rows[0]!.value}`);
      assert.match(check.rows[0]!.item, /\(pid \d+\)$/);
      assert.equal(check.level, 'ok');
    }
    const onStandby = await checkServer(target(standbyPort), { checks: ['replication_lag_bytes', 'replication_lag_seconds'] });
    for (const check of onStandby.checks) {
      assert.equal(check.rows[0]!.item, 'replay');
      assert.equal(check.rows[0]!.metadata.role, 'standby');
      assert.ok(check.rows[0]!.value! >= 0);
    }
  });
});
