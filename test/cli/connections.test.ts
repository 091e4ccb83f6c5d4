// Connecting as a DBA's URLs and PG* variables mean it, against a real PostgreSQL 18 without TLS
// and then with TLS (a CA and certificates made by openssl for this run): the ordinary mistakes are
// one-line errors with their code and exit code, never "a bug in pgwarden"; sslmode means what it
// means in libpq, down to which sessions the server sees encrypted (pg_stat_ssl).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, createPool, type Target } from '../../src/core/db.ts';
import { PgwardenError } from '../../src/core/errors.ts';
import { runCli, type CliResult } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PASSWORD = 'connection test password';

/** A user's mistake: one `Error:` line, a hint, the code; no stack, no "bug". */
function assertMistake(result: CliResult, code: string, exit: number, names: RegExp): void {
  assert.equal(result.code, exit, result.stderr);
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 2, result.stderr);
  assert.match(lines[0]!, /^Error: /);
  assert.match(lines[0]!, names);
  assert.match(lines[1]!, new RegExp(`\\[${code}\\]$`));
  assert.doesNotMatch(result.stderr, /bug in pgwarden|SECURITY WARNING|at .*\.js:\d+|Invalid URL|SASL/);
}

describe('connections: errors and sslmode', () => {
  let cluster: Cluster;
  let dir: string;
  let home: string;
  let savedEnv: Record<string, string | undefined> = {};
  let url: (query?: string, host?: string, user?: string) => string;
  const env = () => ({ HOME: home, PGPASSFILE: path.join(home, 'no-pgpass'), PGPASSWORD: undefined, PGSSLMODE: undefined, PGSSLROOTCERT: undefined });
  const cert = (name: string) => path.join(dir, name);

  /** Whether the server sees the session of a connection made from this target as encrypted. */
  async function encrypted(target: Target): Promise<boolean> {
    const client = await connect(target);
    try {
      const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()');
      return rows[0]!.ssl;
    } finally {
      await client.end();
    }
  }
  const target = (query: string, host = '127.0.0.1', user = 'alice'): Target => ({ url: url(query, host, user), label: `test ${query}` });
  const fails = async (t: Target, code: string, message: RegExp) => {
    await assert.rejects(encrypted(t), (error: unknown) => {
      assert.ok(error instanceof PgwardenError, String(error));
      assert.equal(error.code, code, error.message);
      assert.match(error.message, message);
      return true;
    });
  };

  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    await cluster.createRole('alice', PASSWORD);
    await cluster.createRole('tlsonly', PASSWORD);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-tls-'));
    home = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-home-'));
    // in this process too: no ~/.postgresql/root.crt of the machine's, no PG* of the caller's
    savedEnv = { HOME: process.env.HOME, PGSSLMODE: process.env.PGSSLMODE, PGSSLROOTCERT: process.env.PGSSLROOTCERT };
    Object.assign(process.env, { HOME: home });
    delete process.env.PGSSLMODE;
    delete process.env.PGSSLROOTCERT;
    url = (query = '', host = '127.0.0.1', user = 'alice') => `postgres://${user}:${encodeURIComponent(PASSWORD)}@${host}:${cluster.port}/postgres${query ? `?${query}` : ''}`;
    // A CA, a server certificate it signed for the name localhost only, and a second CA that signed nothing here.
    const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
    const ecKey = (file: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', file);
    ecKey(cert('ca.key'));
    openssl('req', '-x509', '-new', '-key', cert('ca.key'), '-out', cert('ca.crt'), '-subj', '/CN=pgwarden test CA', '-days', '2');
    ecKey(cert('other-ca.key'));
    openssl('req', '-x509', '-new', '-key', cert('other-ca.key'), '-out', cert('other-ca.crt'), '-subj', '/CN=another CA', '-days', '2');
    ecKey(cert('server.key'));
    openssl('req', '-new', '-key', cert('server.key'), '-out', cert('server.csr'), '-subj', '/CN=localhost');
    writeFileSync(cert('san.ext'), 'subjectAltName = DNS:localhost\n');
    openssl('x509', '-req', '-in', cert('server.csr'), '-CA', cert('ca.crt'), '-CAkey', cert('ca.key'), '-CAcreateserial', '-out', cert('server.crt'), '-days', '2', '-extfile', cert('san.ext'));
    const owner = statSync(cluster.dataDir);
    for (const file of [dir, cert('server.crt'), cert('server.key')]) chownSync(file, owner.uid, owner.gid);
    chmodSync(cert('server.key'), 0o600);
    chmodSync(dir, 0o755);
  });
  after(async () => {
    for (const [key, value] of Object.entries(savedEnv)) if (value === undefined) delete process.env[key]; else process.env[key] = value;
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  describe('a server without TLS', () => {
    it('no password anywhere: PGW_ERR_AUTH naming the user, exit 3', async () => {
      const result = await runCli(['report', 'connections', '--db', `postgres://alice@127.0.0.1:${cluster.port}/postgres`], env());
      assertMistake(result, 'PGW_ERR_AUTH', 3, /asks user "alice" for a password, and none was given/);
    });

    it('the password from a pgpass file (mode 0600) or PGPASSWORD, asked for only when the server wants one', async () => {
      const file = path.join(home, 'pgpass');
      writeFileSync(file, `127.0.0.1:${cluster.port}:*:alice:${PASSWORD}\n`, { mode: 0o600 });
      const viaFile = await runCli(['report', 'connections', '--db', `postgres://alice@127.0.0.1:${cluster.port}/postgres`], { ...env(), PGPASSFILE: file });
      // connected and logged in: the database has no pgwarden schema
      assert.equal(viaFile.code, 5, viaFile.stderr);
      assert.match(viaFile.stderr, /PGW_ERR_NOT_INSTALLED/);
      const viaEnv = await runCli(['report', 'connections', '--db', `postgres://alice@127.0.0.1:${cluster.port}/postgres`], { ...env(), PGPASSWORD: PASSWORD });
      assert.equal(viaEnv.code, 5, viaEnv.stderr);
      const wrong = await runCli(['report', 'connections', '--db', `postgres://alice@127.0.0.1:${cluster.port}/postgres`], { ...env(), PGPASSWORD: 'wrong' });
      assertMistake(wrong, 'PGW_ERR_AUTH', 3, /password authentication failed for user "alice"/);
    });

    it('sslmode=require: PGW_ERR_TLS saying the server offers no TLS, without the driver\'s SECURITY WARNING', async () => {
      const result = await runCli(['report', 'connections', '--db', url('sslmode=require')], env());
      assertMistake(result, 'PGW_ERR_TLS', 3, /sslmode=require needs TLS, and the server does not offer it/);
    });

    it('a port that is not a number, an unknown sslmode, a bad PGPORT: PGW_ERR_INVALID_VALUE naming the value, exit 2', async () => {
      assertMistake(await runCli(['report', 'connections', '--db', `postgres://alice@127.0.0.1:54x2/postgres`], env()), 'PGW_ERR_INVALID_VALUE', 2, /port "54x2" is not a number from 1 to 65535/);
      assertMistake(await runCli(['report', 'connections', '--db', `postgres://alice@127.0.0.1:99999/postgres`], env()), 'PGW_ERR_INVALID_VALUE', 2, /port "99999"/);
      assertMistake(await runCli(['report', 'connections', '--db', url('sslmode=requir')], env()), 'PGW_ERR_INVALID_VALUE', 2, /sslmode "requir" is not one of disable, allow, prefer, require, verify-ca, verify-full/);
      assertMistake(await runCli(['report', 'connections'], { ...env(), PGHOST: '127.0.0.1', PGPORT: 'fivefour', PGUSER: 'alice' }), 'PGW_ERR_INVALID_VALUE', 2, /PGPORT: port "fivefour"/);
      assertMistake(await runCli(['report', 'connections'], { ...env(), PGHOST: '127.0.0.1', PGPORT: String(cluster.port), PGUSER: 'alice', PGPASSWORD: PASSWORD, PGSSLMODE: 'on' }), 'PGW_ERR_INVALID_VALUE', 2, /PGSSLMODE "on"/);
    });

    it('prefer (the default, as in libpq), allow and disable go without TLS; the password stays out of every message', async () => {
      for (const query of ['', 'sslmode=prefer', 'sslmode=allow', 'sslmode=disable']) assert.equal(await encrypted(target(query)), false, query);
      const pool = createPool(target('sslmode=prefer'), 'pgwarden test', 2);
      try {
        const { rows } = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()');
        assert.equal(rows[0]!.ssl, false);
      } finally {
        await pool.end();
      }
      const result = await runCli(['report', 'connections', '--db', url('sslmode=require')], env());
      assert.doesNotMatch(result.stderr, new RegExp(PASSWORD));
      // prefer makes one connection, not a TLS attempt and then a second one (a second "connection received")
      await cluster.query('ALTER SYSTEM SET log_connections = on');
      await cluster.query('SELECT pg_catalog.pg_reload_conf()');
      await new Promise((resolve) => setTimeout(resolve, 300));
      await cluster.query("DO $$ BEGIN RAISE LOG 'marker one'; END $$");
      await encrypted(target('sslmode=prefer'));
      await cluster.query("DO $$ BEGIN RAISE LOG 'marker two'; END $$");
      await cluster.query('ALTER SYSTEM RESET log_connections');
      await cluster.query('SELECT pg_catalog.pg_reload_conf()');
      const between = cluster.readLog().split('LOG:  marker one').at(-1)!.split('LOG:  marker two')[0]!;
      assert.equal(between.split('connection received').length - 1, 2, `ours and the one that logs the second marker:\n${between}`);
    });
  });

  describe('a server with TLS', () => {
    before(async () => {
      await cluster.query(`ALTER SYSTEM SET ssl_cert_file = '${cert('server.crt')}'`);
      await cluster.query(`ALTER SYSTEM SET ssl_key_file = '${cert('server.key')}'`);
      await cluster.query('ALTER SYSTEM SET ssl = on');
      // tlsonly may log in over TLS only
      writeFileSync(path.join(cluster.dataDir, 'pg_hba.conf'), [
        'local all all trust', 'hostnossl all tlsonly 127.0.0.1/32 reject', 'host all all 127.0.0.1/32 scram-sha-256', 'host all all ::1/128 scram-sha-256', '',
      ].join('\n'));
      await cluster.query('SELECT pg_catalog.pg_reload_conf()');
      const deadline = Date.now() + 10_000;
      while ((await cluster.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl !== 'on' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    });

    it('prefer (and no sslmode) and require encrypt without verifying; disable and allow do not encrypt', async () => {
      assert.equal(await encrypted(target('')), true, 'the default is prefer');
      assert.equal(await encrypted(target('sslmode=prefer')), true);
      assert.equal(await encrypted(target('sslmode=require')), true, 'require: a certificate of an unknown CA is accepted');
      assert.equal(await encrypted(target('sslmode=disable')), false);
      assert.equal(await encrypted(target('sslmode=allow')), false, 'allow: without TLS while the server accepts that');
    });

    it('allow: with TLS when the server refuses the login without it (a connection and a pool)', async () => {
      assert.equal(await encrypted(target('sslmode=allow', '127.0.0.1', 'tlsonly')), true);
      await fails(target('sslmode=disable', '127.0.0.1', 'tlsonly'), 'PGW_ERR_AUTH', /pg_hba\.conf rejects connection/);
      const pool = createPool({ url: url('sslmode=allow', 'localhost', 'tlsonly'), label: 'pool' }, 'pgwarden test', 1);
      try {
        await assert.rejects(pool.query('SELECT 1'), /pg_hba\.conf rejects connection/, 'the pool\'s first connection went without TLS');
        const { rows } = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()');
        assert.equal(rows[0]!.ssl, true, 'and the next one with TLS');
      } finally {
        await pool.end();
      }
    });

    it('verify-ca checks who signed the certificate, not its name', async () => {
      assert.equal(await encrypted(target(`sslmode=verify-ca&sslrootcert=${cert('ca.crt')}`)), true, 'right CA, by address');
      await fails(target(`sslmode=verify-ca&sslrootcert=${cert('other-ca.crt')}`), 'PGW_ERR_TLS', /TLS with the server failed.*(verify|signature|issuer|self-signed)/i);
      await fails(target('sslmode=verify-ca'), 'PGW_ERR_TLS', /sslmode=verify-ca verifies the server's certificate, but no root certificate was given/);
      // require with a root certificate verifies it, as in libpq
      await fails(target(`sslmode=require&sslrootcert=${cert('other-ca.crt')}`), 'PGW_ERR_TLS', /TLS with the server failed/);
    });

    it('verify-full also checks the host name', async () => {
      assert.equal(await encrypted(target(`sslmode=verify-full&sslrootcert=${cert('ca.crt')}`, 'localhost')), true);
      await fails(target(`sslmode=verify-full&sslrootcert=${cert('ca.crt')}`, '127.0.0.1'), 'PGW_ERR_TLS', /does not name the host connected to/);
      await fails(target('sslmode=verify-full&sslrootcert=system', 'localhost'), 'PGW_ERR_TLS', /TLS with the server failed/);
      await assert.rejects(encrypted(target('sslmode=require&sslrootcert=system')), /sslrootcert=system needs sslmode=verify-full/);
      await fails(target(`sslmode=verify-full&sslrootcert=${cert('missing.crt')}`, 'localhost'), 'PGW_ERR_TLS', /cannot read sslrootcert .*missing\.crt: no such file/);
    });

    it('PGSSLMODE and PGSSLROOTCERT when the URL says nothing; ~/.postgresql/root.crt by default (CLI)', async () => {
      const base = `postgres://alice@localhost:${cluster.port}/postgres`;
      const run = (extra: NodeJS.ProcessEnv, db = base) => runCli(['report', 'connections', '--db', db], { ...env(), PGPASSWORD: PASSWORD, ...extra });
      assertMistake(await run({ PGSSLMODE: 'verify-full' }), 'PGW_ERR_TLS', 3, /no root certificate was given/);
      assert.equal((await run({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: cert('ca.crt') })).code, 5, 'connected (no pgwarden schema)');
      assertMistake(await run({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: cert('ca.crt') }, `postgres://alice@127.0.0.1:${cluster.port}/postgres`), 'PGW_ERR_TLS', 3, /does not name the host/);
      execFileSync('mkdir', ['-p', path.join(home, '.postgresql')]);
      execFileSync('cp', [cert('ca.crt'), path.join(home, '.postgresql', 'root.crt')]);
      try {
        assert.equal((await run({ PGSSLMODE: 'verify-full' })).code, 5);
        // the URL's sslmode wins over PGSSLMODE
        assert.equal((await run({ PGSSLMODE: 'verify-full' }, `${base}?sslmode=disable`)).code, 5);
      } finally {
        rmSync(path.join(home, '.postgresql'), { recursive: true, force: true });
      }
    });
  });
});
