// `pgwarden collect` as a user runs it, on generated PostgreSQL 15 + pgAudit stderr lines:
// rotation by rename and by copytruncate, checkpoints that survive kill -9, per-sink filters
// and redaction, and config mistakes.
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, waitFor } from '../harness/cli.ts';
import { ids, lines, range, readEvents, startCollect } from './collect-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-collect-'));
after(() => rmSync(root, { recursive: true, force: true }));

function setup(name: string, sinks: string, pattern = 'postgresql*.log*', batch = 'batch: { window_seconds: 0, max_events: 100 }') {
  const dir = join(root, name);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const config = join(dir, 'pgwarden.yaml');
  writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${join(dir, 'logs')}, pattern: '${pattern}', server: db1, state_dir: ${join(dir, 'state')}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
${sinks.replaceAll('DIR', dir)}
  ${batch}
`);
  return { dir, logs: join(dir, 'logs'), config };
}

function unique<T>(values: T[]): boolean {
  return new Set(values).size === values.length;
}

describe('pgwarden collect', () => {
  it('follows rotation by rename and a new file, then by copytruncate, without loss or duplicates', async () => {
    const { dir, logs, config } = setup('rotation', '    out: { type: jsonl, path: DIR/out.jsonl }');
    const out = join(dir, 'out.jsonl');
    writeFileSync(join(logs, 'postgresql.log'), lines(1, 50));
    const daemon = startCollect(config);
    try {
      await waitFor(async () => readEvents(out).length >= 50, 20_000, '50 events');
      // logrotate (create mode): rename; the server still writes a little to the old file, then reopens
      renameSync(join(logs, 'postgresql.log'), join(logs, 'postgresql.log.1'));
      appendFileSync(join(logs, 'postgresql.log.1'), lines(51, 60));
      writeFileSync(join(logs, 'postgresql.log'), lines(61, 100));
      await waitFor(async () => readEvents(out).length >= 100, 20_000, '100 events');
      // copytruncate: copy away (a name the pattern does not match), truncate, write on
      copyFileSync(join(logs, 'postgresql.log'), join(logs, 'archived-postgresql.log.2'));
      truncateSync(join(logs, 'postgresql.log'), 0);
      appendFileSync(join(logs, 'postgresql.log'), lines(101, 120));
      await waitFor(async () => readEvents(out).length >= 120, 20_000, '120 events');
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const events = readEvents(out);
    assert.deepEqual([...ids(events)].sort((a, b) => a - b), range(1, 120), 'every record once');
    // in order within each file
    for (const input of new Set(events.map((e) => e.source.input))) {
      const positions = events.filter((e) => e.source.input === input).map((e) => e.source.position);
      assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `in order in ${input}`);
    }
    assert.ok(unique(events.map((e) => `${e.source.input}@${e.source.position}`)), '(input, position) identifies every record, across rename and truncation');
    const old = events.find((e) => e.audit!.statement_id === 55)!;
    assert.equal(old.source.input, join(logs, 'postgresql.log'), 'a renamed file keeps the name it was first read under');
    const second = events.find((e) => e.audit!.statement_id === 61)!;
    assert.equal(second.source.input, `${join(logs, 'postgresql.log')}#2`, 'a new file under a used name gets a new input');
    const truncated = events.find((e) => e.audit!.statement_id === 101)!;
    assert.equal(truncated.source.position, 0);
    assert.equal(truncated.source.line, 1);
    assert.equal(truncated.source.input, `${join(logs, 'postgresql.log')}#3`, 'a truncated file starts a new input');
    assert.equal(events.find((e) => e.audit!.statement_id === 60)!.source.line, 60, 'line numbers count from the start of the file');
  });

  it('resumes from durable checkpoints after kill -9, with no gap; duplicates only from the batch in flight', async () => {
    const { dir, logs, config } = setup('kill9', '    out: { type: jsonl, path: DIR/out.jsonl }', 'postgresql-*.log', 'batch: { window_seconds: 0, max_events: 50 }');
    const out = join(dir, 'out.jsonl');
    const total = 12_000;
    writeFileSync(join(logs, 'postgresql-1.log'), lines(1, 8000));
    let appended = 8000;
    const kills: number[] = [];
    for (const threshold of [1500, 4000, 7000]) {
      const daemon = startCollect(config);
      await waitFor(async () => readEvents(out).length >= threshold, 60_000, `${threshold} events`);
      assert.equal(await daemon.stop('SIGKILL'), 'SIGKILL');
      kills.push(readEvents(out).length);
      // the log goes on while nobody collects
      appendFileSync(join(logs, 'postgresql-1.log'), lines(appended + 1, appended + 1000));
      appended += 1000;
    }
    assert.equal(appended, 11_000);
    writeFileSync(join(logs, 'postgresql-2.log'), lines(11_001, total));
    const daemon = startCollect(config);
    await waitFor(async () => new Set(ids(readEvents(out))).size >= total, 60_000, `all ${total} events`);
    assert.equal(await daemon.stop('SIGTERM'), 0, 'SIGTERM finishes the batch in flight and exits 0');
    const events = readEvents(out);
    const seen = ids(events);
    assert.deepEqual([...new Set(seen)].sort((a, b) => a - b), range(1, total), 'no gap');
    const duplicates = seen.length - new Set(seen).size;
    assert.ok(duplicates <= 3 * 50, `at most one batch (50) sent twice per kill; ${duplicates} duplicates`);
    // every duplicate is a re-sent copy of a contiguous batch: the first copy of each event comes in order
    const firsts = seen.filter((id, i) => seen.indexOf(id) === i);
    // (per file: postgresql-2.log is read alongside the end of postgresql-1.log, so the two interleave)
    assert.deepEqual(firsts.filter((id) => id <= 11_000), range(1, 11_000), 'the first copies are in log order within postgresql-1.log');
    assert.deepEqual(firsts.filter((id) => id > 11_000), range(11_001, total), 'and within postgresql-2.log');
    // a clean stop left nothing to send twice
    const before = readFileSync(out, 'utf8');
    const again = startCollect(config);
    // (running first: a SIGTERM before collect listens for it ends the process by the signal)
    await waitFor(async () => /"msg":"collecting"/.test(again.stderr()), 60_000, 'collect running');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(await again.stop('SIGTERM'), 0);
    assert.equal(readFileSync(out, 'utf8'), before, 'after SIGTERM and restart nothing is sent again');
    process.stdout.write(`# kill -9 after ${kills.join(', ')} delivered events: ${duplicates} duplicates in ${seen.length} lines\n`);
  });

  it('applies each sink\'s filter and redaction before the sink sees an event', async () => {
    const { dir, logs, config } = setup('filters', `    all: { type: jsonl, path: DIR/all.jsonl }
    writes:
      type: jsonl
      path: DIR/writes.jsonl
      filter: { include: { classes: [WRITE] }, exclude: { users: [etl] }, event_filter: '?delete ?insert' }
      redact: { literals: true, parameters: true }`);
    writeFileSync(join(logs, 'postgresql-1.log'),
      lines(1, 10) + lines(11, 20, { klass: 'READ' }) + lines(21, 30, { user: 'etl' }) + lines(31, 40, { command: 'DELETE' }) + lines(41, 50, { command: 'UPDATE' }));
    const daemon = startCollect(config);
    try {
      await waitFor(async () => readEvents(join(dir, 'all.jsonl')).length >= 50, 20_000, 'all 50 events');
      await waitFor(async () => readEvents(join(dir, 'writes.jsonl')).length >= 20, 20_000, '20 filtered events');
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0);
    }
    const all = readEvents(join(dir, 'all.jsonl'));
    assert.deepEqual(ids(all), range(1, 50));
    assert.match(JSON.stringify(all), /secret-1'/, 'the unfiltered sink gets the statements as logged');
    const writes = readEvents(join(dir, 'writes.jsonl'));
    assert.deepEqual(ids(writes), [...range(1, 10), ...range(31, 40)], 'WRITE, not etl, INSERT or DELETE');
    const text = JSON.stringify(writes);
    assert.ok(!/secret-|param-\d/.test(text), 'no literal or parameter reaches the redacted sink');
    assert.equal(writes[0]!.audit!.statement, 'INSERT INTO public.orders VALUES (?, ?, $1)');
    assert.deepEqual(writes[0]!.audit!.parameters, ['?']);
    assert.equal(writes[10]!.audit!.statement, 'DELETE FROM public.orders WHERE id = ?');
    // filtered events were settled too: the checkpoint of `writes` is at the last record
    const state = JSON.parse(readFileSync(join(dir, 'state', 'logfile-pglog.json'), 'utf8')) as { files: Record<string, { sinks: Record<string, { offset: number; delivered: boolean }> }> };
    const file = Object.values(state.files)[0]!;
    assert.deepEqual(file.sinks.writes, file.sinks.all);
    assert.equal(file.sinks.writes!.delivered, true);
  });

  it('writes JSON lines to standard output with path: -, diagnostics to standard error', async () => {
    const { logs, config } = setup('stdout', "    out: { type: jsonl, path: '-' }");
    writeFileSync(join(logs, 'postgresql-1.log'), lines(1, 25));
    const daemon = startCollect(config);
    try {
      await waitFor(async () => daemon.stdout().split('\n').length > 25, 20_000, '25 lines on standard output');
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0);
    }
    const events = daemon.stdout().trim().split('\n').map((line) => JSON.parse(line) as { audit: { statement_id: number } });
    assert.deepEqual(events.map((e) => e.audit.statement_id), range(1, 25));
    assert.match(daemon.stderr(), /"msg":"collecting"/);
  });

  it('says what is wrong with the config in one line', async () => {
    const noSink = join(root, 'nosink.yaml');
    writeFileSync(noSink, `pipeline:\n  sources:\n    pglog: { type: logfile, path: ${root}, server: db1 }\n`);
    const a = await runCli(['collect', '--config', noSink]);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /pipeline\.sinks: no sink is configured, so the events of pglog would go nowhere/);
    assert.doesNotMatch(a.stderr, /\n\s+at /, 'no stack trace');
    const badPath = join(root, 'badpath.yaml');
    writeFileSync(badPath, `pipeline:\n  sources:\n    pglog: { type: logfile, path: ${join(root, 'nope')}, server: db1, state_dir: ${join(root, 'st')} }\n  sinks:\n    out: { type: jsonl, path: '-' }\n`);
    const b = await runCli(['collect', '--config', badPath]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /pipeline\.sources\.pglog\.path: .*nope: ENOENT/);
    const badPrefix = join(root, 'badprefix.yaml');
    writeFileSync(badPrefix, `pipeline:\n  sources:\n    pglog: { type: logfile, path: ${root}, server: db1, prefix: '%m [%p] %', state_dir: ${join(root, 'st')} }\n  sinks:\n    out: { type: jsonl, path: '-' }\n`);
    const d = await runCli(['collect', '--config', badPrefix]);
    assert.equal(d.code, 2);
    assert.match(d.stderr, /pipeline\.sources\.pglog\.prefix: .*ends with a lone %/);
    const badKey = join(root, 'badkey.yaml');
    writeFileSync(badKey, `pipeline:\n  sinks:\n    out: { type: jsonl, path: '-', redact: { literal: true } }\n`);
    const c = await runCli(['collect', '--config', badKey]);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /badkey\.yaml:3: pipeline\.sinks\.out\.redact\.literal: unknown key \(allowed here: literals, parameters\)/);
  });
});
