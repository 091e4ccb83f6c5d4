import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.ts';
import { resolveTarget, redactUrl, targetForDatabase } from '../../src/core/db.ts';
import { PgwardenError } from '../../src/core/errors.ts';
import { NO_CONFIG_FILE } from '../../src/cli/monitor.ts';
import { configFileGiven } from '../../src/core/config-file.ts';

function configError(text: string): string {
  try {
    parseConfig(text, 'pgwarden.yaml');
  } catch (error) {
    assert.ok(error instanceof PgwardenError);
    assert.equal(error.code, 'PGW_ERR_CONFIG');
    return error.message;
  }
  assert.fail('expected a config error');
}

describe('pgwarden.yaml', () => {
  it('reads a config file exactly when loadConfig would: an empty PGWARDEN_CONFIG means none', () => {
    const saved = process.env.PGWARDEN_CONFIG;
    try {
      process.env.PGWARDEN_CONFIG = '';
      assert.equal(configFileGiven(), false);
      assert.equal(configFileGiven('x.yaml'), true, '--config is read (and missing is an error)');
      process.env.PGWARDEN_CONFIG = '/etc/pgwarden.yaml';
      assert.equal(configFileGiven(), true);
    } finally {
      if (saved === undefined) delete process.env.PGWARDEN_CONFIG; else process.env.PGWARDEN_CONFIG = saved;
    }
  });

  it('gives `check` without a file the same settings as an empty file', () => {
    // check skips loading the schema when there is no file (start-up time): its defaults must not drift.
    const { servers, default_server, monitor } = parseConfig('');
    const { timeout_ms, concurrency, checks, pgbouncer, custom_checks } = monitor;
    assert.deepEqual(NO_CONFIG_FILE, { servers, default_server, monitor: { timeout_ms, concurrency, checks, pgbouncer, custom_checks } });
  });

  it('has safe defaults when empty', () => {
    const config = parseConfig('');
    assert.equal(config.guard.on_error, 'open');
    assert.deepEqual(config.guard.break_glass_roles, []);
    assert.equal(config.guard.watch.interval_seconds, 2);
    assert.equal(config.guard.watch.terminate, true);
  });

  it('reads servers with secrets from the environment or a file', () => {
    const config = parseConfig('servers:\n  prod:\n    url: postgres://dba@db1/app\n    password_env: PROD_PW\ndefault_server: prod\n');
    process.env.PROD_PW = 'from-env';
    try {
      const target = resolveTarget({}, config);
      assert.equal(target.url, 'postgres://dba@db1/app');
      assert.equal(target.password, 'from-env');
      assert.equal(target.label, 'prod');
    } finally {
      delete process.env.PROD_PW;
    }
    assert.throws(() => resolveTarget({}, config), /password_env: environment variable PROD_PW is not set/);
  });

  it('rejects an unknown key with its path, line and the keys allowed there', () => {
    assert.equal(configError('guard:\n  on_error: open\n  brake_glass_roles: [x]\n'),
      'pgwarden.yaml:3: guard.brake_glass_roles: unknown key (allowed here: on_error, break_glass_roles, recorder_host, watch)');
    assert.match(configError('servers:\n  a:\n    uri: postgres://x\n'), /^pgwarden\.yaml:3: servers\.a\.uri: unknown key \(allowed here: password_env, password_file, url\)/);
  });

  it('rejects a wrong value with its path', () => {
    assert.match(configError('guard:\n  on_error: maybe\n'), /^pgwarden\.yaml:2: guard\.on_error: /);
    assert.match(configError('guard:\n  watch:\n    interval_seconds: -1\n'), /^pgwarden\.yaml:3: guard\.watch\.interval_seconds: /);
    assert.match(configError('default_server: nope\n'), /default_server: "nope" is not one of servers/);
    assert.equal(configError('pipeline:\n  sources:\n    pglog:\n      type: logfile\n      path: /var/log/postgresql\n'),
      'pgwarden.yaml:3: pipeline.sources.pglog.server: missing: this key is required (a string)');
    assert.equal(configError('pipeline:\n  sources:\n    pglog:\n      type: logfile\n      path: 5\n      server: db1\n'),
      'pgwarden.yaml:5: pipeline.sources.pglog.path: expected a string, found a number (5)');
  });

  it('rejects invalid YAML with the line', () => {
    assert.match(configError('guard:\n  on_error: [open\n'), /^pgwarden\.yaml:\d+: invalid YAML/);
  });
});

