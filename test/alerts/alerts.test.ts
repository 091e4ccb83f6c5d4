// `pgwarden alerts run` against real receivers: an SMTP server (STARTTLS + AUTH) and an HTTP
// webhook receiver. What arrived is what is asserted: content, routing, signatures, exactly-once
// delivery across kill -9 and restart, retries visible in `pgwarden status`, and tamper alerts.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { installedCluster, pgEnv, runCli, waitFor } from '../harness/cli.ts';
import type { Cluster, Flavor } from '../harness/postgres.ts';
import { startHttpReceiver, startSmtp, type HttpReceiver, type SmtpReceiver } from '../harness/receivers.ts';

const BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));
const SECRET = 'hook-secret-for-tests';

interface HookEvent { kind: string; database: string; user: string; ddl?: { id: number; command_tag: string; object_identity: string; statement: string } }
interface HookBody { text: string; delivery_id: string; events: HookEvent[] }

for (const flavor of ['pg18', 'pg15'] as Flavor[]) describe(`alerts run (${flavor}, real SMTP and HTTP receivers)`, () => {
  let cluster: Cluster;
  let smtp: SmtpReceiver;
  let hook: HttpReceiver;
  let dir: string;
  const processes = new Set<ChildProcess>();

  function writeConfig(database: string): string {
    const file = join(dir, `pgwarden-${database}.yaml`);
    writeFileSync(file, `
pipeline:
  sources:
    ${database}:
      type: ddl
      databases: [${database}]
      tamper_check_seconds: 1
      poll_seconds: 1
  sinks:
    dba-mail:
      type: email
      host: 127.0.0.1
      port: ${smtp.port}
      tls: starttls
      tls_reject_unauthorized: false
      user: alerts
      password_env: TEST_SMTP_PASSWORD
      from: pgwarden@example.test
      to: [dba@example.test, oncall@example.test]
      match: { databases: [${database}] }
    drops-hook:
      type: webhook
      url: ${hook.url}/hooks/ddl
      format: json
      secret_env: TEST_HOOK_SECRET
      match: { databases: [${database}], commands: ['DROP *'] }
  batch: { window_seconds: 0.3, max_events: 50 }
  retry: { initial_seconds: 0.2, max_seconds: 1 }
`);
    return file;
  }

  function startAlerts(config: string, database: string, login?: { user: string; password: string }): ChildProcess {
    const child = spawn(process.execPath, [BIN, 'alerts', 'run', '--config', config], {
      env: { ...process.env, ...pgEnv(cluster, database, login?.user, login?.password), TEST_SMTP_PASSWORD: 'smtp-pw', TEST_HOOK_SECRET: SECRET, PGWARDEN_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code, signal) => {
      processes.delete(child);
      if (process.env.DEBUG_ALERTS || (code !== 0 && signal === null)) process.stderr.write(`alerts run exited ${code}: ${stderr}\n`);
    });
    processes.add(child);
    return child;
  }

  async function stopAlerts(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  async function database(name: string): Promise<pg.Client> {
    await cluster.createDatabase(name);
    const client = new pg.Client({ connectionString: cluster.url(name) });
    await client.connect();
    return client;
  }

  const mailsFor = (db: string) => smtp.mails.filter((m) => m.subject.includes(`/${db}`));
  const hooksFor = (db: string) => hook.requests.map((r) => ({ ...r, json: JSON.parse(r.body) as HookBody })).filter((r) => r.json.events.some((e) => e.database === db));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-alerts-'));
    cluster = await installedCluster(flavor, { template1: true });
    smtp = await startSmtp({ user: 'alerts', password: 'smtp-pw' });
    hook = await startHttpReceiver();
  });
  after(async () => {
    for (const child of processes) child.kill('SIGKILL');
    await smtp?.close();
    await hook?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('emails every change with all recorded fields over STARTTLS with AUTH, and posts only DROPs to the signed webhook', async () => {
    const admin = await database('alerts_content');
    const alerts = startAlerts(writeConfig('alerts_content'), 'alerts_content');
    // Started and registered: changes from now on are delivered.
    await waitFor(async () => (await admin.query('SELECT 1 FROM pgwarden.alert_sinks')).rowCount === 2, 15_000, 'sinks registered');
    await admin.query("SET application_name = 'schema-tool'");
    await admin.query('CREATE TABLE invoices (id int)');
    await waitFor(async () => mailsFor('alerts_content').length >= 1, 15_000, 'the CREATE TABLE email');
    await admin.query('DROP TABLE invoices');
    await waitFor(async () => hooksFor('alerts_content').length >= 1 && mailsFor('alerts_content').length >= 2, 15_000, 'the DROP TABLE email and webhook');
    await stopAlerts(alerts, 'SIGTERM');
    await admin.end();

    const [create, drop] = mailsFor('alerts_content');
    assert.equal(create!.subject, `[pgwarden] CREATE TABLE on 127.0.0.1:${cluster.port}/alerts_content by ${cluster.superuser}`);
    assert.ok(create!.secure, 'the message went over STARTTLS');
    assert.equal(create!.user, 'alerts');
    assert.deepEqual(create!.to, ['dba@example.test', 'oncall@example.test']);
    for (const field of [/Command\s+: CREATE TABLE/, /Object type\s+: table/, /Object\s+: public\.invoices/, /Schema\s+: public/,
      new RegExp(`Session user\\s+: ${cluster.superuser}`), /Application\s+: schema-tool/, /Client\s+: (\[local\]|127\.0\.0\.1)/,
      /Database\s+: alerts_content/, /Transaction\s+: \d+/, /Backend pid\s+: \d+/, /Statement:\n\s+CREATE TABLE invoices \(id int\)/]) {
      assert.match(create!.text, field);
    }
    assert.match(create!.messageId, /^<ddl\.alerts_content\.dba-mail\.\d+-\d+@pgwarden>$/);
    assert.match(drop!.subject, /DROP TABLE on .*\/alerts_content/);

    const hooks = hooksFor('alerts_content');
    assert.equal(hooks.length, 1, 'the webhook only gets DROP commands');
    const request = hooks[0]!;
    assert.equal(request.path, '/hooks/ddl');
    assert.equal(request.json.events[0]!.ddl!.command_tag, 'DROP TABLE');
    assert.equal(request.json.events[0]!.ddl!.object_identity, 'public.invoices');
    assert.match(request.json.text, /DROP TABLE on .*alerts_content/);
    const timestamp = String(request.headers['x-pgwarden-timestamp']);
    const expected = `v1=${createHmac('sha256', SECRET).update(`${timestamp}.${request.body}`).digest('hex')}`;
    assert.equal(request.headers['x-pgwarden-signature'], expected);
    assert.equal(request.headers['x-pgwarden-delivery'], request.json.delivery_id);
  });

  it('delivers every change exactly once when the process is killed (-9) while DDL happens, and catches up on restart', async () => {
    const admin = await database('alerts_crash');
    const config = writeConfig('alerts_crash');
    let alerts = startAlerts(config, 'alerts_crash');
    await waitFor(async () => (await admin.query('SELECT 1 FROM pgwarden.alert_sinks')).rowCount === 2, 15_000, 'sinks registered');
    const statements: string[] = [];
    for (let i = 0; i < 30; i++) statements.push(`CREATE TABLE t${i} (id int)`, `DROP TABLE t${i}`);
    const kills = new Set([12, 27, 44]);
    for (const [i, statement] of statements.entries()) {
      await admin.query(statement);
      await new Promise((resolve) => setTimeout(resolve, 40));
      if (kills.has(i)) {
        await stopAlerts(alerts, 'SIGKILL');
        // A few changes while nobody listens.
        await admin.query(`CREATE TABLE down${i} (id int)`);
        alerts = startAlerts(config, 'alerts_crash');
      }
    }
    const total = (await admin.query<{ total: number }>('SELECT count(*)::int AS total FROM pgwarden.ddl_events')).rows[0]!.total;
    const drops = (await admin.query<{ drops: number }>("SELECT count(*)::int AS drops FROM pgwarden.ddl_events WHERE command_tag LIKE 'DROP%'")).rows[0]!.drops;
    assert.equal(total, 60 + kills.size);
    await waitFor(async () => {
      const { rows } = await admin.query<{ sink: string; n: number }>('SELECT sink, count(*)::int AS n FROM pgwarden.alert_deliveries GROUP BY sink');
      const bySink = Object.fromEntries(rows.map((r) => [r.sink, r.n]));
      return bySink['dba-mail'] === total && bySink['drops-hook'] === drops;
    }, 30_000, 'every event recorded as delivered');
    await stopAlerts(alerts, 'SIGTERM');
    await admin.end();

    // What the receivers accepted, deduplicated the way receivers do it (by message id):
    // each event is in exactly one distinct message, and no message differs from a resend.
    const mailEvents = new Map<string, number[]>();
    for (const mail of mailsFor('alerts_crash')) {
      const ids = [...mail.text.matchAll(/Event id\s+: (\d+)/g)].map((m) => Number(m[1]));
      const earlier = mailEvents.get(mail.messageId);
      if (earlier) assert.deepEqual(ids, earlier, 'a resent message carries the same events');
      mailEvents.set(mail.messageId, ids);
    }
    const emailed = [...mailEvents.values()].flat();
    assert.equal(emailed.length, total, 'each event in exactly one email');
    assert.equal(new Set(emailed).size, total);
    const hookEvents = new Map<string, number[]>();
    for (const request of hooksFor('alerts_crash')) hookEvents.set(request.json.delivery_id, request.json.events.map((e) => e.ddl!.id));
    const posted = [...hookEvents.values()].flat();
    assert.equal(posted.length, drops);
    assert.equal(new Set(posted).size, drops);
  });

  it('retries a failing sink with backoff, shows the failure in `pgwarden status`, and delivers once it recovers', async () => {
    const admin = await database('alerts_retry');
    // As a login with nothing but the pgwarden_alerts group role, as docs/alerts.md advises.
    await cluster.createRole('alerter', 'alerter-pw');
    await cluster.query('GRANT pgwarden_alerts TO alerter');
    const alerts = startAlerts(writeConfig('alerts_retry'), 'alerts_retry', { user: 'alerter', password: 'alerter-pw' });
    await waitFor(async () => (await admin.query('SELECT 1 FROM pgwarden.alert_sinks')).rowCount === 2, 15_000, 'sinks registered');
    hook.status = 503;
    await admin.query('CREATE TABLE doomed (id int)');
    await admin.query('DROP TABLE doomed');
    await waitFor(async () => (await admin.query("SELECT 1 FROM pgwarden.alert_sinks WHERE sink = 'drops-hook' AND attempts >= 2")).rowCount === 1, 15_000, 'failed attempts recorded');
    const status = await runCli(['status'], pgEnv(cluster, 'alerts_retry'));
    assert.equal(status.code, 7, status.stdout);
    assert.match(status.stdout, /FAILED\s+alert delivery to drops-hook\s.*answered 503/);
    assert.match(status.stdout, /OK\s+alert delivery to dba-mail/);
    hook.status = 200;
    await waitFor(async () => hooksFor('alerts_retry').length === 1, 15_000, 'the webhook delivery after recovery');
    await waitFor(async () => (await admin.query("SELECT 1 FROM pgwarden.alert_sinks WHERE sink = 'drops-hook' AND attempts = 0")).rowCount === 1, 5_000, 'failure cleared');
    assert.equal((await runCli(['status'], pgEnv(cluster, 'alerts_retry'))).code, 0);
    await stopAlerts(alerts, 'SIGTERM');
    await admin.end();
  });

  it('raises a tamper alert within seconds when a pgwarden event trigger is disabled, and says when it is repaired', async () => {
    const admin = await database('alerts_tamper');
    const alerts = startAlerts(writeConfig('alerts_tamper'), 'alerts_tamper');
    await waitFor(async () => (await admin.query('SELECT 1 FROM pgwarden.alert_sinks')).rowCount === 2, 15_000, 'sinks registered');
    const started = Date.now();
    await admin.query('ALTER EVENT TRIGGER pgwarden_ddl_command_end DISABLE');
    const alert = await waitFor(async () => mailsFor('alerts_tamper').find((m) => m.subject.includes('TAMPER')), 60_000, 'the tamper email');
    assert.ok(Date.now() - started < 60_000);
    assert.equal(alert.subject, `[pgwarden] TAMPER: event trigger pgwarden_ddl_command_end DISABLED on 127.0.0.1:${cluster.port}/alerts_tamper`);
    assert.match(alert.text, /expected: enabled, ON ddl_command_end/);
    const repaired = await runCli(['install'], pgEnv(cluster, 'alerts_tamper'));
    assert.equal(repaired.code, 0, repaired.stderr);
    await waitFor(async () => mailsFor('alerts_tamper').find((m) => m.subject.includes('RESOLVED')), 30_000, 'the all-clear email');
    await stopAlerts(alerts, 'SIGTERM');
    await admin.end();
  });

  it('a second process stands by and takes over; status says when no process serves a sink; alerts forget retires it', async () => {
    const admin = await database('alerts_standby');
    const env = pgEnv(cluster, 'alerts_standby');
    const config = writeConfig('alerts_standby');
    const first = startAlerts(config, 'alerts_standby');
    await waitFor(async () => (await admin.query('SELECT 1 FROM pgwarden.alert_sinks')).rowCount === 2, 15_000, 'sinks registered');
    await waitFor(async () => /OK\s+alert delivery to dba-mail\s.*delivering/.test((await runCli(['status'], env)).stdout), 15_000, 'status sees the first process');
    const second = startAlerts(config, 'alerts_standby');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await admin.query('CREATE TABLE s1 (id int)');
    await waitFor(async () => mailsFor('alerts_standby').length === 1, 15_000, 'the first email');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(mailsFor('alerts_standby').length, 1, 'two processes, one delivery');
    await stopAlerts(first, 'SIGKILL');
    await admin.query('CREATE TABLE s2 (id int)');
    await waitFor(async () => mailsFor('alerts_standby').length === 2, 15_000, 'the standby takes over');
    await stopAlerts(second, 'SIGTERM');

    await admin.query('CREATE TABLE s3 (id int)');
    const unserved = await runCli(['status'], env);
    assert.equal(unserved.code, 0, 'not served but nothing waiting long: a warning');
    assert.match(unserved.stdout, /WARN\s+alert delivery to dba-mail\s.*no `pgwarden alerts run` is delivering to it; 1 change\(s\) not yet settled/);
    const forgot = await runCli(['alerts', 'forget', 'dba-mail'], env);
    assert.equal(forgot.code, 0, forgot.stderr);
    assert.match(forgot.stdout, /alerts_standby: forgot alert sink dba-mail/);
    assert.doesNotMatch((await runCli(['status'], env)).stdout, /alert delivery to dba-mail/);
    const again = await runCli(['alerts', 'forget', 'dba-mail'], env);
    assert.equal(again.code, 6);
    assert.match(again.stderr, /there is no alert sink "dba-mail" here/);
    await admin.end();
  });
});
