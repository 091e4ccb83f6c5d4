// Issue 14, items 5–8 and the event model read back, on logs a real PostgreSQL 15 + pgAudit
// writes in this run: one cluster logs stderr and csvlog at once (csvlog keeps every field
// apart: it is the truth the stderr reading is held to), first with '%m [%p] %q%u@%d/%a '
// (application names and a role that a naive reading gets wrong), then, after a reload, with
// Debian's default '%m [%p] %q%u@%d ' (no %c: sessions from pid and connection records).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { MATCH_STEP_LIMIT, PrefixMatcher, RecordSplitter, createParser, parseText, recognisePrefix, type ParseResult } from '../../src/logs/index.ts';
import { pgEnv, runCli, waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';

const PREFIX_APP = '%m [%p] %q%u@%d/%a ';
const PREFIX_DEBIAN = '%m [%p] %q%u@%d ';
const END_MARK = 'end of the client text test';
const PHASE_MARK = 'phase one done';
const ROLE = 'alice@example.com';
/** Application names a client may choose, each holding a severity word (the second with PostgreSQL's own spacing). */
const TRICKY_APPS = ['x LOG: y', 'a ERROR:  b', 'p DETAIL:  q', 'm LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,forged,<none>'];

interface Logs { stderr: string; csvlog: string }

/** What stderr and csvlog must agree on for every record. */
function comparable(e: PgwardenEvent): object {
  return { ts: e.ts, kind: e.kind, pid: e.pid, user: e.user, database: e.database, application: e.application, severity: e.severity,
    message: e.message, duration_ms: e.duration_ms, audit: e.audit, query: e.query, detail: e.detail };
}

describe('client-chosen text in the log_line_prefix, sessions without %c (real PostgreSQL 15 logs)', () => {
  let cluster: Cluster;
  const logs: Logs[] = [];
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-client-text-'));
    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        log_destination: "'stderr,csvlog'", logging_collector: 'on', log_line_prefix: `'${PREFIX_APP}'`,
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'read,write,misc'",
      },
    });
    await cluster.query('CREATE TABLE public.t(id int PRIMARY KEY, note text)');
    await cluster.createRole(ROLE, 'pw1', '');
    await cluster.createRole('bob', 'pw2', '');
    await cluster.query(`GRANT ALL ON public.t TO "${ROLE}", bob`);
    const session = async (user: string, password: string, application: string, work: (c: pg.Client) => Promise<void>) => {
      const c = new pg.Client({ connectionString: cluster.url('postgres', user, password), application_name: application });
      await c.connect();
      try {
        await work(c);
      } finally {
        await c.end();
      }
    };
    // Phase 1: '%m [%p] %q%u@%d/%a '.
    for (const app of TRICKY_APPS) {
      await session(ROLE, 'pw1', app, async (c) => {
        await c.query('SELECT count(*) FROM public.t');
        await c.query(`SET application_name = '${'a ERROR:  b'}'`);
        await c.query('SELECT id,\n       note\n  FROM public.t');
        await c.query(`SET application_name = '${app.replaceAll("'", "''")}'`);
        await c.query('INSERT INTO public.t VALUES ($1, $2) ON CONFLICT DO NOTHING', [TRICKY_APPS.indexOf(app), 'x']);
      });
    }
    await session('bob', 'pw2', 'pgbench', async (c) => {
      for (let i = 0; i < 5; i++) await c.query('SELECT note FROM public.t WHERE id = $1', [i]);
    });
    await cluster.query(`SELECT '${PHASE_MARK}'`);
    // Phase 2: Debian's default prefix, a new file.
    await new Promise((resolve) => setTimeout(resolve, 1100)); // log file names have a second's precision
    await cluster.query(`ALTER SYSTEM SET log_line_prefix = '${PREFIX_DEBIAN}'`);
    await cluster.query('SELECT pg_catalog.pg_reload_conf()');
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cluster.query('SELECT pg_catalog.pg_rotate_logfile()');
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let n = 0; n < 3; n++) {
      await session(n === 1 ? 'bob' : ROLE, n === 1 ? 'pw2' : 'pw1', `psql-${n}`, async (c) => {
        for (let i = 0; i < 4; i++) await c.query('SELECT note FROM public.t WHERE id = $1', [i]);
      });
    }
    await cluster.query(`SELECT '${END_MARK}'`);
    const dir = path.join(cluster.dataDir, 'log');
    await waitFor(async () => {
      const names = readdirSync(dir).sort();
      const stderr = names.filter((n) => n.endsWith('.log'));
      const csv = names.filter((n) => n.endsWith('.csv'));
      if (stderr.length !== 2 || csv.length !== 2) return false;
      return [stderr[1]!, csv[1]!].every((n) => readFileSync(path.join(dir, n), 'utf8').includes(END_MARK));
    }, 15_000, 'both phases in stderr and csvlog');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const names = readdirSync(dir).sort();
    const stderr = names.filter((n) => n.endsWith('.log'));
    const csv = names.filter((n) => n.endsWith('.csv'));
    for (let i = 0; i < 2; i++) logs.push({ stderr: readFileSync(path.join(dir, stderr[i]!), 'utf8'), csvlog: readFileSync(path.join(dir, csv[i]!), 'utf8') });
    // The first files go on for a moment after the reload with the new prefix: keep phase 1 only.
    const upTo = (text: string) => text.slice(0, text.indexOf('\n', text.indexOf(PHASE_MARK)) + 1);
    logs[0] = { stderr: upTo(logs[0]!.stderr), csvlog: upTo(logs[0]!.csvlog) };
  });
  after(async () => {
    await cluster?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const phase = (i: number, prefix: string): { stderr: ParseResult; csvlog: ParseResult } => ({
    stderr: parseText(logs[i]!.stderr, { format: 'stderr', prefix, input: 'p.log' }),
    csvlog: parseText(logs[i]!.csvlog, { format: 'csvlog', input: 'p.csv' }),
  });

  it('item 5: application names holding severity words neither hide, reclassify nor misattribute a record', () => {
    const { stderr, csvlog } = phase(0, PREFIX_APP);
    const truth = csvlog.events.map(comparable);
    assert.equal(csvlog.errors.length, 0);
    // Every record as csvlog has it: the same kinds (audit stays audit), users, databases, applications, durations.
    assert.deepEqual(stderr.events.map(comparable), truth);
    const audits = stderr.events.filter((e) => e.kind === 'audit');
    assert.equal(audits.length, csvlog.events.filter((e) => e.kind === 'audit').length);
    assert.ok(audits.length >= TRICKY_APPS.length * 4, `${audits.length} audit records`);
    assert.ok(audits.some((e) => e.application === 'a ERROR:  b') && audits.some((e) => e.application === TRICKY_APPS[3]));
    assert.ok(stderr.events.filter((e) => e.kind === 'disconnection').every((e) => e.duration_ms !== null));
    // Role alice@example.com with %u@%d: the user is alice@example.com, the database postgres.
    assert.ok(audits.filter((e) => e.user === ROLE).length >= TRICKY_APPS.length * 4);
    assert.ok(stderr.events.every((e) => e.database === null || e.database === 'postgres'));
    // The lines a client made ambiguous are counted, and nothing else is an error.
    assert.ok(stderr.errors.length > 0);
    for (const error of stderr.errors) assert.match(error.reason, /^ambiguous line/, error.excerpt);
  });

  it('item 5: without the connection records, an ambiguous line stays audit and is counted', () => {
    // Only the audit lines of the tricky sessions: no connection record says who the session is.
    const lines = logs[0]!.stderr.split(/\n(?=\d{4}-)/).filter((l) => l.includes('AUDIT: ') && l.includes(ROLE));
    const result = parseText(lines.join('\n') + '\n', { format: 'stderr', prefix: PREFIX_APP });
    assert.equal(result.events.length, lines.length);
    assert.ok(result.events.every((e) => e.kind === 'audit'), 'every record stays audit');
    assert.ok(result.errors.length >= lines.length / 2, `${result.errors.length} ambiguous lines counted`);
  });

  it('item 5: pgaudit status warns about %a/%u before the severity and names csvlog/jsonlog', async () => {
    const status = await runCli(['pgaudit', 'status', '--format', 'json'], pgEnv(cluster));
    const advice = (JSON.parse(status.stdout) as { advice: string[] }).advice.join('\n');
    assert.match(advice, /puts %u \(client-chosen text/);
    assert.match(advice, /csvlog and jsonlog have no such ambiguity/);
  });

  it('item 6: recognises %m [%p] %q%u@%d/%a and never puts the application into the database', async () => {
    const recognised = recognisePrefix(logs[0]!.stderr);
    assert.equal(recognised.prefix, PREFIX_APP);
    const file = path.join(tmp, 'phase1.log');
    writeFileSync(file, logs[0]!.stderr);
    const parsed = await runCli(['parse', '--count', file]);
    assert.equal(parsed.code, 0, parsed.stderr);
    assert.match(parsed.stderr, /log_line_prefix recognised as "%m \[%p\] %q%u@%d\/%a "/);
    // With the application's part cut off the candidates, the one without %a must not be taken.
    const matcher = new PrefixMatcher(PREFIX_DEBIAN);
    matcher.detecting = true;
    const appLine = logs[0]!.stderr.split('\n').find((l) => l.includes('@postgres/pgbench LOG:  AUDIT'))!;
    assert.ok(matcher.match(appLine) && !matcher.plausible(), 'a database "postgres/pgbench" is refused when recognising');
  });

  it('item 6: warns when a recognised prefix does not fit every line', async () => {
    const lines = logs[1]!.stderr.split('\n');
    lines.splice(3, 0, 'a line from elsewhere');
    const file = path.join(tmp, 'unsure.log');
    writeFileSync(file, lines.join('\n'));
    const parsed = await runCli(['parse', '--count', file]);
    assert.match(parsed.stderr, /recognised as "%m \[%p\] %q%u@%d " — not sure/);
  });

  it('item 6: prefixes that backtrack badly give up in bounded steps, never hang', { timeout: 60_000 }, () => {
    const long = `${'w '.repeat(3000)}x`;
    for (const prefix of ['%a%u%d%a ', '%a %a %a %a ', '%u@%d@%a@%h ']) {
      const matcher = new PrefixMatcher(prefix);
      assert.equal(matcher.match(long), false);
      assert.ok(matcher.stepsTaken <= MATCH_STEP_LIMIT + 1, `${prefix}: ${matcher.stepsTaken} steps`);
      const result = parseText(`${long}\n`.repeat(20), { format: 'stderr', prefix });
      assert.equal(result.errors.length, 20);
    }
  });

  it('item 7: a csvlog row cut short, then the next record: the cut record counted, the next one read', () => {
    const text = logs[0]!.csvlog;
    const whole = parseText(text, { format: 'csvlog' });
    const rows = text.split(/\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} )/);
    assert.equal(rows.length, whole.events.length);
    const cutAt = rows.findIndex((r) => r.includes('AUDIT: SESSION') && r.includes('count(*)'));
    const row = rows[cutAt]!;
    let checked = 0;
    for (let cut = 1; cut < row.length; cut += 3) {
      const broken = [...rows.slice(0, cutAt), row.slice(0, cut) + rows[cutAt + 1]!, ...rows.slice(cutAt + 2)].join('\n');
      const result = parseText(broken, { format: 'csvlog' });
      const expected = whole.events.filter((_, i) => i !== cutAt).map((e) => e.message);
      assert.deepEqual(result.events.map((e) => e.message), expected, `cut at ${cut}: every other record read`);
      assert.ok(result.errors.length >= 1, `cut at ${cut}: the lost record is counted`);
      checked++;
    }
    assert.ok(checked > 50);
    // Two consecutive rows cut short: two errors, the record after them read.
    const two = [...rows.slice(0, cutAt), rows[cutAt]!.slice(0, 60) + rows[cutAt + 1]!.slice(0, 70) + rows[cutAt + 2]!, ...rows.slice(cutAt + 3)].join('\n');
    const result = parseText(two, { format: 'csvlog' });
    assert.equal(result.errors.length, 2, JSON.stringify(result.errors.map((e) => e.reason)));
    assert.deepEqual(result.events.map((e) => e.message), whole.events.filter((_, i) => i !== cutAt && i !== cutAt + 1).map((e) => e.message));
  });

  it('item 7: stderr continuation lines indented with spaces (tab-expanded) are joined', () => {
    const text = logs[0]!.stderr;
    assert.ok(text.includes('\n\t'), 'the log has continuation lines');
    const expanded = text.replaceAll('\n\t', '\n        ');
    const original = parseText(text, { format: 'stderr', prefix: PREFIX_APP });
    const result = parseText(expanded, { format: 'stderr', prefix: PREFIX_APP });
    assert.deepEqual(result.events.map(comparable), original.events.map(comparable));
    assert.ok(result.events.some((e) => e.audit?.statement === 'SELECT id,\n       note\n  FROM public.t'));
  });

  it('item 8: without %c, sessions come from pid and connection records: ids of %c\'s shape, application and client on every record', () => {
    const { stderr, csvlog } = phase(1, PREFIX_DEBIAN);
    const audits = stderr.events.filter((e) => e.kind === 'audit' && e.user !== 'postgres');
    assert.equal(audits.length, 12);
    for (const e of audits) {
      assert.match(e.session_id ?? '', /^[0-9a-f]+\.[0-9a-f]+$/);
      assert.match(e.application ?? '', /^psql-\d$/);
      assert.equal(e.client_addr, '127.0.0.1');
    }
    // The same grouping as csvlog's %c (and mostly the same ids: %c is the backend's start second).
    const byCsv = new Map<string, string>();
    const csvAudits = csvlog.events.filter((e) => e.kind === 'audit' && e.user !== 'postgres');
    csvAudits.forEach((e, i) => {
      const ours = audits[i]!.session_id!;
      if (byCsv.has(e.session_id!)) assert.equal(byCsv.get(e.session_id!), ours);
      byCsv.set(e.session_id!, ours);
      assert.equal(audits[i]!.application, e.application);
    });
    assert.equal(new Set(byCsv.values()).size, 3);
  });

  it('item 8: a log parsed in pieces gets the sessions a whole parse gets', () => {
    const text = logs[1]!.stderr;
    const whole = parseText(text, { format: 'stderr', prefix: PREFIX_DEBIAN, input: 'p.log' });
    for (const pieceBytes of [1, 300, 2000]) {
      const splitter = new RecordSplitter('stderr', PREFIX_DEBIAN, pieceBytes);
      const pieces = [];
      const bytes = Buffer.from(text);
      for (let at = 0; at < bytes.length; at += 100) {
        const piece = splitter.push(bytes.subarray(at, at + 100));
        if (piece) pieces.push(piece);
      }
      const last = splitter.end();
      if (last) pieces.push(last);
      const events: PgwardenEvent[] = [];
      for (const piece of pieces) {
        const parser = createParser({ format: 'stderr', prefix: PREFIX_DEBIAN, input: 'p.log', start: piece.start }, { event: (e) => events.push(e), error: () => undefined });
        parser.write(piece.bytes);
        parser.end();
      }
      assert.ok(pieces.length > 1, `${pieces.length} pieces`);
      assert.deepEqual(events, whole.events, `pieces of ${pieceBytes} bytes`);
    }
  });

  it('item 8: ingest says what the prefix lacks; report sessions lists the sessions of a log without %c', async () => {
    await cluster.createDatabase('repo');
    const file = path.join(tmp, 'debian.log');
    writeFileSync(file, logs[1]!.stderr);
    const ingested = await runCli(['ingest', '--server', 'db1', '--repo', cluster.url('repo'), file]);
    assert.equal(ingested.code, 0, ingested.stderr);
    assert.match(ingested.stderr, /has no %c: sessions are built from the pid and each session's connection records/);
    const sessions = JSON.parse((await runCli(['report', 'sessions', '--repo', cluster.url('repo'), '--user', ROLE, '--format', 'json'])).stdout) as Record<string, unknown>[];
    assert.equal(sessions.length, 2, JSON.stringify(sessions));
    const noPid = parseText('x\n', { format: 'stderr', prefix: '%m ' });
    assert.equal(noPid.events.length, 0);
    const warned = await runCli(['parse', '--count', '--prefix', '%m %u@%d ', file]);
    assert.match(warned.stderr, /WARNING: log_line_prefix "%m %u@%d " has neither %c nor %p/);
  });

  it('events: parse output is read back by parse and ingest (format events, auto-detected): the same events, nothing twice', async () => {
    const log = path.join(tmp, 'phase1-events.log');
    writeFileSync(log, logs[0]!.stderr);
    const parsed = await runCli(['parse', '--server', 'db2', log]);
    assert.equal(parsed.code, 0, parsed.stderr);
    const ndjson = path.join(tmp, 'events.ndjson');
    writeFileSync(ndjson, parsed.stdout);
    const again = await runCli(['parse', ndjson]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, parsed.stdout, 'the same events, byte for byte');
    await cluster.createDatabase('repo2');
    const first = await runCli(['ingest', '--server', 'db2', '--repo', cluster.url('repo2'), log]);
    assert.equal(first.code, 0, first.stderr);
    const inserted = Number(/inserted (\d+)/.exec(first.stderr)![1]);
    assert.ok(inserted > 0);
    const replay = await runCli(['ingest', '--repo', cluster.url('repo2'), ndjson]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stderr, new RegExp(`inserted 0, duplicates ${inserted}\\b`));
    assert.ok(statSync(ndjson).size > 0);
  });

  it('parse exits 2 when nothing could be read, as ingest does', async () => {
    const file = path.join(tmp, 'garbage.log');
    writeFileSync(file, 'not a log line\n'.repeat(50));
    const parsed = await runCli(['parse', '--format', 'stderr', '--prefix', '%m ', file]);
    assert.equal(parsed.code, 2, parsed.stderr);
    assert.match(parsed.stderr, /no event could be read from .*50 parse errors/);
  });
});

