import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.ts';
import { resolveTarget, redactUrl, targetForDatabase } from '../../src/core/db.ts';
import { PgwardenError } from '../../src/core/errors.ts';

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
});
