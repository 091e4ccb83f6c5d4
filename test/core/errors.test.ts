import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ERRORS, PgwardenError, classifyError } from '../../src/core/errors.ts';

describe('error catalogue', () => {
  it('documents every error code and its exit code in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, { exit }] of Object.entries(ERRORS)) {
      assert.match(doc, new RegExp(`\\| \`${code}\` \\| ${exit} \\|`), `${code} (exit ${exit}) is missing from docs/errors.md`);
    }
  });

  it('classifies PostgreSQL errors by SQLSTATE, not by message', () => {
    assert.equal(classifyError({ code: '28P01', message: 'anything' }).code, 'PGW_ERR_AUTH');
    assert.equal(classifyError({ code: '42501', message: 'anything' }).code, 'PGW_ERR_PRIVILEGE');
    assert.equal(classifyError({ code: '3F000', message: 'anything' }).code, 'PGW_ERR_NOT_INSTALLED');
    assert.equal(classifyError({ code: 'ECONNREFUSED', message: 'x' }).code, 'PGW_ERR_CONNECT');
    const wrapped = classifyError({ code: '22P02', message: 'bad' });
    assert.equal(wrapped.code, 'PGW_ERR_SERVER');
    assert.ok(wrapped instanceof PgwardenError && wrapped.cause);
  });

  it('lets programming errors through as they are', () => {
    const bug = new TypeError('x is undefined');
    assert.throws(() => classifyError(bug), TypeError);
  });
});
