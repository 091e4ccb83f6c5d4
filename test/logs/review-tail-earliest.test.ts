// Hostile review (rev-c) of the tail rewind (h14-forgery) on real PostgreSQL 15, Debian's prefix.
// A tail joined back to the earliest line it could, and a short real record just before a failed
// login is one: an authenticated session's `statement: END` (24 characters after its pid), then a
// failed login whose name's first line reads as a record of its own pid (user `x`, database
// ` LOG:  ⏎`). The two read as one record of the victim's pid: the victim's statement vanished and
// the failed login went into the victim's session and client. (log_connections is off so that the
// two lines are adjacent; with it on, the attacker needs the victim's line between its own
// `connection received` and its FATAL.)
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parseText, type ParseResult } from '../../src/logs/index.ts';
import { waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PREFIX = '%m [%p] %q%u@%d ';
const END = 'end of the review run';

describe('review: a short real record before a failed login whose name reads as a record (real PostgreSQL 15)', () => {
  let cluster: Cluster;
  let parsed: ParseResult;
  let victimPid = 0;
  let text = '';

  before(async () => {
    cluster = await startCluster({ flavor: 'pg15', settings: {
      log_destination: "'stderr'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`, log_statement: "'all'",
    } });
    await cluster.createRole('b', 'right');
    await cluster.query('CREATE DATABASE d');
    const victim = new pg.Client({ connectionString: cluster.url('d', 'b', 'right') });
    await victim.connect();
    try {
      victimPid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      for (let i = 0; i < 3; i++) {
        await victim.query('BEGIN');
        await victim.query('END');
        const client = new pg.Client({ host: cluster.host, port: cluster.port, user: 'x', database: ' LOG:  \n', password: 'x' });
        client.on('error', () => undefined);
        await assert.rejects(client.connect());
      }
    } finally {
      await victim.end();
    }
    await cluster.query(`SELECT '${END}'`);
    const dir = path.join(cluster.dataDir, 'log');
    await waitFor(async () => {
      const name = readdirSync(dir).find((n) => n.endsWith('.log'));
      if (name === undefined) return false;
      text = readFileSync(path.join(dir, name), 'utf8');
      return text.includes(END);
    }, 20_000, 'the log to hold the run');
    parsed = parseText(text, { format: 'stderr', prefix: PREFIX, input: 'postgresql.log', server: 'pg15' });
  });
  after(async () => cluster?.stop());

  it('the log holds the attack as written: the victim\'s END right before each failed login', () => {
    assert.equal(text.match(new RegExp(`\\[${victimPid}\\] b@d LOG:  statement: END\\n[^\\n]* x@ LOG:  \\n FATAL:  password authentication failed for user "x"\\n`, 'g'))?.length, 3, text);
  });

  it('every END of the victim stays a record of its pid, and no failed login is put on the victim\'s pid', () => {
    assert.equal(parsed.events.filter((e) => e.pid === victimPid && e.message === 'statement: END' && e.user === 'b').length, 3);
    assert.deepEqual(parsed.events.filter((e) => e.severity === 'FATAL' && e.pid === victimPid).map((e) => e.message), []);
    const failed = parsed.events.filter((e) => e.kind === 'auth_failed');
    assert.equal(failed.length, 3);
    assert.ok(failed.every((e) => e.user === 'x' && e.pid !== null && e.pid !== victimPid), JSON.stringify(failed.map((e) => [e.pid, e.user])));
  });
});
