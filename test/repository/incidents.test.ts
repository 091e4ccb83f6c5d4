// Incidents in the repository (issue 18): storeIncident() is idempotent on the engine's incident id —
// the same alert stored again after a restart (a new connection), or by several writers at once
// (real concurrent connections), is one row with the highest count and the latest last time, and
// its events once each — and the writer role may store incidents but not change an operator's
// state, nor delete events or incidents.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Alert } from '../../src/detect/alert.ts';
import { storeIncident } from '../../src/repository/index.ts';
import type { Cluster } from '../harness/postgres.ts';
import { bruteForceAlert, incidentRepository } from './incident-helpers.ts';

function alert(count: number, lastSecond: number, extra: Partial<Alert> = {}): Alert {
  return bruteForceAlert({
    id: 'inc-1', last_ts: `2026-12-01T10:00:${String(lastSecond).padStart(2, '0')}.000Z`, count, application: "psql'; DROP TABLE x; --",
    summary: `${count} failed logins for mallory`, events: [{ input: '/var/log/pg.log', position: 100 }, { input: '/var/log/pg.log', position: 100 + count }],
    ...extra,
  });
}

describe('incidents: storeIncident', () => {
  let cluster: Cluster;
  const writerUrl = () => cluster.url('repo', 'ingest_login', 'ingest-pw');
  before(async () => {
    cluster = await incidentRepository();
  });
  after(async () => cluster?.stop());

  const rows = async (id: string) => (await cluster.query(`SELECT count, last_ts, first_ts, summary, state, application,
    (SELECT pg_catalog.count(*)::int FROM pgwarden_repo.incident_events e WHERE e.incident_id = i.id) AS events
    FROM pgwarden_repo.incidents i WHERE id = $1`, [id], 'repo')).rows;

  it('the same alert stored again after a restart is one row, with the latest count and last time', async () => {
    let pool = new pg.Pool({ connectionString: writerUrl() });
    const first = await storeIncident(pool, alert(3, 5));
    assert.deepEqual(first, { id: 'inc-1', inserted: true, eventsAdded: 2 });
    await pool.end();
    // "restart": a new process's pool; the engine found the incident again, grown
    pool = new pg.Pool({ connectionString: writerUrl() });
    const again = await storeIncident(pool, alert(7, 9));
    assert.equal(again.inserted, false);
    assert.equal(again.eventsAdded, 1, 'the first event is linked already');
    // and an older alert arriving late changes nothing
    await storeIncident(pool, alert(3, 5));
    await pool.end();
    const row = (await rows('inc-1'))[0]!;
    assert.equal(row.count, '7');
    assert.equal(row.last_ts.toISOString(), '2026-12-01T10:00:09.000Z');
    assert.equal(row.summary, '7 failed logins for mallory');
    assert.equal(row.application, "psql'; DROP TABLE x; --", 'a client-chosen string is stored as it was');
    assert.equal(row.state, 'open');
    assert.equal(row.events, 2, 'the latest alert\'s events (100, 107): 103, the first store\'s latest, is dropped');
  });

  it('eight writers storing the same incident at once make one row and link each event once, the latest alert\'s', async () => {
    const pools = Array.from({ length: 8 }, () => new pg.Pool({ connectionString: writerUrl(), max: 1 }));
    try {
      // every pool connected first, so the stores really race
      await Promise.all(pools.map((p) => p.query('SELECT 1')));
      const results = await Promise.all(pools.flatMap((p, i) => [
        storeIncident(p, alert(10 + i, 10 + i, { id: 'race' })),
        storeIncident(p, alert(10 + i, 10 + i, { id: 'race' })),
      ]));
      assert.equal(results.filter((r) => r.inserted).length, 1, 'one store created it, the others updated it');
      const row = (await rows('race'))[0]!;
      assert.equal(row.count, '17');
      assert.equal(row.last_ts.toISOString(), '2026-12-01T10:00:17.000Z');
      // the latest alert's events (100, 117); a racing store may leave one of 110..116 that the next store drops
      const linked = await cluster.query("SELECT source_position::int AS p FROM pgwarden_repo.incident_events WHERE incident_id = 'race' ORDER BY 1", [], 'repo');
      const positions = linked.rows.map((r) => r.p as number);
      assert.ok(positions.includes(100) && positions.includes(117) && positions.length <= 9, JSON.stringify(positions));
      const all = await cluster.query("SELECT pg_catalog.count(*)::int AS n FROM pgwarden_repo.incidents WHERE id = 'race'", [], 'repo');
      assert.equal(all.rows[0]!.n, 1);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('a NUL byte in a client-chosen string (an application name, a group value) is stored as U+FFFD, not refused', async () => {
    const pool = new pg.Pool({ connectionString: writerUrl() });
    try {
      await storeIncident(pool, alert(1, 1, { id: 'nul', application: 'psql\u0000evil', user: 'eve\u0000', group: { user: 'eve\u0000' }, summary: '1 failed login for eve\u0000' }));
    } finally {
      await pool.end();
    }
    const { rows } = await cluster.query("SELECT application, user_name, group_values, summary FROM pgwarden_repo.incidents WHERE id = 'nul'", [], 'repo');
    assert.deepEqual(rows, [{ application: 'psql\uFFFDevil', user_name: 'eve\uFFFD', group_values: { user: 'eve\uFFFD' }, summary: '1 failed login for eve\uFFFD' }]);
  });

  it('the writer cannot set an operator state, delete incidents or delete events; the dashboard role can set the state', async () => {
    const writer = new pg.Client({ connectionString: writerUrl() });
    await writer.connect();
    try {
      await assert.rejects(writer.query("UPDATE pgwarden_repo.incidents SET state = 'resolved' WHERE id = 'inc-1'"), /permission denied/);
      await assert.rejects(writer.query("DELETE FROM pgwarden_repo.incidents WHERE id = 'inc-1'"), /permission denied/);
      await assert.rejects(writer.query('DELETE FROM pgwarden_repo.events'), /permission denied/);
      await assert.rejects(writer.query('INSERT INTO pgwarden_repo.incident_comments (incident_id, user_name, action) VALUES ($1, $2, $3)', ['inc-1', 'w', 'comment']), /permission denied/);
    } finally {
      await writer.end();
    }
    const dashboard = new pg.Client({ connectionString: cluster.url('repo', 'dashboard_login', 'dashboard-pw') });
    await dashboard.connect();
    try {
      await dashboard.query("UPDATE pgwarden_repo.incidents SET state = 'acknowledged', state_by = 'alice', state_at = now() WHERE id = 'inc-1'");
      await assert.rejects(dashboard.query("UPDATE pgwarden_repo.incidents SET count = 1 WHERE id = 'inc-1'"), /permission denied/);
      await assert.rejects(dashboard.query("DELETE FROM pgwarden_repo.incidents WHERE id = 'inc-1'"), /permission denied/);
    } finally {
      await dashboard.end();
    }
    // the writer storing the incident again keeps the operator's state
    const pool = new pg.Pool({ connectionString: writerUrl() });
    await storeIncident(pool, alert(8, 12));
    await pool.end();
    const row = (await rows('inc-1'))[0]!;
    assert.equal(row.state, 'acknowledged');
    assert.equal(row.count, '8');
  });
});
