// The README's first command: `pgwarden demo` runs its whole tour on a disposable PostgreSQL 18
// and cleans up after itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli } from '../harness/cli.ts';

describe('pgwarden demo', () => {
  it('shows the guard refusing GUI tools, the DDL record, a freeze refusal and tamper repair, then exits 0', async () => {
    const result = await runCli(['demo'], {}, { timeoutMs: 180_000 });
    assert.equal(result.code, 0, result.stdout.slice(-2000) + result.stderr);
    const out = result.stdout;
    assert.match(out, /DBeaver 24\.1\.0 - Main.*refused/i);
    assert.match(out, /CREATE TABLE\s+ddl_command_end\s+table\s+public\.orders\s+CHG-1042/);
    assert.match(out, /schema changes are frozen until .* \(SQLSTATE 55000\)/);
    assert.match(out, /DISABLED\s+event trigger pgwarden_guard_login/);
    assert.match(out, /every object as install made it/);
    assert.match(out, /the disposable PostgreSQL is stopped and removed/);
  });
});
