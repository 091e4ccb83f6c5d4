// npm run bench:parse [-- --mb 200] [--repeat 3] [--keep]   (--keep leaves the generated logs, e.g. for profiling)
//
// Generates a log of pgAudit traffic (sessions: connection received/authorized, SESSION and
// OBJECT records with parameters, multi-line statements, errors with STATEMENT lines,
// disconnections) as PostgreSQL 15 writes it in stderr, csvlog and jsonlog — the same records in
// each — into a temporary directory, then times `pgwarden parse` on each file (printing JSON
// lines, with the default threads and with one; and `--count`, which parses and counts without
// printing) and pgBadger (the peer, one job and as many as pgwarden's threads) on the stderr
// file, and prints MB/s, events/s and the ratios. Each is timed --repeat times (default 3) and
// the fastest run is the figure, for pgBadger as for pgwarden. The directory is removed at the
// end. The issue's target is pgwarden ≥ 20× pgBadger's MB/s on the same file.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, statSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
export const PREFIX = '%m [%p] %q%u@%d ';
const args = process.argv.slice(2);
const targetMb = Number(args[args.indexOf('--mb') + 1] ?? 200) || 200;
/** Runs of each measurement: the fastest is the figure (this machine's speed wanders by 10–25 % from run to run). */
const repeat = Number(args.includes('--repeat') ? args[args.indexOf('--repeat') + 1] : 3) || 3;
const seconds = (times: number[]) => times.map((t) => `${t.toFixed(2)} s`).join(', ');

interface Session { pid: number; id: string; user: string; db: string; app: string; host: string; port: number; start: string; line: number; statement: number }
interface Rec { ts: string; s: Session | null; severity: string; state: string; message: string; detail?: string; query?: string; tag: string }

// A small deterministic random source, so every run writes the same log.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!;

const USERS = ['app_orders', 'app_billing', 'report_reader', 'etl', 'alice', 'bob'];
const APPS = ['orders-api', 'billing worker', 'psql', 'DBeaver 24.1.0 - Main', 'Metabase', ''];
const STATEMENTS: [string, string, string, string, (string | null)[] | null][] = [
  ['READ', 'SELECT', 'TABLE', 'SELECT id, name, email FROM public.customers WHERE id = $1', ['81723']],
  ['WRITE', 'UPDATE', 'TABLE', "UPDATE public.orders SET status = 'shipped', updated_at = now() WHERE order_id = $1", ['5512']],
  ['WRITE', 'INSERT', 'TABLE', 'INSERT INTO public.order_lines (order_id, sku, qty, price) VALUES ($1, $2, $3, $4)', ['5512', 'SKU-1,"A"', '2', null]],
  ['READ', 'SELECT', 'TABLE', 'SELECT o.id,\n       o.total,\n       c.name\n  FROM public.orders o\n  JOIN public.customers c ON c.id = o.customer_id\n WHERE o.created_at > now() - interval \'1 day\'', []],
  ['READ', 'SELECT', 'TABLE', 'SELECT count(*) FROM pg_catalog.pg_stat_activity', []],
  ['MISC', 'CHECKPOINT', '', 'CHECKPOINT', []],
  ['DDL', 'CREATE TABLE', 'TABLE', 'CREATE TABLE public.tmp_import (id bigint, payload jsonb)', []],
  ['WRITE', 'DELETE', 'TABLE', "DELETE FROM public.sessions WHERE expires_at < now() AND note <> 'AUDIT: SESSION,1,1,READ'", null],
];

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
function csvLiteral(text: string | undefined | null): string {
  return text === undefined || text === null ? '' : `"${text.replaceAll('"', '""')}"`;
}

