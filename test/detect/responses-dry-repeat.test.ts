// A dry run repeated for the same response (collect with detect.responses.dry_run sends a growing
// incident's alert again, or is restarted): a dry run whose outcome is noop or refused is recorded
// with that outcome (not dry_run), so the second one hit response_actions_once and failed with a
// unique violation instead of answering.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Responder } from '../../src/detect/index.ts';
import { pgEnv, runCli } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

describe('responder dry run, repeated', () => {
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
    assert.equal((await cluster.query('SELECT 1 FROM pgwarden.response_actions')).rowCount, 1);
  });
});
