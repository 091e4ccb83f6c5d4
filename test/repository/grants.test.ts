// The repository's grants (declared once, in src/repository/sql/grants.sql, applied by every
// `repo migrate`) as the server holds them: the writer's privileges, table by table and column by
// column, are exactly these — INSERT and four readable columns of events, never UPDATE, DELETE
// or TRUNCATE of an event — and a grant taken away by hand is put back by the next migrate (one added
// by hand stays: migrate grants, it does not revoke).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrateRepository } from '../../src/repository/migrate.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

/** Every privilege of a role on the relations of pgwarden_repo, as `table privilege` or `table.column privilege`, sorted. */
const PRIVILEGES_SQL = `
SELECT line FROM (
  SELECT c.relname || ' ' || a.privilege_type AS line FROM pg_catalog.pg_class c
    CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
   WHERE c.relnamespace = 'pgwarden_repo'::regnamespace AND a.grantee = $1::regrole
  UNION ALL
  SELECT c.relname || '.' || t.attname || ' ' || a.privilege_type FROM pg_catalog.pg_attribute t
    JOIN pg_catalog.pg_class c ON c.oid = t.attrelid
    CROSS JOIN LATERAL pg_catalog.aclexplode(t.attacl) a
   WHERE c.relnamespace = 'pgwarden_repo'::regnamespace AND a.grantee = $1::regrole
) lines ORDER BY line`;

const INCIDENT_ENGINE_COLUMNS = ['severity', 'detect_state', 'first_ts', 'last_ts', 'count', 'user_name', 'database_name', 'client_addr',
  'application', 'group_values', 'summary', 'tags', 'responses', 'updated_at'];

/** What the writer may do, and nothing more. */
const WRITER = [
  'event_counts INSERT', 'event_counts SELECT', 'event_counts UPDATE',
  'events INSERT', 'events.kind SELECT', 'events.server SELECT', 'events.session_id SELECT', 'events.ts SELECT',
  'incident_events DELETE', 'incident_events INSERT', 'incident_events SELECT',
  'incidents INSERT', 'incidents SELECT', ...INCIDENT_ENGINE_COLUMNS.map((c) => `incidents.${c} UPDATE`),
  'migrations SELECT',
  'rejected_batches INSERT', 'rejected_batches.id SELECT',
  'session_activity INSERT', 'session_activity SELECT', 'session_activity UPDATE',
  'sessions INSERT', 'sessions SELECT', 'sessions UPDATE',
  'undated_events INSERT', 'undated_events SELECT',
].sort();

describe('repository grants: declared once, held by the server', () => {
  let cluster: Cluster;
  let client: pg.Client;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg15' });
    client = new pg.Client({ connectionString: cluster.url(await cluster.createDatabase()) });
    await client.connect();
    await migrateRepository(client);
  });
  after(async () => {
    await client?.end();
    await cluster?.stop();
  });

  const privileges = async (role: string) => (await client.query<{ line: string }>(PRIVILEGES_SQL, [role])).rows.map((r) => r.line);

  it('the writer has exactly INSERT and four readable columns of events, and never UPDATE, DELETE or TRUNCATE of an event', async () => {
    const writer = await privileges('pgwarden_repo_writer');
    assert.deepEqual(writer, WRITER);
    for (const table of ['events', 'undated_events']) {
      assert.deepEqual(writer.filter((l) => l.startsWith(`${table} `) || l.startsWith(`${table}.`)).filter((l) => / (UPDATE|DELETE|TRUNCATE)$/.test(l)), [], table);
    }
    // and the operators' state of an incident is not the engine's to change
    for (const column of ['state', 'state_by', 'state_at', 'count_at_state']) assert.ok(!writer.includes(`incidents.${column} UPDATE`), column);
  });

  it('the dashboard may change an incident\'s state and comments, not what the engine found', async () => {
    const server = await privileges('pgwarden_repo_server');
    assert.deepEqual(server.filter((l) => l.startsWith('incident')), [
      'incident_comments INSERT', 'incidents.count_at_state UPDATE', 'incidents.state UPDATE', 'incidents.state_at UPDATE', 'incidents.state_by UPDATE',
      'incidents.updated_at UPDATE',
    ]);
    assert.ok(!server.some((l) => /^events[ .]/.test(l)), 'and reads events through the reader role only');
  });

  it('a grant taken away by hand is put back by the next migrate; one added by hand is left (migrate grants, it does not revoke)', async () => {
    await client.query('REVOKE INSERT ON pgwarden_repo.events FROM pgwarden_repo_writer');
    await client.query('GRANT DELETE ON pgwarden_repo.sessions TO pgwarden_repo_writer');
    assert.notDeepEqual(await privileges('pgwarden_repo_writer'), WRITER);
    await migrateRepository(client);
    const writer = await privileges('pgwarden_repo_writer');
    assert.ok(writer.includes('events INSERT'), 'the revoked grant is back');
    assert.deepEqual(writer.filter((l) => !WRITER.includes(l)), ['sessions DELETE']);
  });
});
