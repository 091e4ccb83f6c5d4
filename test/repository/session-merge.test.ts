// The writer merges a batch's connection events of one session into one row for the sessions
// upsert (encode.ts LoginRow). The rows it sends must aggregate, in PostgreSQL, to exactly what
// the events one by one did (the upsert's earlier source: an aggregate with a FILTER per kind),
// also where a session's events disagree (forged or repeated lines), with NUL bytes, and over
// more than one batch.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { encodeBatch, RepositoryWriter } from '../../src/repository/index.ts';
import { runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

// What the upsert took before: one JSON row per event, aggregated by kind.
const PER_EVENT_SQL = `SELECT COALESCE(server, '') AS server, session_id, max(pid) AS pid,
  max(user_name) FILTER (WHERE kind <> 'connection_received') AS user_name,
  max(database_name) FILTER (WHERE kind <> 'connection_received') AS database_name,
  max(application) FILTER (WHERE kind = 'connection_authorized') AS application,
  max(client_addr) AS client_addr, max(client_port) AS client_port,
  min(ts) FILTER (WHERE kind = 'connection_received') AS started_at,
  min(ts) FILTER (WHERE kind = 'connection_authorized') AS authorized_at,
  max(ts) FILTER (WHERE kind = 'disconnection') AS ended_at,
  max(duration_ms) FILTER (WHERE kind = 'disconnection') AS duration_ms
FROM jsonb_to_recordset($1::jsonb) AS x(kind text, ts timestamptz, server text, session_id text, pid integer,
  user_name text, database_name text, application text, client_addr text, client_port integer, duration_ms double precision)
GROUP BY 1, 2 ORDER BY 1, 2`;
// What it takes now: the merged rows.
const MERGED_SQL = `SELECT COALESCE(server, '') AS server, session_id, max(pid) AS pid, max(user_name) AS user_name,
  max(database_name) AS database_name, max(application) AS application, max(client_addr) AS client_addr,
  max(client_port) AS client_port, min(started_at) AS started_at, min(authorized_at) AS authorized_at,
  max(ended_at) AS ended_at, max(duration_ms) AS duration_ms
FROM jsonb_to_recordset($1::jsonb) AS x(server text, session_id text, pid integer, user_name text, database_name text,
  application text, client_addr text, client_port integer, started_at timestamptz, authorized_at timestamptz,
  ended_at timestamptz, duration_ms double precision)
GROUP BY 1, 2 ORDER BY 1, 2`;

const noNul = (v: string | null) => (v === null ? null : v.replaceAll('\0', '\ufffd'));

function connection(kind: PgwardenEvent['kind'], server: string | null, session: string, at: number, fields: Partial<PgwardenEvent> = {}): PgwardenEvent {
  return {
    ...newEvent(kind, server, { input: '/var/log/postgresql/postgresql.log', position: at * 100, line: at + 1 }),
    ts: new Date(Date.UTC(2026, 11, 4, 10, 0, 0) + at * 1000).toISOString(), pid: Number.parseInt(session.split('.')[1]!, 16), session_id: session,
    ...fields,
  };
}

/** Sessions made of every kind of connection record, some consistent, some disagreeing with themselves. */
function sessionEvents(): PgwardenEvent[] {
  const events: PgwardenEvent[] = [];
  let at = 0;
  for (let s = 0; s < 40; s++) {
    const id = `6930f0${s.toString(16).padStart(2, '0')}.${(4000 + s).toString(16)}`;
    const server = s % 5 === 0 ? null : `db${s % 3}`;
    const client = { client_addr: `10.0.0.${s}`, client_port: 50000 + s };
    events.push(connection('connection_received', server, id, at++, { ...client, user: 'sent-by-client', database: 'any' }));
    if (s % 4 === 3) events.push(connection('auth_failed', server, id, at++, { ...client, user: `u${s}`, database: 'postgres' }));
    else events.push(connection('connection_authorized', server, id, at++, { ...client, user: `u${s}`, database: 'postgres', application: s % 6 === 0 ? 'app\0nul' : `app${s}` }));
    events.push(connection('audit', server, id, at++, { user: `u${s}` }));
    // forged or repeated lines: a second authorization with other names, a second received from elsewhere, two ends
    if (s % 7 === 2) events.push(connection('connection_authorized', server, id, at++, { ...client, user: 'a-other', database: 'zz', application: 'Ä-other' }));
    if (s % 9 === 4) events.push(connection('connection_received', server, id, at++, { client_addr: '192.168.1.1', client_port: 1 }));
    if (s % 2 === 0) events.push(connection('disconnection', server, id, at++, { ...client, user: `u${s}`, database: 'postgres', duration_ms: 10 + s }));
    if (s % 8 === 6) events.push(connection('disconnection', server, id, at++, { ...client, user: `u${s}`, database: 'postgres', duration_ms: 5 }));
  }
  return events;
}

describe('the sessions upsert of merged connection rows', () => {
  let cluster: Cluster;
  let repo: string;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg18' });
    repo = cluster.url(await cluster.createDatabase('repo'));
    const migrate = await runCli(['repo', 'migrate', '--repo', repo], { PGPASSWORD: cluster.superuserPassword });
    assert.equal(migrate.code, 0, migrate.stderr);
  });
  after(async () => cluster?.stop());

  it('sends a consistent session as one row and a self-contradicting one as several', () => {
    const batch = encodeBatch(sessionEvents());
    const rowsOf = (id: string) => batch.logins.filter((r) => r.session_id === id).length;
    assert.equal(rowsOf('6930f001.fa1'), 1, 'received, authorized, disconnection: one row');
    // a second authorization with other names: a second row; the disconnection names the first user again: a third
    assert.equal(rowsOf('6930f002.fa2'), 3);
    for (let s = 0; s < 40; s++) {
      if (s % 7 === 2 || s % 9 === 4 || s % 8 === 6) continue; // the forged or repeated lines
      assert.equal(rowsOf(`6930f0${s.toString(16).padStart(2, '0')}.${(4000 + s).toString(16)}`), 1, `session ${s}`);
    }
  });

  it('aggregates in PostgreSQL to what the events one by one did, and the writer stores that', async () => {
    const events = sessionEvents();
    const perEvent = events.filter((e) => e.kind !== 'audit').map((e) => ({
      kind: e.kind, ts: e.ts, server: noNul(e.server), session_id: noNul(e.session_id), pid: e.pid, user_name: noNul(e.user),
      database_name: noNul(e.database), application: noNul(e.application), client_addr: noNul(e.client_addr),
      client_port: e.client_port, duration_ms: e.duration_ms,
    }));
    const client = new pg.Client({ connectionString: repo });
    await client.connect();
    try {
      const expected = (await client.query(PER_EVENT_SQL, [JSON.stringify(perEvent)])).rows;
      assert.equal(expected.length, 40);
      assert.deepEqual((await client.query(MERGED_SQL, [JSON.stringify(encodeBatch(events).logins)])).rows, expected);

      // Through the writer, in two batches cut inside sessions: the table holds the same.
      const writer = new RepositoryWriter({ url: repo, label: 'repo' });
      try {
        await writer.write(events.slice(0, 61));
        await writer.write(events.slice(61));
      } finally {
        await writer.close();
      }
      const stored = (await client.query(`SELECT server, session_id, pid, user_name, database_name, application, client_addr, client_port,
        started_at, authorized_at, ended_at, duration_ms FROM pgwarden_repo.sessions ORDER BY 1, 2`)).rows;
      // Across batches the upsert keeps the first value of a name (COALESCE), not the greatest: compare the sessions one batch holds whole.
      const whole = (row: { session_id: string }) => {
        const at = events.map((e, i) => (e.session_id === row.session_id ? i : -1)).filter((i) => i >= 0);
        return at.every((i) => i < 61) || at.every((i) => i >= 61);
      };
      assert.ok(expected.filter(whole).length >= 35);
      assert.deepEqual(stored.filter(whole), expected.filter(whole));
      const nul = stored.find((r) => r.session_id === '6930f000.fa0');
      assert.equal(nul?.application, 'app\ufffdnul');
    } finally {
      await client.end();
    }
  });
});