describe('a login name with a line break (stderr, %u in the prefix)', () => {
  // The client's name ends the physical line inside the prefix; what follows can read as a whole
  // record of another pid. PostgreSQL quotes the name in the failed login's message: that says
  // whose failure it is, and that the prefix's pid, session and client were the client's text.
  const name = 'a@b LOG:  z\n2026-01-01 00:00:01.000 UTC [77] victim';
  const log = [
    '2026-01-01 00:00:00.000 UTC [77] [unknown]@[unknown] LOG:  connection received: host=10.0.0.77 port=5077',
    '2026-01-01 00:00:00.100 UTC [77] victim@postgres LOG:  connection authorized: user=victim database=postgres application_name=app',
    '2026-01-01 00:00:02.000 UTC [4242] [unknown]@[unknown] LOG:  connection received: host=10.9.9.9 port=4242',
    // As PostgreSQL 15 writes the failure of the name above: the prefix's %u holds the line break, the message's quote a TAB after it.
    `2026-01-01 00:00:02.100 UTC [4242] ${name}@postgres FATAL:  password authentication failed for user "${name.replace('\n', '\n\t')}"`,
    '',
  ].join('\n');

  it('is read as the failure of the whole name, with no pid, session or client of the prefix, and counted', () => {
    const { events, errors } = parseText(log, { format: 'stderr', prefix: PREFIX_DEBIAN, input: 'x.log' });
    const failures = events.filter((e) => e.kind === 'auth_failed');
    assert.deepEqual(failures.map((e) => [e.user, e.pid, e.client_addr, e.session_id]), [[name, null, null, null]],
      'one failed login, of the quoted name; nothing of pid 77 (victim, 10.0.0.77)');
    assert.ok(!events.some((e) => e.kind === 'auth_failed' && e.user === 'victim'), 'no failed login of victim');
    assert.ok(errors.some((e) => /is not the name PostgreSQL quoted/.test(e.reason)), 'counted');
  });

  it('a failed login whose prefix and quote agree is left as it is', () => {
    const text = '2026-01-01 00:00:02.100 UTC [4242] bob@postgres FATAL:  password authentication failed for user "bob"\n';
    const { events, errors } = parseText(text, { format: 'stderr', prefix: PREFIX_DEBIAN, input: 'x.log' });
    assert.deepEqual(events.map((e) => [e.kind, e.user, e.pid]), [['auth_failed', 'bob', 4242]]);
    assert.equal(errors.length, 0);
  });
});
