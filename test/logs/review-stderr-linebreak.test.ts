// Hostile review of 05ae01a (checkQuotedLogin) and f2cf3bc (matchProven), on real PostgreSQL 15
// writing stderr with Debian's prefix. An unauthenticated client picks its login name and its
// database name (each cut to 63 bytes): PostgreSQL writes both raw into %u and %d, line breaks
// included, in every line of the failed login. checkQuotedLogin only looks at FATAL records whose
// %u differs from the quoted name; everything else a line break can write is still believed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { alertOf, createEngine, detectSchema, ResponsePlanner } from '../../src/detect/index.ts';
import { parseText, type ParseResult } from '../../src/logs/index.ts';
import { waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PREFIXES = ['%m [%p] %q%u@%d ', '%m [%p] %q%u@%d/%a '];
/** REVIEW_FLAVOR=pg18 runs the same on PostgreSQL 18 (it writes the names as raw). */
const FLAVOR = (process.env.REVIEW_FLAVOR as 'pg15' | 'pg18' | undefined) ?? 'pg15';
const END = 'end of the review run';

/** %m as the server writes it (the harness runs in UTC). */
function stamp(): string {
  return `${new Date().toISOString().replace('T', ' ').replace('Z', '')} UTC`;
}

for (const PREFIX of PREFIXES) describe(`review: client text with line breaks in %u and %d (stderr ${JSON.stringify(PREFIX)}, ${FLAVOR})`, () => {
  /** What %a adds after %d: the victim's application, and nothing before authentication. */
  const app = PREFIX.includes('%a') ? '/psql' : '';
  const noApp = PREFIX.includes('%a') ? '/' : '';
  let cluster: Cluster;
  let parsed: ParseResult;
  let victimPid = 0;

  async function failLogin(user: string, database: string, password = 'x'): Promise<void> {
    assert.ok(Buffer.byteLength(user) <= 63 && Buffer.byteLength(database) <= 63, `within NAMEDATALEN: ${JSON.stringify(user)} ${JSON.stringify(database)}`);
    const client = new pg.Client({ host: cluster.host, port: cluster.port, user, database, password });
    client.on('error', () => undefined);
    await assert.rejects(client.connect());
  }

  before(async () => {
    cluster = await startCluster({ flavor: FLAVOR, settings: {
      log_destination: "'stderr'", logging_collector: 'on', log_line_prefix: `'${PREFIX}'`,
      log_connections: 'on', log_disconnections: 'on', log_statement: "'all'",
    } });
    await cluster.createRole('victim', 'right');
    await cluster.createRole('carol', 'right');
    await cluster.query(`CREATE ROLE "alice@example.com" LOGIN PASSWORD 'right'`);
    const victim = new pg.Client({ connectionString: cluster.url('postgres', 'victim', 'right'), application_name: 'psql' });
    await victim.connect();
    try {
      victimPid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await victim.query(`SELECT 'victim before'`);
      // 1. A pgAudit record of victim's live session, written by a client that never logged in.
      //    The quote of the failed login's message closes the statement field and opens the parameter one.
      await failLogin(`,"\n${stamp()} [${victimPid}] victim`, app === ''
        ? 'postgres LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,,,"\n'
        // With %a the rest of the FATAL line starts "/[unknown] FATAL:" (a parse error, not glued): the quote opens the parameter list.
        : `postgres${app} LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,,,x,"\n`);
      // 1b. (Debian's prefix) a read of a sensitive table in victim's session: sensitive_read's responses target victim.
      if (app === '') await failLogin(`,"\n${stamp()} [${victimPid}] victim`, 'postgres LOG:  AUDIT: OBJECT,1,1,READ,SELECT,TABLE,hr.pay,"\n');
      // 1c. (Debian's prefix) the name's first line reads as a harmless record of the client's own pid
      //     (user `,"`, database `b`), so no line is cut: only the tail (` FATAL:  …` after the database's
      //     line break) shows the join. As in 1, the quoted name closes the statement field.
      if (app === '') await failLogin(`,"@b LOG:  z\n${stamp()} [${victimPid}] victim`, 'postgres LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,,,"\n');
      // 2. A `connection received` of victim's pid from an address the attacker chose.
      await failLogin(`x\n${stamp()} [${victimPid}] [unknown]`, `[unknown]${noApp} LOG:  connection received: host=10.6.6.6 port=6\n`);
      await victim.query(`SELECT 'victim after received'`);
      // 3. Real wrong passwords for postgres, with a line break in the database name: the prefix
      //    user and the quoted name agree, so the forged pid (victim's) and its client are believed.
      for (let i = 0; i < 5; i++) await failLogin('postgres', `d\n${stamp()} [${victimPid}] postgres@postgres`);
      // 4. A server start: every session forgotten.
      await failLogin(`x\n${stamp()} [1] a`, `b${noApp} LOG:  database system is ready to accept connections\n`);
      await victim.query(`SELECT 'victim after ready'`);
      // 5. A successful login of postgres from an address the attacker chose, on a pid of its choice.
      await failLogin(`x\n${stamp()} [99999] [unknown]`, `[unknown]${noApp} LOG:  connection received: host=10.7.7.7 port=7\n`);
      await failLogin(`x\n${stamp()} [99999] postgres`, `postgres${noApp} LOG:  connection authorized: user=postgres\n`);
    } finally {
      await victim.end();
    }
    // 6. A real role named like an IAM user fails its password (no line break anywhere).
    await failLogin('alice@example.com', 'postgres', 'wrong');
    // 7. A real role fails its password with a line break as its database name.
    await failLogin('carol', '\n', 'wrong');
    await cluster.query(`SELECT '${END}'`);
    const dir = path.join(cluster.dataDir, 'log');
    let text = '';
    await waitFor(async () => {
      const name = readdirSync(dir).find((n) => n.endsWith('.log'));
      if (name === undefined) return false;
      text = readFileSync(path.join(dir, name), 'utf8');
      return text.includes(END);
    }, 20_000, 'the log to hold the run');
    if (process.env.REVIEW_LOG_OUT) writeFileSync(process.env.REVIEW_LOG_OUT, text);
    parsed = parseText(text, { format: 'stderr', prefix: PREFIX, input: 'postgresql.log', server: 'pg15' });
  });
  after(async () => cluster?.stop());

  const victimStatement = (mark: string): PgwardenEvent => {
    const e = parsed.events.find((x) => x.pid === victimPid && (x.message ?? '').includes(`'${mark}'`) && x.user === 'victim');
    assert.ok(e, `victim's statement ${mark}`);
    return e;
  };

  it('(b) a never-authenticated client cannot write a pgAudit record into victim\'s session', () => {
    const forged = parsed.events.filter((e) => e.kind === 'audit' && e.pid === victimPid);
    assert.deepEqual(forged.map((e) => [e.user, e.audit?.command, e.session_id]), [], 'victim never ran DROP TABLE');
  });

  it('(b) no alert or response against victim from records a never-authenticated client wrote', () => {
    const detect = detectSchema.parse({ privileged_roles: ['postgres'], sensitive_objects: ['hr.*'],
      business_hours: { days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], hours: ['00:00-24:00'] },
      rules: { sensitive_read: { actions: [{ type: 'terminate' }, { type: 'lock_role' }] }, brute_force: { actions: [{ type: 'block_client' }] } } });
    const engine = createEngine(detect);
    const planner = new ResponsePlanner({ facts: engine.facts, breakGlassRoles: [], protectedRoles: [], protectedNetworks: [] });
    for (const event of parsed.events) engine.process(event);
    const alerts = engine.openIncidents().map((i) => {
      const rule = engine.rules.find((r) => r.id === i.rule)!;
      return alertOf(rule, i, planner.describe(rule, i));
    });
    assert.deepEqual(alerts.filter((a) => a.user === 'victim' || a.client_addr === '10.6.6.6').map((a) => [a.rule, a.user, a.client_addr, a.responses.map((r) => r.action)]), [],
      'victim never read hr.pay; no client at 10.6.6.6 ever connected');
  });

  it('(b) a never-authenticated client cannot re-address victim\'s session (forged connection received)', () => {
    const before = victimStatement('victim before');
    const later = victimStatement('victim after received');
    assert.equal(later.client_addr, '127.0.0.1', 'the client the server saw, not 10.6.6.6');
    assert.equal(later.session_id, before.session_id, 'still the same session');
  });

  it('(b) real failed logins of postgres are not put on victim\'s pid and a client the attacker chose', () => {
    const failures = parsed.events.filter((e) => e.kind === 'auth_failed' && e.user === 'postgres');
    assert.equal(failures.length, 5);
    assert.deepEqual(failures.filter((e) => e.pid === victimPid || e.client_addr === '10.6.6.6').map((e) => [e.pid, e.client_addr]), [],
      'no failure on victim\'s pid or the forged address');
  });

  it('(b) a never-authenticated client cannot make the reader forget every session (forged "ready to accept")', () => {
    const before = victimStatement('victim before');
    const later = victimStatement('victim after ready');
    assert.equal(later.session_id, before.session_id);
    assert.equal(later.client_addr, '127.0.0.1');
    assert.deepEqual(parsed.events.filter((e) => e.pid === 1).map((e) => e.message), [], 'no record of pid 1 (the client wrote it)');
  });

  it('(b) a never-authenticated client cannot write a successful login of postgres', () => {
    assert.deepEqual(parsed.events.filter((e) => e.kind === 'connection_authorized' && e.pid === 99999).map((e) => [e.user, e.client_addr]), []);
  });

  it('(a) a real role with "@" in its name keeps its failed login\'s pid and client', () => {
    const failures = parsed.events.filter((e) => e.kind === 'auth_failed' && e.user === 'alice@example.com');
    assert.equal(failures.length, 1);
    assert.notEqual(failures[0]!.pid, null, 'pid kept');
    assert.equal(failures[0]!.client_addr, '127.0.0.1', 'client kept (brute_force groups by it; block_client needs it)');
    assert.equal(failures[0]!.database, 'postgres');
  });

  it('(a) a real role\'s failed login is not hidden by a line break in the database name', () => {
    const failures = parsed.events.filter((e) => e.kind === 'auth_failed' && e.user === 'carol');
    assert.equal(failures.length, 1, 'carol\'s wrong password is one failed login');
  });
});