let clock = Date.UTC(2026, 10, 22, 8, 0, 0);
function timestamp(): string {
  clock += Math.floor(rand() * 7);
  const d = new Date(clock);
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)} UTC`;
}

function* records(): Generator<Rec> {
  let pid = 20000;
  for (;;) {
    pid++;
    const start = timestamp();
    const s: Session = {
      pid, id: `${Math.floor(clock / 1000).toString(16)}.${pid.toString(16)}`, user: pick(USERS), db: 'shop', app: pick(APPS),
      host: `10.1.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}`, port: 30000 + Math.floor(rand() * 30000),
      start: `${start.slice(0, 19)} UTC`, line: 0, statement: 0,
    };
    yield { ts: start, s, severity: 'LOG', state: '00000', message: `connection received: host=${s.host} port=${s.port}`, tag: '' };
    yield { ts: timestamp(), s, severity: 'LOG', state: '00000', tag: 'authentication',
      message: `connection authorized: user=${s.user} database=${s.db}${s.app ? ` application_name=${s.app}` : ''}` };
    const count = 20 + Math.floor(rand() * 60);
    for (let i = 0; i < count; i++) {
      const [klass, command, objectType, statement, params] = pick(STATEMENTS);
      s.statement++;
      const paramText = params === null ? '<not logged>' : params.length === 0 ? '<none>' : csvField(params.map((p) => (p === null ? '' : csvField(p))).join(','));
      const body = `${s.statement},1,${klass},${command},${objectType},${objectType ? 'public.orders' : ''},${csvField(statement)},${paramText},${Math.floor(rand() * 100)}`;
      yield { ts: timestamp(), s, severity: 'LOG', state: '00000', message: `AUDIT: SESSION,${body}`, tag: command };
      if (objectType && rand() < 0.3) yield { ts: timestamp(), s, severity: 'LOG', state: '00000', message: `AUDIT: OBJECT,${body}`, tag: command };
      if (rand() < 0.02) {
        yield { ts: timestamp(), s, severity: 'ERROR', state: '23505', message: 'duplicate key value violates unique constraint "orders_pkey"',
          detail: 'Key (order_id)=(5512) already exists.', query: statement, tag: command };
      }
    }
    yield { ts: timestamp(), s, severity: 'LOG', state: '00000', tag: 'idle',
      message: `disconnection: session time: 0:00:0${Math.floor(rand() * 9)}.${String(Math.floor(rand() * 1000)).padStart(3, '0')} user=${s.user} database=${s.db} host=${s.host} port=${s.port}` };
    if (rand() < 0.05) {
      yield { ts: timestamp(), s: null, severity: 'LOG', state: '00000', message: 'checkpoint starting: time', tag: '' };
    }
  }
}

function stderrText(r: Rec): string {
  const s = r.s;
  const head = s ? `${r.ts} [${s.pid}] ${s.user}@${s.db} ` : `${r.ts} [${9999}] `;
  let text = `${head}${r.severity}:  ${r.message.replaceAll('\n', '\n\t')}\n`;
  if (r.detail) text += `${head}DETAIL:  ${r.detail}\n`;
  if (r.query) text += `${head}STATEMENT:  ${r.query.replaceAll('\n', '\n\t')}\n`;
  return text;
}

function csvText(r: Rec): string {
  const s = r.s;
  return [r.ts, s ? csvLiteral(s.user) : '', s ? csvLiteral(s.db) : '', s?.pid ?? 9999, s ? `"${s.host}:${s.port}"` : '',
    s?.id ?? '6b0355a3.270f', s?.line ?? 1, csvLiteral(r.tag), s?.start ?? '2026-11-22 08:00:00 UTC', s ? '3/1' : '', 0,
    r.severity, r.state, csvLiteral(r.message), csvLiteral(r.detail), '', '', '', '', csvLiteral(r.query), '', '',
    s ? csvLiteral(s.app) : '', s ? '"client backend"' : '"checkpointer"', '', 0].join(',') + '\n';
}

function jsonText(r: Rec): string {
  const s = r.s;
  const o: Record<string, unknown> = { timestamp: r.ts };
  if (s) Object.assign(o, { user: s.user, dbname: s.db, pid: s.pid, remote_host: s.host, remote_port: s.port, session_id: s.id, line_num: s.line, ps: r.tag, session_start: s.start, vxid: '3/1' });
  else Object.assign(o, { pid: 9999, session_id: '6b0355a3.270f', line_num: 1, session_start: '2026-11-22 08:00:00 UTC' });
  o.txid = 0;
  o.error_severity = r.severity;
  if (r.state !== '00000') o.state_code = r.state;
  o.message = r.message;
  if (r.detail) o.detail = r.detail;
  if (r.query) o.statement = r.query;
  if (s?.app) o.application_name = s.app;
  o.backend_type = s ? 'client backend' : 'checkpointer';
  o.query_id = 0;
  return JSON.stringify(o) + '\n';
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/** Writes ≥ `mb` MB of stderr log (and the same records as csvlog and jsonlog unless `stderrOnly`) into dir. Also used by bench/ingest.ts. */
export async function generate(dir: string, mb = targetMb, stderrOnly = false): Promise<Record<'stderr' | 'csvlog' | 'jsonlog', string>> {
  const files = { stderr: path.join(dir, 'postgresql.log'), csvlog: path.join(dir, 'postgresql.csv'), jsonlog: path.join(dir, 'postgresql.json') };
  const streams = { stderr: createWriteStream(files.stderr), csvlog: createWriteStream(files.csvlog), jsonlog: createWriteStream(files.jsonlog) };
  let written = 0;
  let batch = { stderr: '', csvlog: '', jsonlog: '' };
  for (const r of records()) {
    if (r.s) r.s.line++;
    batch.stderr += stderrText(r);
    if (!stderrOnly) {
      batch.csvlog += csvText(r);
      batch.jsonlog += jsonText(r);
    }
    if (batch.stderr.length > 1 << 20) {
      written += batch.stderr.length;
      await write(streams.stderr, batch.stderr);
      await write(streams.csvlog, batch.csvlog);
      await write(streams.jsonlog, batch.jsonlog);
      batch = { stderr: '', csvlog: '', jsonlog: '' };
      if (written >= mb * 1e6) break;
    }
  }
  await Promise.all(Object.values(streams).map((s) => new Promise((resolve) => s.end(resolve))));
  return files;
}

// The formats of issue 19, written from the same records: each wraps the server's lines as its
// platform does (see src/logs/<format>.ts), so their MB/s can be set beside stderr's.
// The last three are other forms of a format, read under its name: a Heroku HTTPS drain's
// octet-counted bodies, a `gcloud logging read --format=json` array, the kubelet's CRI files.
export const MORE_FORMATS = ['syslog', 'journald', 'cloudsql', 'cnpg', 'heroku', 'azure', 'pgbouncer', 'pgauditlogtofile', 'heroku-drain', 'cloudsql-array', 'cnpg-cri'] as const;
type MoreFormat = (typeof MORE_FORMATS)[number];
type BaseFormat = Exclude<MoreFormat, 'heroku-drain' | 'cloudsql-array' | 'cnpg-cri'>;
const FORM_OF: Partial<Record<MoreFormat, BaseFormat>> = { 'heroku-drain': 'heroku', 'cloudsql-array': 'cloudsql', 'cnpg-cri': 'cnpg' };
/** The --format a generated file is parsed with. */
const formatOf = (format: MoreFormat): BaseFormat => FORM_OF[format] ?? (format as BaseFormat);
const CLOUDSQL_PREFIX = '%m [%p]: [%l-1] db=%d,user=%u ';
const MORE_PREFIX: Partial<Record<MoreFormat, string>> = { syslog: PREFIX, journald: PREFIX, cloudsql: CLOUDSQL_PREFIX, 'cloudsql-array': CLOUDSQL_PREFIX };

/** PostgreSQL's syslog chunks of one record's text: a message per line, lines over 900 bytes cut at a space. */
function chunks(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let rest = line;
    while (Buffer.byteLength(rest) > 900) {
      let cut = 900;
      while (cut > 0 && rest[cut] !== ' ') cut--;
      if (cut === 0) cut = 900;
      out.push(rest.slice(0, cut));
      rest = rest.slice(cut);
    }
    out.push(rest);
  }
  return out;
}

const seqs = new Map<number, number>();
/** The array being written for cloudsql-array has no element yet. */
let arrayEmpty = true;
function moreText(format: MoreFormat, r: Rec): string {
  if (format === 'heroku-drain' || format === 'cloudsql-array' || format === 'cnpg-cri') {
    const lines = moreText(formatOf(format), r).split('\n').filter((l) => l !== '');
    if (format === 'heroku-drain') {
      return lines.map((l) => {
        const m = /^(\S+) app\[([^\]]+)\]: (.*)$/.exec(l)!;
        const message = `<134>1 ${m[1]} host app ${m[2]} - ${m[3]}\n`;
        return `${Buffer.byteLength(message)} ${message}`;
      }).join('');
    }
    if (format === 'cnpg-cri') return lines.map((l) => `${r.ts.slice(0, 10)}T${r.ts.slice(11, 23)}000000Z stdout F ${l}\n`).join('');
    return lines.map((l) => {
      const entry = `${arrayEmpty ? '' : ',\n'}${JSON.stringify(JSON.parse(l), null, 2)}`;
      arrayEmpty = false;
      return entry;
    }).join('');
  }
  const s = r.s;
  const pid = s?.pid ?? 9999;
  const iso = `${r.ts.slice(0, 10)}T${r.ts.slice(11, 23)}Z`;
  switch (format) {
    case 'syslog': case 'journald': case 'heroku': {
      const seq = (seqs.get(pid) ?? 0) + 1;
      seqs.set(pid, seq);
      let body = stderrText(r);
      if (format === 'heroku') body = body.split('\n').map((l) => l.replace(/^.*? (?=(?:LOG|ERROR|DETAIL|STATEMENT): {2})/, `sql_error_code = ${r.state} `)).join('\n');
      return chunks(body).map((chunk, i) => {
        const message = `[${seq}-${i + 1}] ${chunk}`;
        if (format === 'syslog') return `Nov 22 ${r.ts.slice(11, 19)} db1 postgres[${pid}]: ${message.replace('] \t', '] #011')}\n`;
        if (format === 'heroku') return `${iso.slice(0, -1)}000+00:00 app[postgres.${pid}]: [DATABASE] ${message}\n`;
        return JSON.stringify({ __REALTIME_TIMESTAMP: String(Date.parse(iso) * 1000), _HOSTNAME: 'db1', SYSLOG_IDENTIFIER: 'postgres', _PID: String(pid), PRIORITY: '6', MESSAGE: message }) + '\n';
      }).join('');
    }
    case 'cloudsql': {
      const head = `${r.ts} [${pid}]: [${s?.line ?? 1}-1] db=${s?.db ?? ''},user=${s?.user ?? ''} `;
      const resource = { type: 'cloudsql_database', labels: { database_id: 'proj:db1', project_id: 'proj', region: 'europe-west1' } };
      const entry = (textPayload: string) => JSON.stringify({ insertId: 'x', logName: 'projects/proj/logs/cloudsql.googleapis.com%2Fpostgres.log', resource, severity: 'INFO', textPayload, timestamp: iso }) + '\n';
      let out = entry(`${head}${r.severity}:  ${r.message.replaceAll('\n', '\n\t')}`);
      if (r.detail) out += entry(`${head}DETAIL:  ${r.detail}`);
      if (r.query) out += entry(`${head}STATEMENT:  ${r.query.replaceAll('\n', '\n\t')}`);
      return out;
    }
    case 'cnpg': {
      const record: Record<string, string> = { log_time: r.ts, process_id: String(pid), session_id: s?.id ?? '6b0355a3.270f', session_line_num: String(s?.line ?? 1),
        command_tag: r.tag, error_severity: r.severity, sql_state_code: r.state, message: r.message, backend_type: s ? 'client backend' : 'checkpointer' };
      if (s) Object.assign(record, { user_name: s.user, database_name: s.db, connection_from: `${s.host}:${s.port}`, application_name: s.app });
      if (r.detail) record.detail = r.detail;
      if (r.query) record.query = r.query;
      return JSON.stringify({ level: 'info', ts: iso, logger: 'postgres', msg: 'record', logging_pod: 'cluster-1', record }) + '\n';
    }
    case 'azure':
      return JSON.stringify({ time: iso, resourceId: '/SUBSCRIPTIONS/0/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.DBFORPOSTGRESQL/FLEXIBLESERVERS/PG1', category: 'PostgreSQLLogs',
        operationName: 'LogEvent', properties: { prefix: `${r.ts.slice(0, 19)} UTC-${s?.id ?? '6b0355a3.270f'}-`, message: r.message, detail: r.detail ?? '', errorLevel: r.severity,
          domain: 'postgres-16', processId: pid, sqlerrcode: r.state }, LogicalServerName: 'pg1' }) + '\n';
    case 'pgbouncer': {
      if (!s) return `${r.ts} [812] LOG stats: 921 xacts/s, 1992 queries/s, in 249055 B/s, out 4230871 B/s, xact 13340 us, query 191 us, wait 0 us\n`;
      const who = `C-0x55d1c0a2${s.pid.toString(16)}: ${s.db}/${s.user}@${s.host}:${s.port}`;
      if (r.message.startsWith('connection received')) return `${r.ts} [812] LOG ${who} login attempt: db=${s.db} user=${s.user} tls=no replication=no\n`;
      if (r.message.startsWith('disconnection')) return `${r.ts} [812] LOG ${who} closing because: client close request (age=${Math.floor(rand() * 100)}s)\n`;
      if (r.severity === 'ERROR') return `${r.ts} [812] WARNING ${who} pooler error: query_wait_timeout\n`;
      return '';
    }
    case 'pgauditlogtofile': {
      if (!s) return '';
      const head = [r.ts, s.user, s.db, s.pid, `${s.host}:${s.port}`, s.id, s.line, r.tag, s.start, '3/1', 0, r.state].join(',');
      if (r.message.startsWith('AUDIT: ')) return `${head},${r.message.slice(7)},,,,,,,,,${s.app}\n`;
      if (r.message.startsWith('connection') || r.message.startsWith('disconnection')) return `${head},${r.message},,,,,,,,,${s.app}\n`;
      return '';
    }
  }
}

/** Writes ≥ `mb` MB of each of MORE_FORMATS into dir (the same records, from the start). */
export async function generateMore(dir: string, mb: number): Promise<Record<MoreFormat, string>> {
  seed = 42;
  const files = Object.fromEntries(MORE_FORMATS.map((f) => [f, path.join(dir, `more.${f}`)])) as Record<MoreFormat, string>;
  for (const format of MORE_FORMATS) {
    const stream = createWriteStream(files[format]);
    let written = 0;
    let batch = format === 'cloudsql-array' ? '[\n' : '';
    arrayEmpty = true;
    for (const r of records()) {
      if (r.s) r.s.line++;
      batch += moreText(format, r);
      if (batch.length > 1 << 20) {
        written += batch.length;
        await write(stream, batch);
        batch = '';
        if (written >= mb * 1e6) break;
      }
    }
    if (format === 'cloudsql-array') await write(stream, '\n]\n');
    await new Promise((resolve) => stream.end(resolve));
  }
  return files;
}

function timed(command: string, argv: string[]): Promise<{ seconds: number; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ seconds: Number(process.hrtime.bigint() - started) / 1e9, stderr, code }));
  });
}

/** Runs a command --repeat times, failing if any run fails: the fastest run's seconds, every run's, and the last run's stderr. */
async function fastest(command: string, argv: string[], what: string): Promise<{ best: number; times: number[]; stderr: string }> {
  const times: number[] = [];
  let stderr = '';
  for (let i = 0; i < repeat; i++) {
    const run = await timed(command, argv);
    if (run.code !== 0) throw new Error(`${what} failed: ${run.stderr}`);
    times.push(run.seconds);
    stderr = run.stderr;
  }
  return { best: Math.min(...times), times, stderr };
}

/**
 * Times `pgwarden parse` on each generated file (JSON lines with the default threads and with
 * one, and `--count` on stderr) and pgBadger on the stderr file, printing MB/s, events/s and the
 * ratios. Also run by bench/ingest.ts, so that one run gives the issue's whole set of figures.
 */
export async function measureParsing(dir: string, files: Record<'stderr' | 'csvlog' | 'jsonlog', string>): Promise<void> {
  const jobs = Math.min(os.availableParallelism(), 4);
  const rate = (mb: number, seconds: number) => mb / seconds;
  const parseRun = async (format: 'stderr' | 'csvlog' | 'jsonlog', extra: string[]) => {
    const mb = statSync(files[format]).size / 1e6;
    const { best, times, stderr } = await fastest(process.execPath, [BIN, 'parse', files[format], '--format', format, ...(format === 'stderr' ? ['--prefix', PREFIX] : []), ...extra], 'pgwarden parse');
    // Parsing is deterministic: every run reports what the last one did.
    const events = Number(/(\d+) events/.exec(stderr)?.[1] ?? 0);
    const errors = Number(/(\d+) parse errors?/.exec(stderr)?.[1] ?? -1);
    if (errors !== 0) throw new Error(`pgwarden parse reported ${errors} parse errors on the generated ${format} log: ${stderr}`);
    const what = `pgwarden parse ${format.padEnd(7)} ${extra.join(' ').padEnd(18)}`;
    console.log(`${what} ${mb.toFixed(0)} MB in ${best.toFixed(2)} s: ${rate(mb, best).toFixed(1)} MB/s, ${Math.round(events / best)} events/s (${events} events; runs ${seconds(times)})`);
    return rate(mb, best);
  };
  console.log(`${os.cpus().length} CPUs; pgwarden parse uses ${jobs} parsing threads by default (--jobs); each figure is the fastest of ${repeat} runs (--repeat), pgBadger's too`);
  const ours: Record<string, number> = {};
  for (const format of ['stderr', 'csvlog', 'jsonlog'] as const) {
    ours[format] = await parseRun(format, []);
    await parseRun(format, ['--jobs', '1']);
  }
  ours.count = await parseRun('stderr', ['--count']);
  ours.count1 = await parseRun('stderr', ['--count', '--jobs', '1']);
  // The formats of issue 19 (a quarter of the size: most are read in one piece, on one thread).
  const more = await generateMore(dir, Math.max(10, Math.round(targetMb / 4)));
  for (const format of MORE_FORMATS) {
    const mb = statSync(more[format]).size / 1e6;
    const prefix = MORE_PREFIX[format];
    const { best, times, stderr } = await fastest(process.execPath, [BIN, 'parse', more[format], '--format', formatOf(format), ...(prefix ? ['--prefix', prefix] : []), '--count'], `pgwarden parse --format ${format}`);
    const events = Number(/(\d+) events/.exec(stderr)?.[1] ?? 0);
    const errors = Number(/(\d+) parse errors?/.exec(stderr)?.[1] ?? -1);
    if (errors !== 0) throw new Error(`pgwarden parse reported ${errors} parse errors on the generated ${format} log: ${stderr}`);
    console.log(`pgwarden parse ${format.padEnd(16)} --count ${mb.toFixed(0)} MB in ${best.toFixed(2)} s: ${rate(mb, best).toFixed(1)} MB/s (stderr --count: ${ours.count!.toFixed(1)} MB/s with ${jobs} threads, ${ours.count1!.toFixed(1)} with 1), ${Math.round(events / best)} events/s (runs ${seconds(times)})`);
  }
  const hasPgbadger = spawnSync('pgbadger', ['--version']).status === 0;
  if (!hasPgbadger) {
    console.log('pgbadger is not installed (apt-get install pgbadger): no ratio');
    return;
  }
  const mb = statSync(files.stderr).size / 1e6;
  const peer: Record<number, number> = {};
  for (const j of [...new Set([1, jobs])]) {
    const out = path.join(dir, `pgbadger-${j}.txt`);
    const { best, times } = await fastest('pgbadger', ['-q', '-j', String(j), '-f', 'stderr', '--prefix', PREFIX, '-o', out, files.stderr], 'pgbadger');
    peer[j] = rate(mb, best);
    console.log(`pgbadger -j ${j} (text report)          ${mb.toFixed(0)} MB in ${best.toFixed(2)} s: ${peer[j]!.toFixed(1)} MB/s (runs ${seconds(times)})`);
  }
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  const verdict = (a: number) => (a / peer[1]! >= 20 ? 'met' : 'NOT met');
  console.log('ratios on the same stderr file (target ≥ 20× pgbadger):');
  console.log(`  parse → JSON lines, ${jobs} threads / pgbadger -j 1: ${ratio(ours.stderr!, peer[1]!)} (${verdict(ours.stderr!)}); / pgbadger -j ${jobs}: ${ratio(ours.stderr!, peer[jobs]!)}`);
  console.log(`  parse --count (parse and summarise, as pgbadger does), ${jobs} threads / pgbadger -j 1: ${ratio(ours.count!, peer[1]!)} (${verdict(ours.count!)}); / pgbadger -j ${jobs}: ${ratio(ours.count!, peer[jobs]!)}`);
  console.log(`  parse --count, 1 thread / pgbadger -j 1: ${ratio(ours.count1!, peer[1]!)}`);
}

// Run as a script (not when bench/ingest.ts imports it).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-parse-'));
  try {
    console.log(`generating ≥ ${targetMb} MB of pgAudit traffic per format in ${dir} …`);
    await measureParsing(dir, await generate(dir));
  } finally {
    if (args.includes('--keep')) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
