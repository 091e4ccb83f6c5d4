import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseClient, normaliseRule, validateLikePattern } from '../../src/guard/index.ts';

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

  it("takes '+group' for the members of a group role, and checks the group's name", () => {
    assert.deepEqual(normaliseRule({ action: 'deny', roles: ['+gui_users', 'alice'] }).roles, ['+gui_users', 'alice']);
    assert.throws(() => normaliseRule({ action: 'deny', roles: ['+'] }), /--role "" is empty/);
    assert.throws(() => normaliseRule({ action: 'deny', roles: ['+' + 'g'.repeat(64)] }), /longer than 63 bytes/);
  });
});
