// The repository's schema as its migrations make it, on a real PostgreSQL:
//   - a repository at any earlier version, brought up to date by the old code (migrations as
//     TypeScript strings, test/fixtures/repository-0007, which knows versions 1 to 7) and by
//     today's (SQL files compiled into the build), ends with the same catalog: tables, columns,
//     defaults, constraints, indexes, functions (source, security, settings), triggers, privileges
//     and role memberships. A migration added after the fixture is applied by today's code on both
//     sides (after the old code's 7 on one), so a new migration does not break the comparison;
//   - the event field table (core/event-fields.ts) is what the migrations create: the columns of
//     events and undated_events with their types and NOT NULL — checked against the migrations,
//     which are history and are never generated from the table. By name, not by position: a later
//     migration's ADD COLUMN appends after ingested_at, and the writer names its columns (COLUMN_LIST).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { EVENT_FIELDS } from '../../src/core/event-fields.ts';
import { migrateRepository } from '../../src/repository/migrate.ts';
import { REPO_MIGRATIONS } from '../../src/repository/migrations.ts';
import { migrateRepository as migrateOld } from '../fixtures/repository-0007/repository/migrate.ts';
import { REPO_BOOTSTRAP_SQL as OLD_BOOTSTRAP, REPO_MIGRATIONS as OLD_MIGRATIONS } from '../fixtures/repository-0007/repository/migrations.ts';
import { catalogSql } from '../harness/catalog.ts';
import { startCluster, withClient as withClientAt, type Cluster } from '../harness/postgres.ts';

/** Everything about the repository's schemas that a migration or a grant decides, as sorted text lines. */
const CATALOG_SQL = catalogSql(['pgwarden_repo', 'pgwarden_web'], [
  `SELECT 'member ' || m.roleid::regrole::text || ' ' || m.member::regrole::text FROM pg_catalog.pg_auth_members m
   WHERE m.roleid::regrole::text LIKE 'pgwarden_repo%'`,
  "SELECT 'own_role ' || server || ' ' || role_name || ' ' || via FROM pgwarden_repo.own_roles",
  "SELECT 'migration ' || version || ' ' || name FROM pgwarden_repo.migrations",
]);

describe('repository schema: today\'s migrations against the old code, and the event field table', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg15' });
    await cluster.createRole('ingest_login', 'ingest-pw');
    await cluster.createRole('dashboard_login', 'dashboard-pw');
  });
  after(async () => cluster?.stop());

  const withClient = <T>(database: string, run: (client: pg.Client) => Promise<T>) => withClientAt(cluster.url(database), run);

  /** A repository as the old code left it at `version`: its bootstrap and its migrations up to there, applied as it applied them. */
  async function oldRepository(database: string, version: number): Promise<void> {
    await cluster.createDatabase(database);
    if (version === 0) return;
    await withClient(database, async (client) => {
      await client.query(OLD_BOOTSTRAP);
      for (const m of OLD_MIGRATIONS.filter((x) => x.version <= version)) {
        await client.query('INSERT INTO pgwarden_repo.migrations (version, name, pgwarden_version) VALUES ($1, $2, $3)', [m.version, m.name, '0.1.0']);
        await client.query(m.sql);
      }
    });
  }

  const catalog = (database: string) => withClient(database, async (client) => (await client.query<{ line: string }>(CATALOG_SQL)).rows.map((r) => r.line));

  /** The last version the old code knows; migrations after it are today's only. */
  const FIXTURE_VERSION = OLD_MIGRATIONS.at(-1)!.version;

  it('the SQL files the old code knows are its migrations, byte for byte, under the same numbers and names', () => {
    const known = REPO_MIGRATIONS.slice(0, OLD_MIGRATIONS.length);
    assert.deepEqual(known.map((m) => [m.version, m.name]), OLD_MIGRATIONS.map((m) => [m.version, m.name]));
    for (const [i, m] of known.entries()) assert.equal(m.sql, OLD_MIGRATIONS[i]!.sql, `migration ${m.version}`);
    // and every later one comes after them
    for (const m of REPO_MIGRATIONS.slice(OLD_MIGRATIONS.length)) assert.ok(m.version > FIXTURE_VERSION, `migration ${m.version}`);
  });

  for (const version of [0, 1, 3, 6, 7]) {
    it(`a repository at version ${version}, migrated by the old code and by today's, has the same schema`, async () => {
      await oldRepository(`old_${version}`, version);
      await oldRepository(`new_${version}`, version);
      const options = { writerLogins: ['ingest_login'], serverLogins: ['dashboard_login'] };
      const old = await withClient(`old_${version}`, (client) => migrateOld(client, options));
      assert.equal(old.toVersion, FIXTURE_VERSION);
      // what the old code does not know (no migration today: applied is [])
      const later = await withClient(`old_${version}`, (client) => migrateRepository(client, options));
      assert.deepEqual(later.applied, REPO_MIGRATIONS.slice(OLD_MIGRATIONS.length).map((m) => `${String(m.version).padStart(4, '0')}-${m.name}`));
      const now = await withClient(`new_${version}`, (client) => migrateRepository(client, options));
      assert.deepEqual({ ...now, pgauditQuiet: undefined },
        { ...old, applied: [...old.applied, ...later.applied], toVersion: later.toVersion, pgauditQuiet: undefined });
      const [oldCatalog, newCatalog] = [await catalog(`old_${version}`), await catalog(`new_${version}`)];
      assert.ok(oldCatalog.some((l) => l.startsWith('function pgwarden_repo.batch_overlaps(')), 'the catalog query sees the functions');
      assert.ok(oldCatalog.some((l) => l.startsWith('relation pgwarden_repo.events ') && l.includes('pgwarden_repo_writer')), 'and the grants');
      assert.deepEqual(newCatalog, oldCatalog);
    });
  }

  it('the catalog comparison tells a changed schema apart (so the test above can fail)', async () => {
    await oldRepository('changed', 0);
    await withClient('changed', (client) => migrateRepository(client));
    const before = await catalog('changed');
    await withClient('changed', (client) => client.query('GRANT SELECT (message) ON pgwarden_repo.events TO pgwarden_repo_writer'));
    assert.notDeepEqual(await catalog('changed'), before);
  });

  it('the event field table is what the migrations create in events and undated_events', async () => {
    await oldRepository('fields', 0);
    await withClient('fields', async (client) => {
      await migrateRepository(client);
      for (const table of ['events', 'undated_events']) {
        const { rows } = await client.query<{ name: string; type: string; not_null: boolean }>(
          `SELECT a.attname AS name, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
             FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attname`,
          [`pgwarden_repo.${table}`]);
        const expected = EVENT_FIELDS.map((f) => ({
          name: f.column,
          type: f.type === 'timestamptz' ? 'timestamp with time zone' : f.type,
          // ts: NOT NULL where events are dated (the partition key), nullable among the undated
          not_null: f.notNull === true || (f.path === 'ts' && table === 'events'),
        }));
        // ingested_at is the repository's, not the event's. Compared by name (sorted as the query
        // sorts, byte order): the writer names every column, so their places do not matter
        const byName = [...expected, { name: 'ingested_at', type: 'timestamp with time zone', not_null: true }]
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        assert.deepEqual(rows, byName, table);
      }
    });
  });
});
