// The pgbouncer format against a real pgBouncer (Debian's 1.18) in front of a real PostgreSQL
// 15: the test connects through it (good and bad passwords, an unknown database, a user name
// that imitates pgBouncer's own line) and knows each client's port (its socket's local port), so
// every event's user, database, address, port and kind is checked against what the test did.
// pgBouncer 1.21's line (" replication=no" after tls, as later versions print it in published
// logs) is written by hand, as Debian bookworm ships 1.18.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { parseText } from '../../src/logs/index.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { freePort, startCluster, type Cluster } from '../harness/postgres.ts';

const PGBOUNCER = '/usr/sbin/pgbouncer';
// A user name that imitates the rest of a pgBouncer line: another address and a login attempt.
const EVIL = 'evil@6.6.6.6:1 login attempt: db=appdb user=evil tls=no';

interface Client { user: string; database: string; port: number; ok: boolean }

describe('pgbouncer: a real pgBouncer 1.18 (Debian) in front of PostgreSQL 15', () => {
  let cluster: Cluster;
  let dir: string;
  let bouncer: ChildProcess;
  let log = '';
  const clients: Client[] = [];

  before(async () => {
    assert.ok(existsSync(PGBOUNCER), `${PGBOUNCER} is missing: apt-get install pgbouncer`);
    cluster = await startCluster({ flavor: 'pg15' });
    await cluster.createRole('app user', 'pw1', '');
    await cluster.query(`CREATE ROLE "${EVIL}" LOGIN PASSWORD 'pw2'`);
    dir = mkdtempSync(path.join(tmpdir(), 'pgwarden-pgbouncer-'));
    const owner = statSync(cluster.socketDir);
    const port = await freePort();
    writeFileSync(path.join(dir, 'userlist.txt'), `"app user" "pw1"\n"${EVIL}" "pw2"\n`);
    writeFileSync(path.join(dir, 'pgbouncer.ini'), `[databases]\nappdb = host=127.0.0.1 port=${cluster.port} dbname=postgres\n[pgbouncer]\n`
      + `listen_addr = 127.0.0.1\nlisten_port = ${port}\nunix_socket_dir =\nauth_type = scram-sha-256\nauth_file = ${path.join(dir, 'userlist.txt')}\n`
      + `logfile = ${path.join(dir, 'pgbouncer.log')}\nserver_idle_timeout = 1\n`);
    for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(path.join(dir, file), owner.uid, owner.gid);
    bouncer = spawn(PGBOUNCER, [path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore', uid: owner.uid, gid: owner.gid });
    const connect = async (user: string, password: string, database: string) => {
      const client = new pg.Client({ host: '127.0.0.1', port, user, password, database });
      client.on('error', () => undefined);
      let localPort = 0;
      const stream = (client as unknown as { connection: { stream: Socket } }).connection.stream;
      stream.on('connect', () => { localPort = stream.localPort!; });
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        clients.push({ user, database, port: localPort, ok: true });
      } catch {
        clients.push({ user, database, port: localPort, ok: false });
      }
    };
    await waitFor(async () => existsSync(path.join(dir, 'pgbouncer.log')) && readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8').includes('process up'), 10_000, 'pgBouncer to start');
    await connect('app user', 'pw1', 'appdb');
    await connect('app user', 'wrong', 'appdb');
    await connect('app user', 'pw1', 'nodb');
    await connect(EVIL, 'pw2', 'appdb');
    await connect('app user', 'pw1', 'appdb');
    await waitFor(async () => {
      log = readFileSync(path.join(dir, 'pgbouncer.log'), 'utf8');
      return (log.match(/closing because/g) ?? []).length >= 5;
    }, 10_000, 'pgBouncer to log every client');
  });
  after(async () => {
    bouncer?.kill('SIGINT');
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is recognised, and every line is read without an error', () => {
    const result = parseText(log, { input: 'pgbouncer.log' });
    assert.equal(result.format, 'pgbouncer');
    assert.deepEqual(result.errors, []);
    assert.ok(result.events.every((e) => e.pooler === 'pgbouncer' && e.backend_type === null && e.pid !== null && e.ts !== null), 'marked as the pooler\'s, with pid and time');
  });

  it('gives each client\'s login attempt, failure and disconnection with its user, database, address and port', () => {
    const events = parseText(log, { format: 'pgbouncer', server: 'bouncer1' }).events;
    const byPort = (port: number) => events.filter((e) => e.client_port === port);
    assert.equal(clients.length, 5);
    for (const client of clients) {
      const own = byPort(client.port);
      const login = own.find((e) => e.kind === 'connection_received');
      assert.ok(login, `a login attempt from port ${client.port}`);
      assert.equal(login.user, client.user);
      assert.equal(login.database, client.database);
      assert.equal(login.client_addr, '127.0.0.1');
      assert.equal(login.server, 'bouncer1');
      const closing = own.find((e) => e.kind === 'disconnection');
      assert.ok(closing, `the disconnection of port ${client.port}`);
      assert.equal(typeof closing.duration_ms, 'number');
      assert.equal(closing.user, client.user);
      assert.equal(own.some((e) => e.kind === 'auth_failed'), !client.ok, `${client.user}@${client.database}: auth_failed iff the login failed`);
      assert.ok(own.every((e) => e.user === client.user && e.client_addr === '127.0.0.1'), 'no line of the client read with another user or address');
    }
    assert.ok(!events.some((e) => e.client_addr === '6.6.6.6'), 'the user name imitating a line never gives its address');
    const pooler = events.filter((e) => e.kind === 'error');
    assert.ok(pooler.some((e) => e.message === 'pooler error: no such database: nodb'));
  });

  it('ingest stores the pooler, and report failed-logins tells pgBouncer\'s refusals from the server\'s', async () => {
    // pgBouncer refused the wrong password itself (auth_file): the server never saw it. The same
    // user's failure straight at the server, as its jsonlog writes it, is the other row.
    await cluster.createDatabase('repo');
    const repo = cluster.url('repo');
    const migrate = await runCli(['repo', 'migrate', '--repo', repo]);
    assert.equal(migrate.code, 0, migrate.stderr);
    const bouncerLog = path.join(dir, 'copy-pgbouncer.log');
    writeFileSync(bouncerLog, log);
    const serverLog = path.join(dir, 'server.json');
    writeFileSync(serverLog, `${JSON.stringify({ timestamp: '2026-12-02 02:04:37.123 UTC', user: 'app user', dbname: 'postgres', pid: 4242, remote_host: '127.0.0.1', remote_port: 5555,
      error_severity: 'FATAL', state_code: '28P01', message: 'password authentication failed for user "app user"', backend_type: 'client backend' })}\n`);
    for (const [file, format] of [[bouncerLog, 'pgbouncer'], [serverLog, 'jsonlog']] as const) {
      const ingest = await runCli(['ingest', file, '--format', format, '--repo', repo, '--server', 'db1']);
      assert.equal(ingest.code, 0, ingest.stderr);
    }
    const stored = await cluster.query<{ pooler: string | null; n: number }>("SELECT pooler, count(*)::int AS n FROM pgwarden_repo.events WHERE kind = 'auth_failed' GROUP BY pooler ORDER BY pooler NULLS LAST", [], 'repo');
    const refusals = parseText(log, { format: 'pgbouncer' }).events.filter((e) => e.kind === 'auth_failed').length;
    assert.ok(refusals >= 1, 'pgBouncer logged the wrong password');
    assert.deepEqual(stored.rows.map((r) => [r.pooler, r.n]), [['pgbouncer', refusals], [null, 1]]);
    const report = await runCli(['report', 'failed-logins', '--repo', repo, '--format', 'json']);
    assert.equal(report.code, 0, report.stderr);
    const rows = JSON.parse(report.stdout) as Record<string, unknown>[];
    const failures = (pooler: string | null) => rows.filter((r) => r.pooler === pooler).reduce((n, r) => n + Number(r.failures), 0);
    assert.deepEqual([failures('pgbouncer'), failures(null), rows.length], [refusals, 1, rows.filter((r) => r.pooler === 'pgbouncer').length + 1], 'each row one pooler or none');
    assert.ok(rows.every((r) => r.user === 'app user'));
  });

  it('reads pgBouncer 1.21\'s lines, lines before any login attempt, NUL and a line cut short', () => {
    const lines = [
      '2026-12-02 02:30:00.001 UTC [812] LOG C-0x5616e2c8a0f0: shop/app@10.1.2.3:53412 login attempt: db=shop user=app tls=TLSv1.3/TLS_AES_256_GCM_SHA384/ECDH=X25519 replication=no',
      '2026-12-02 02:30:00.002 UTC [812] LOG S-0x5616e2d0c0d0: shop/app@10.0.0.5:5432 new connection to server (from 10.0.0.9:41234)',
      '2026-12-02 02:30:05.500 UTC [812] LOG C-0x5616e2c8a0f0: shop/app@10.1.2.3:53412 closing because: client close request (age=5s)',
      '2026-12-02 02:30:06.000 UTC [812] LOG C-0x5616e2c8a100: shop/ops@[::1]:40000 closing because: client unexpected eof (age=12)',
      '2026-12-02 02:30:07.000 UTC [812] WARNING C-0x5616e2c8a0f0: shop/a\u0000b@10.1.2.4:1 pooler error: query_wait_timeout',
      '2026-12-02 02:30:08.000 UTC [812] LOG C-0x5616e2c8a0f0: shop/ap',
    ].join('\n');
    const { events, errors } = parseText(lines, { format: 'pgbouncer' });
    assert.deepEqual(errors, []);
    const e = (i: number): PgwardenEvent => events[i]!;
    assert.deepEqual([e(0).kind, e(0).user, e(0).database, e(0).client_addr, e(0).client_port, e(0).ts, e(0).pid],
      ['connection_received', 'app', 'shop', '10.1.2.3', 53412, '2026-12-02T02:30:00.001+00:00', 812]);
    assert.deepEqual([e(1).kind, e(1).user, e(1).client_addr], ['log', null, null], 'a server connection is not a client\'s');
    assert.deepEqual([e(2).kind, e(2).duration_ms, e(2).user], ['disconnection', 5000, 'app']);
    assert.deepEqual([e(3).kind, e(3).duration_ms, e(3).user, e(3).client_addr], ['disconnection', 12000, 'ops', '::1'], 'an unknown client: one reading');
    assert.deepEqual([e(4).kind, e(4).user, e(4).message], ['error', 'a\u0000b', 'pooler error: query_wait_timeout']);
    assert.deepEqual([e(5).kind, e(5).user, e(5).message], ['log', null, 'shop/ap'], 'a line cut short keeps its text and no one\'s name');
  });
});