describe('connection targets', () => {
  it('never prints a password', () => {
    assert.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
    assert.doesNotMatch(resolveTarget({ db: 'postgres://u:secret@h/db' }, parseConfig('')).label, /secret/);
  });

  it('points the same server at another database', () => {
    const target = targetForDatabase({ url: 'postgres://u:p@h:1/a', label: 'x' }, 'template1');
    assert.equal(target.url, 'postgres://u:p@h:1/template1');
    assert.equal(targetForDatabase({ label: 'env' }, 'sales').database, 'sales');
  });

  it('reads a pipeline with sources, sinks, routing and defaults', () => {
    const config = parseConfig(`
servers:
  prod: { url: 'postgres://alerts@db1/postgres' }
pipeline:
  sources:
    prod-ddl: { type: ddl, server: prod, databases: ['*'] }
  sinks:
    mail: { type: email, host: smtp.example.com, from: a@example.com, to: [b@example.com], inputs: [prod-ddl] }
    hook: { type: webhook, url: 'https://hooks.example.com/x', match: { commands: ['DROP *'] } }
`);
    const mail = config.pipeline.sinks.mail!;
    assert.equal(mail.type, 'email');
    assert.equal(mail.type === 'email' && mail.tls, 'starttls', 'TLS is required by default');
    assert.equal(mail.type === 'email' && mail.port, 587);
    const ddl = config.pipeline.sources['prod-ddl']!;
    assert.equal(ddl.type === 'ddl' && ddl.tamper_check_seconds, 30);
    assert.equal(config.pipeline.batch.window_seconds, 2);
    assert.equal(config.pipeline.retry.max_seconds, 300);
  });

  it('refuses pipeline mistakes with the file, line and key', () => {
    const base = 'pipeline:\n  sources:\n    ddl1: { type: ddl }\n  sinks:\n';
    assert.match(configError(base + '    s: { type: sms, to: [x] }\n'), /^pgwarden\.yaml:5: pipeline\.sinks\.s\.type: type must be email, webhook, repository, jsonl, syslog or nats/);
    assert.match(configError(base + '    s: { type: webhook, url: "https://h.example.com", match: { command: [x] } }\n'),
      /pipeline\.sinks\.s\.match\.command: unknown key \(allowed here: kinds, databases, users, commands\)/);
    assert.match(configError(base + '    s: { type: email, host: h, from: nobody, to: [a@b.c] }\n'), /pipeline\.sinks\.s\.from: must be an email address/);
    assert.match(configError(base + '    s: { type: webhook, url: "https://h.example.com", inputs: [nope] }\n'),
      /^pgwarden\.yaml:5: pipeline\.sinks\.s\.inputs: "nope" is not one of pipeline\.sources \(ddl1\)/);
    assert.match(configError(base + '    s:\n      type: webhook\n      url: "https://h.example.com"\n      retries: 3\n'),
      /^pgwarden\.yaml:8: pipeline\.sinks\.s\.retries: unknown key \(allowed here: type, inputs, match, ignore, .*url/);
    assert.match(configError(base + '    s: { type: webhook, url: "ftp://h.example.com" }\n'), /pipeline\.sinks\.s\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(configError(base + '    s: { type: email, host: h, from: a@b.c, to: [] }\n'), /pipeline\.sinks\.s\.to: /);
    assert.match(configError('pipeline:\n  sources:\n    d: { type: ddl, server: ghost }\n'),
      /^pgwarden\.yaml:3: pipeline\.sources\.d\.server: "ghost" is not one of servers \(none defined\)/);
  });
});
