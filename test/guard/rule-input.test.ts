import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseClient, normaliseRule, parseAllowedPayload, validateLikePattern } from '../../src/guard/index.ts';

describe('rule input', () => {
  it('normalises clients: addresses become host networks, local stays a keyword', () => {
    assert.equal(normaliseClient('10.1.2.3'), '10.1.2.3/32');
    assert.equal(normaliseClient('10.0.0.0/8'), '10.0.0.0/8');
    assert.equal(normaliseClient('::1'), '::1/128');
    assert.equal(normaliseClient('2001:db8::/32'), '2001:db8::/32');
    assert.equal(normaliseClient('local'), 'local');
    assert.throws(() => normaliseClient('10.1.2.3/8'), /host bits set .*10\.0\.0\.0\/8/);
    assert.throws(() => normaliseClient('myhost'), /--client "myhost" is not an IP address/);
  });

  it('accepts ILIKE patterns, refusing only a trailing escape', () => {
    validateLikePattern('%dbeaver%');
    validateLikePattern('100\\%');
    validateLikePattern('ends with \\\\');
    assert.throws(() => validateLikePattern('bad\\'), /ends with the escape character/);
    assert.throws(() => validateLikePattern(''), /is empty/);
  });

  it("collapses roles to '*' and splits local from networks", () => {
    const rule = normaliseRule({ action: 'deny', roles: ['a', '*'], clients: ['local', '10.0.0.0/8', '10.0.0.0/8'] });
    assert.deepEqual(rule.roles, ['*']);
    assert.deepEqual(rule.clients, ['10.0.0.0/8']);
    assert.equal(rule.localSocket, true);
    assert.equal(rule.priority, 100);
    assert.equal(rule.applications, null);
  });

  it('refuses names PostgreSQL would truncate', () => {
    assert.throws(() => normaliseRule({ action: 'deny', roles: ['x'.repeat(64)] }), /longer than 63 bytes/);
  });
});

describe('allowed-login notification payload', () => {
  const at = new Date('2026-11-22T12:00:00.000Z');
  it('parses every field, the role name last even when it contains the separator', () => {
    const payload = ['v1', '4242', '10.1.2.3', '51000', '10.0.0.5', '5432', '7', '', 'orders-api', 'odd\x1frole'].join('\x1f');
    assert.deepEqual(parseAllowedPayload(payload, at), {
      ts: '2026-11-22T12:00:00.000Z', backend_pid: 4242, client_addr: '10.1.2.3', client_port: 51000,
      server_addr: '10.0.0.5', server_port: 5432, rule_id: 7, message: null, application: 'orders-api', user_name: 'odd\x1frole',
    });
  });
  it('maps a Unix-socket login and the default decision', () => {
    const record = parseAllowedPayload(['v1', '1', '[local]', '', '', '5432', '0', 'superuser', 'psql', 'postgres'].join('\x1f'), at);
    assert.equal(record?.client_addr, '[local]');
    assert.equal(record?.client_port, null);
    assert.equal(record?.rule_id, null);
    assert.equal(record?.message, 'superuser');
  });
  it('ignores what it does not understand', () => {
    assert.equal(parseAllowedPayload('{"json": true}', at), null);
    assert.equal(parseAllowedPayload('v2\x1fx', at), null);
  });
});
