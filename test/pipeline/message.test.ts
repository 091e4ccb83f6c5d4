// What an alert's subject says about DDL: the most destructive command first, whatever order the
// DDL log recorded the objects in. The events are what the DDL source makes of pgwarden.ddl_events rows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ddlRowToEvent, type DdlRow } from '../../src/ddl/index.ts';
import { subject } from '../../src/pipeline/index.ts';

let id = 0;
function ddl(tag: string, identity: string, statement: string, options: { event?: string; txid?: number; user?: string } = {}) {
  const row: DdlRow = {
    id: ++id, ts: new Date('2026-11-30T09:00:00Z'), txid: options.txid ?? 700, event: options.event ?? (tag.startsWith('DROP') ? 'sql_drop' : 'ddl_command_end'),
    user_name: options.user ?? 'alice', current_user_name: options.user ?? 'alice', database: 'shop', server_addr: '10.0.0.2', server_port: 5432,
    client_addr: '10.0.0.9', client_port: 50_000, application: 'psql', backend_pid: 4242, command_tag: tag, object_type: 'table',
    object_identity: identity, schema_name: 'public', in_extension: false, statement, change_ticket: null, detail: null,
  };
  return ddlRowToEvent(row, 'db1');
}

describe('alert subjects for DDL', () => {
  it('a script that creates and drops leads with the DROP', () => {
    const script = 'CREATE TABLE t1(a int); DROP TABLE t1;';
    const events = [ddl('CREATE TABLE', 'public.t1', script), ddl('DROP TABLE', 'public.t1', script)];
    assert.equal(subject(events, '[pgwarden]'), '[pgwarden] DROP TABLE on db1/shop by alice with CREATE TABLE (2 objects)');
  });

  it('a rewrite outranks a create, an ALTER a comment; one object says only its command', () => {
    const script = "CREATE INDEX i ON t(a); ALTER TABLE t ALTER a TYPE bigint; COMMENT ON TABLE t IS 'x'";
    const events = [ddl('COMMENT', 'public.t', script), ddl('CREATE INDEX', 'public.i', script), ddl('ALTER TABLE', 'public.t', script, { event: 'table_rewrite' })];
    assert.equal(subject(events), 'ALTER TABLE on db1/shop by alice with CREATE INDEX, COMMENT (3 objects)');
    assert.equal(subject([ddl('CREATE TABLE', 'public.t2', 'CREATE TABLE t2()')]), 'CREATE TABLE on db1/shop by alice');
  });

  it('several statements: the count, then their commands worst first', () => {
    const events = [
      ddl('CREATE TABLE', 'public.a', 'CREATE TABLE a()', { txid: 1 }),
      ddl('ALTER TABLE', 'public.a', 'ALTER TABLE a ADD b int', { txid: 2 }),
      ddl('DROP SCHEMA', 'old', 'DROP SCHEMA old CASCADE', { txid: 3, user: 'bob' }),
    ];
    assert.equal(subject(events), '3 DDL changes on db1/shop by alice, bob: DROP SCHEMA, ALTER TABLE, CREATE TABLE');
  });
});
