// The least-privilege writer login (repo migrate --writer-login, grants.sql) stores response events
// (the `response` column of migration 0012), from a timed row and an undated one, and twice stores
// them once; client-chosen text in a response (a role name with quotes, a newline, a NUL in the
// summary) arrives as written, the NUL as U+FFFD (as in every text column).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';
import { runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

describe('repository writer login: response events', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg16' });
    await cluster.createDatabase('repo');
    await cluster.createRole('pgw_ingest', 'ingest-pw', '');
    const migrate = await runCli(['repo', 'migrate', '--repo', cluster.url('repo'), '--writer-login', 'pgw_ingest']);
    assert.equal(migrate.code, 0, migrate.stderr);
  });
  after(async () => { await cluster?.stop(); });

  it('stores them once, text as written', async () => {
    const role = 'x"; DROP ROLE y; --\nz';
    const response = (ts: string | null, position: number): PgwardenEvent => ({
      ...newEvent('response', 'db1', { input: 'responses:db1/postgres', position, line: null }), ts, user: role, database: 'postgres',
      severity: 'LOG', message: `pgwarden response lock_role refused: no role "${role}"`,
      response: { id: position, response_id: 'inc:lock_role', action: 'lock_role', outcome: 'refused', role, network: null, until: null,
        reason: `no role "${role}"`, rule: 'r', incident: 'inc', summary: 'a\u0000b', requested_by: 'pgw' },
    });
    const writer = new RepositoryWriter({ url: cluster.url('repo', 'pgw_ingest', 'ingest-pw'), label: 'writer' });
    try {
      const events = [response(new Date().toISOString(), 1), response(null, 2)];
      await writer.write(events);
      await writer.write(events);
    } finally {
      await writer.close();
    }
    const { rows } = await cluster.query<{ response: { role: string; summary: string } }>(
      'SELECT response FROM pgwarden_repo.events UNION ALL SELECT response FROM pgwarden_repo.undated_events', [], 'repo');
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.equal(row.response.role, role);
      assert.equal(row.response.summary, 'a\ufffdb');
    }
  });
});
