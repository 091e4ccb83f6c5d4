// A dry run repeated for the same response (collect with detect.responses.dry_run sends a growing
// incident's alert again, or is restarted): a dry run whose outcome is noop or refused is recorded
// with that outcome (not dry_run), so the second one hit response_actions_once and failed with a
// unique violation instead of answering.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Responder } from '../../src/detect/index.ts';
import type { Alert } from '../../src/detect/alert.ts';
import type { RuleSpec } from '../../src/detect/types.ts';
import { pgEnv, runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

describe('responder dry runs', () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster({ flavor: 'pg16' });
    const install = await runCli(['install', '--responder'], pgEnv(cluster));
    assert.equal(install.code, 0, install.stderr);
  });
  after(async () => { await cluster?.stop(); });

  it('a second dry run of a terminate with nothing to do answers with the first one\'s row', async () => {
    const dry = new Responder({ url: cluster.url('postgres'), label: 'pg16' }, { dryRun: true });
    const first = await dry.terminateOne('inc-1:terminate', 999999, 'abc.1', 'x');
    assert.equal(first.outcome, 'noop');
    const second = await dry.terminateOne('inc-1:terminate', 999999, 'abc.1', 'x');
    assert.equal(second.id, first.id);
    assert.equal((await cluster.query("SELECT 1 FROM pgwarden.response_actions WHERE response_id LIKE 'inc-1:%'")).rowCount, 1);
  });

  // A dry run's noop or refused row counted as the response's record: the real run of the same
  // response (detect.responses.dry_run turned off while the incident goes on, or its logs read again)
  // was answered with it and did nothing.
  it('a lock_role the dry run found refused (no ADMIN OPTION yet) is done by the real run once the admin granted it', async () => {
    const target = { url: cluster.url('postgres'), label: 'pg16' };
    // a role created after install --responder: on 16+ the responder has no ADMIN OPTION on it
    await cluster.query('CREATE ROLE latecomer LOGIN');
    const dry = await new Responder(target, { dryRun: true }).lockOne('inc-2:lock_role', 'latecomer', 60_000);
    assert.equal(dry.outcome, 'refused');
    assert.match(dry.reason, /no ADMIN OPTION/);
    // what the dry run's reason tells the admin to do; then dry_run is turned off
    await cluster.query('GRANT latecomer TO pgwarden_responder WITH ADMIN TRUE, INHERIT FALSE, SET FALSE');
    const real = await new Responder(target).lockOne('inc-2:lock_role', 'latecomer', 60_000);
    assert.equal(real.outcome, 'done', real.reason);
    assert.equal((await cluster.query<{ l: boolean }>("SELECT rolcanlogin AS l FROM pg_catalog.pg_roles WHERE rolname = 'latecomer'")).rows[0]!.l, false);
  });

  // An alert's summary carries what the log said (a user or application name from a damaged log can
  // hold a NUL byte): the response's detail went to the server as jsonb, which refuses \u0000, so
  // the response failed with a server error instead of being recorded.
  it('a dry-run block_client of an alert whose summary holds a NUL is recorded, the NUL shown as U+FFFD', async () => {
    const rule = { id: 'brute_force', actions: [{ type: 'block_client', duration_ms: 60_000, ipv4_prefix: 32, ipv6_prefix: 128 }] } as unknown as RuleSpec;
    const alert = {
      id: 'inc-nul', rule: 'brute_force', server: 'pg16', user: 'ev\0il', last_ts: null,
      summary: '6 failed logins as ev\0il from 203.0.113.9',
      responses: [{ action: 'block_client', target: { network: '203.0.113.9/32' }, would: 'block', done: false, refused: null, until: null }],
    } as unknown as Alert;
    const records = await new Responder({ url: cluster.url('postgres'), label: 'pg16' }, { dryRun: true }).respond(rule, alert);
    assert.ok(records.length > 0 && records.every((r) => r.outcome === 'dry_run'), JSON.stringify(records));
    const stored = await cluster.query<{ summary: string }>("SELECT detail->>'summary' AS summary FROM pgwarden.response_actions WHERE detail->>'incident' = 'inc-nul'");
    assert.ok(stored.rows.length > 0);
    for (const row of stored.rows) assert.equal(row.summary, '6 failed logins as ev\uFFFDil from 203.0.113.9');
  });
});
