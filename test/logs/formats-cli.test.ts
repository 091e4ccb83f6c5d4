// Every format of issue 19 through the CLI and collect: `parse --format F` and `--format auto`
// read a small sample of each without a parse error, a logfile source takes each as `format:`,
// and `collect` follows a syslog file (prefix recognised) and a pgBouncer log (auto) into a sink.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig } from '../../src/core/config.ts';
import { LOG_FORMATS } from '../../src/logs/index.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { readEvents, startCollect } from '../pipeline/collect-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-formats-'));
after(() => rmSync(root, { recursive: true, force: true }));

const P = '2026-12-02 02:04:37.123 UTC [4242] alice@shop ';
const j = JSON.stringify;
const SAMPLES: Record<string, string> = {
  syslog: `Dec  2 02:04:37 db1 postgres[4242]: [7-1] ${P}LOG:  connection authorized: user=alice database=shop\nDec  2 02:04:38 db1 postgres[4242]: [8-1] ${P}LOG:  statement: SELECT 1\n`,
  journald: `${j({ __REALTIME_TIMESTAMP: '1764641077123456', _HOSTNAME: 'db1', SYSLOG_IDENTIFIER: 'postgres', _PID: '4242', MESSAGE: `[7-1] ${P}LOG:  statement: SELECT 1` })}\n`,
  cloudsql: `${j({ resource: { type: 'cloudsql_database', labels: { database_id: 'p:i' } }, timestamp: '2026-12-02T02:04:37Z', textPayload: '2026-12-02 02:04:37.123 UTC [4242]: [1-1] db=shop,user=alice LOG:  statement: SELECT 1' })}\n`,
  cnpg: `${j({ level: 'info', ts: '2026-12-02T02:04:37Z', logger: 'postgres', msg: 'record', logging_pod: 'c-1', record: { log_time: '2026-12-02 02:04:37.123 UTC', error_severity: 'LOG', message: 'statement: SELECT 1' } })}\n`,
  heroku: '2026-12-02T02:04:37.123456+00:00 app[postgres.4242]: [DATABASE] [9-1] sql_error_code = 00000 LOG:  statement: SELECT 1\n',
  azure: `${j({ time: '2026-12-02T02:04:37Z', resourceId: '/X/FLEXIBLESERVERS/PG1', category: 'PostgreSQLLogs', properties: { prefix: '2026-12-02 02:04:37 UTC-6b0f7e83.786f-', message: 'statement: SELECT 1', errorLevel: 'LOG', processId: 1, sqlerrcode: '00000' } })}\n`,
  pgbouncer: '2026-12-02 02:16:29.319 UTC [6970] LOG C-0x55fe94592720: appdb/app@127.0.0.1:59666 login attempt: db=appdb user=app tls=no\n2026-12-02 02:16:29.374 UTC [6970] LOG C-0x55fe94592720: appdb/app@127.0.0.1:59666 closing because: client close request (age=0s)\n',
  pgauditlogtofile: '2026-12-02 02:19:55.644 UTC,app,postgres,12966,127.0.0.1:48724,6b0f804b.32a6,4,SELECT,2026-12-02 02:19:55 UTC,3/6,0,00000,SESSION,1,1,READ,SELECT,,,SELECT 1,<none>,,,,,,,,,psql\n',
};

describe('the new formats through the CLI and collect', () => {
  it('parse reads each sample with --format F and with --format auto, without a parse error', async () => {
    for (const [format, text] of Object.entries(SAMPLES)) {
      assert.ok((LOG_FORMATS as readonly string[]).includes(format));
      const file = join(root, `sample.${format}`);
      writeFileSync(file, text);
      for (const asked of [format, 'auto']) {
        const result = await runCli(['parse', file, '--format', asked, '--prefix', format === 'cloudsql' ? '%m [%p]: [%l-1] db=%d,user=%u ' : '%m [%p] %q%u@%d ']);
        assert.equal(result.code, 0, `${format} (${asked}): ${result.stderr}`);
        assert.match(result.stderr, / 0 parse errors/, `${format} (${asked})`);
        assert.ok(result.stdout.trim().split('\n').length >= 1, `${format} (${asked}): events`);
      }
    }
  });

  it('parse says when the prefix inside syslog lines is not recognised (their fields would be null)', async () => {
    const file = join(root, 'odd-prefix.syslog');
    writeFileSync(file, 'Dec  2 02:04:37 db1 postgres[4242]: [7-1] <<4242>> LOG:  statement: SELECT 1\n');
    const result = await runCli(['parse', file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /syslog log with a log_line_prefix pgwarden does not recognise/);
  });

  it('a logfile source takes each format; an unknown one is refused with the list', () => {
    for (const format of LOG_FORMATS) {
      const config = parseConfig(`pipeline:\n  sources:\n    pglog: { type: logfile, path: /var/log/x, server: db1, format: ${format} }\n  sinks:\n    out: { type: jsonl, path: '-' }\n`);
      assert.equal((config.pipeline!.sources!.pglog as { format: string }).format, format);
    }
    assert.throws(() => parseConfig('pipeline:\n  sources:\n    pglog: { type: logfile, path: /var/log/x, server: db1, format: logplex }\n  sinks:\n    out: { type: jsonl, path: \'-\' }\n'), /pgbouncer/);
  });

  it('collect follows a syslog file and a pgBouncer log', async () => {
    const dir = join(root, 'collect');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'logs', 'syslog.log'), SAMPLES.syslog!);
    writeFileSync(join(dir, 'logs', 'pgbouncer.log'), SAMPLES.pgbouncer!);
    const config = join(dir, 'pgwarden.yaml');
    writeFileSync(config, `pipeline:
  sources:
    sys: { type: logfile, path: ${join(dir, 'logs')}, pattern: 'syslog.log', format: syslog, server: db1, state_dir: ${join(dir, 'st1')}, idle_flush_ms: 200, poll_ms: 100 }
    bouncer: { type: logfile, path: ${join(dir, 'logs')}, pattern: 'pgbouncer.log', server: b1, state_dir: ${join(dir, 'st2')}, idle_flush_ms: 200, poll_ms: 100 }
  sinks:
    out: { type: jsonl, path: ${join(dir, 'out.jsonl')} }
  batch: { window_seconds: 0, max_events: 100 }
`);
    const daemon = startCollect(config);
    try {
      await waitFor(async () => readEvents(join(dir, 'out.jsonl')).length >= 4, 20_000, 'the four events');
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const events = readEvents(join(dir, 'out.jsonl'));
    const kinds = events.map((e) => `${e.server}:${e.kind}:${e.user}`).sort();
    assert.deepEqual(kinds, ['b1:connection_received:app', 'b1:disconnection:app', 'db1:connection_authorized:alice', 'db1:log:alice']);
  });
});
