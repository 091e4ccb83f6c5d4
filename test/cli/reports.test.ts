// What a DBA sees of the CLI on a terminal and in a pipe, against a real PostgreSQL 18 with
// pgwarden installed: `report ddl` shortens statement text in a table (and keeps it whole in CSV and
// JSON), a reader that stops reading (`| head -1`) ends parse, report and guard list quietly, and
// ingest on a terminal (a pty from script(1)) shows its rate and ETA.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { installedCluster, pgEnv, runCli } from '../harness/cli.ts';
import type { Cluster } from '../harness/postgres.ts';

const BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));

/** Runs pgwarden with its standard output closed by the reader at once, as `| head -0` would. */
function withClosedOutput(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, PGWARDEN_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    // a pgwarden that never ends fails the test instead of holding the run
    const timer = setTimeout(() => { stderr += '[killed after 60 s]'; child.kill('SIGKILL'); }, 60_000);
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
  });
}

describe('the CLI in a terminal and in a pipe', () => {
  let cluster: Cluster;
  let dir: string;
  let log: string;
  const EVENTS = 60_000;
  // a migration script: two statements in one query, with a long comment, as tools send them
  const script = `/* migration 2026-11-30: ${'rebuild the ledger tables so that refunds keep their original order id; '.repeat(6)}*/
    CREATE TABLE ledger_new (id bigint PRIMARY KEY, amount numeric NOT NULL); DROP TABLE ledger_new;`;

  before(async () => {
    cluster = await installedCluster('pg18');
    dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-reports-'));
    log = path.join(dir, 'big.log');
    const line = (i: number) => `2026-11-01 08:00:${String(i % 60).padStart(2, '0')}.123 UTC [${1000 + (i % 50)}] alice@shop LOG:  AUDIT: SESSION,${i},1,READ,SELECT,,,"SELECT ${i} FROM t",<not logged>\n`;
    writeFileSync(log, Array.from({ length: EVENTS }, (_, i) => line(i)).join(''));
    const client = new pg.Client({ connectionString: cluster.url() });
    await client.connect();
    await client.query(script);
    await client.end();
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('report ddl: a table row shows the start of the statement; CSV and JSON carry all of it', async () => {
    const table = await runCli(['report', 'ddl'], pgEnv(cluster));
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    // the table, its primary key's index, the drop
    assert.equal(lines.length, 2 + 3, table.stdout);
    for (const line of lines) assert.ok(line.length < 300, `${line.length} characters: ${line}`);
    for (const line of lines.slice(2)) assert.match(line, /\/\* migration 2026-11-30: rebuild the ledger tables.*…$/);
    const json = await runCli(['report', 'ddl', '--format', 'json'], pgEnv(cluster));
    const rows = JSON.parse(json.stdout) as { statement: string; command_tag: string }[];
    assert.deepEqual(rows.map((r) => r.command_tag), ['CREATE TABLE', 'CREATE INDEX', 'DROP TABLE']);
    for (const row of rows) assert.equal(row.statement, script);
    const csv = await runCli(['report', 'ddl', '--format', 'csv'], pgEnv(cluster));
    assert.ok(csv.stdout.includes(script.replaceAll('"', '""')), 'the whole statement in the CSV');
  });

  it('parse big.log | head -1: the first event, then a quiet exit 0', async () => {
    for (const jobs of ['1', '2']) {
      const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const child = spawn('sh', ['-c', `timeout -s KILL 60 "${process.execPath}" "${BIN}" parse -j ${jobs} "${log}" | head -1`], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      assert.equal(result.stdout.split('\n').length, 2, 'one line');
      assert.equal((JSON.parse(result.stdout) as { audit: { statement: string } }).audit.statement, 'SELECT 0 FROM t');
      assert.equal(result.stderr, '', `-j ${jobs}: nothing on standard error`);
    }
    // and the exit code of pgwarden itself, not head's
    const direct = await withClosedOutput(['parse', log], {});
    assert.deepEqual(direct, { code: 0, stderr: '' });
  });

  it('tail -f | parse - | head -1: ends (exit 0, nothing said) once its reader has gone, though its input stays open', async () => {
    const child = spawn(process.execPath, [BIN, 'parse', '-'], { env: { ...process.env, PGWARDEN_CONFIG: '' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdin.on('error', () => { /* pgwarden stopped reading: expected */ });
    // the writer (tail -f) keeps standard input open and never ends it
    child.stdin.write(readFileSync(log).subarray(0, 1 << 20));
    const first = await new Promise<string>((resolve, reject) => {
      setTimeout(() => reject(new Error(`no event on standard output after 20 s: ${stderr}`)), 20_000).unref();
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        if (!out.includes('\n')) return;
        child.stdout.off('data', onData);
        child.stdout.destroy();
        resolve(out.slice(0, out.indexOf('\n')));
      };
      child.stdout.on('data', onData);
    });
    assert.equal((JSON.parse(first) as { audit: { statement: string } }).audit.statement, 'SELECT 0 FROM t');
    // no more input comes for now (a quiet server under tail -f): what is left of the first MB is
    // still parsed and written, and that write finds the reader gone
    const code = await new Promise<number | null | 'still running'>((resolve) => {
      const timer = setTimeout(() => { resolve('still running'); child.kill('SIGKILL'); }, 20_000);
      child.on('close', (c) => { clearTimeout(timer); resolve(c); });
    });
    child.stdin.destroy();
    assert.deepEqual({ code, stderr }, { code: 0, stderr: '' });
  });

  it('report and guard list end quietly (exit 0) when the reader has gone', async () => {
    for (const args of [['report', 'ddl'], ['report', 'connections'], ['guard', 'list'], ['report', 'ddl', '--format', 'json']]) {
      const result = await withClosedOutput(args, pgEnv(cluster));
      assert.deepEqual(result, { code: 0, stderr: '' }, args.join(' '));
    }
  });

  it('ingest on a terminal: percent, MB/s, events/s and the ETA', async () => {
    await cluster.createDatabase('repo');
    const command = [process.execPath, BIN, 'ingest', '--prefix', '%m [%p] %q%u@%d ', '--repo', cluster.url('repo'), log].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      // script(1) runs the command on a pseudo-terminal, as a DBA's shell would
      const child = spawn('script', ['-qfec', `timeout -s KILL 120 ${command}`, '/dev/null'], { env: { ...process.env, PGWARDEN_CONFIG: '', TERM: 'xterm', COLUMNS: '160' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out }));
    });
    assert.equal(result.code, 0, result.out);
    // terminal control sequences (cursor save/restore, erase line) as line breaks
    const screen = result.out.replace(new RegExp(`${String.fromCharCode(27)}(\\[[0-9;?]*[A-Za-z]|[78])`, 'g'), '\n');
    const mb = (statSync(log).size / 1e6).toFixed(1);
    assert.match(screen, /ingest \[[^\]]+\] \d+% \| \d+\.\d\/\d+\.\d MB, \d+\.\d MB\/s \| \d+ events, \d+\/s \| ETA \d+s/, screen);
    assert.match(screen, new RegExp(`ingest \\[[^\\]]+\\] 100% \\| ${mb}/${mb} MB, \\d+\\.\\d MB/s \\| ${EVENTS} events, \\d+/s \\| ETA 0s`), screen);
    assert.match(screen, new RegExp(`ingested 1 input, .* ${EVENTS} events \\(audit ${EVENTS}\\)`));
  });
});
