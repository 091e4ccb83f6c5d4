// `pgwarden collect` on the log directory of a real PostgreSQL 15 + pgAudit (logging_collector,
// stderr and csvlog side by side), through a log rotation (pg_rotate_logfile), into a JSON lines
// file and a syslog receiver (TCP, RFC 6587 octet counting) with a filter and redaction.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { waitFor } from '../harness/cli.ts';
import { startCluster, type Cluster } from '../harness/postgres.ts';
import { readEvents, startCollect } from './collect-helpers.ts';

describe('pgwarden collect on a real PostgreSQL 15 + pgAudit log directory', () => {
  let cluster: Cluster;
  const root = mkdtempSync(join(tmpdir(), 'pgwarden-collect-pg15-'));
  const syslog: string[] = [];
  const receiver = createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const space = buffer.indexOf(0x20);
        if (space < 0) return;
        const length = Number(buffer.subarray(0, space).toString('ascii'));
        if (buffer.length < space + 1 + length) return;
        syslog.push(buffer.subarray(space + 1, space + 1 + length).toString('utf8'));
        buffer = buffer.subarray(space + 1 + length);
      }
    });
  });

  before(async () => {
    cluster = await startCluster({
      flavor: 'pg15', pgaudit: true, settings: {
        log_destination: "'stderr,csvlog'", logging_collector: 'on', log_filename: "'postgresql-%Y-%m-%d_%H%M%S.log'",
        log_connections: 'on', log_disconnections: 'on', 'pgaudit.log': "'write,ddl'", 'pgaudit.log_parameter': 'on',
      },
    });
    await cluster.query('CREATE TABLE public.cards (id int PRIMARY KEY, number text)');
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
  });
  after(async () => {
    receiver.close();
    await cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('collects stderr and csvlog files through a rotation, and forwards filtered, redacted audit records to syslog', async () => {
    const logDir = join(cluster.dataDir, 'log');
    const port = (receiver.address() as AddressInfo).port;
    const config = join(root, 'pgwarden.yaml');
    writeFileSync(config, `pipeline:
  sources:
    stderr: { type: logfile, path: ${logDir}, pattern: 'postgresql-*.log', server: pg15, state_dir: ${join(root, 'state')}, idle_flush_ms: 300, poll_ms: 100 }
    csv: { type: logfile, path: ${logDir}, pattern: 'postgresql-*.csv', server: pg15, state_dir: ${join(root, 'state')}, idle_flush_ms: 300, poll_ms: 100 }
  sinks:
    from-stderr: { type: jsonl, path: ${join(root, 'stderr.jsonl')}, inputs: [stderr] }
    from-csv: { type: jsonl, path: ${join(root, 'csv.jsonl')}, inputs: [csv] }
    siem:
      type: syslog
      protocol: tcp
      port: ${port}
      inputs: [csv]
      filter: { include: { kinds: [audit], commands: [INSERT] } }
      redact: { literals: true, parameters: true }
  batch: { window_seconds: 0 }
`);
    const daemon = startCollect(config);
    try {
      const client = new pg.Client({ connectionString: cluster.url(), application_name: 'collect test' });
      await client.connect();
      await client.query('INSERT INTO public.cards VALUES ($1, $2)', [1, 'card-4111-secret']);
      await client.query("INSERT INTO public.cards VALUES (2, 'card-5500-secret')");
      // a new file name needs a new second
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await client.query('SELECT pg_catalog.pg_rotate_logfile()');
      await waitFor(async () => readdirSync(logDir).filter((f) => f.endsWith('.log')).length >= 2, 10_000, 'a second log file');
      await client.query("UPDATE public.cards SET number = 'after-rotation' WHERE id = 2");
      await client.query("INSERT INTO public.cards VALUES (3, 'card-3700-secret')");
      await client.end();
      const audits = (file: string) => readEvents(join(root, file)).filter((e) => e.kind === 'audit' && e.audit!.class === 'WRITE' && e.audit!.statement!.includes('public.cards'));
      await waitFor(async () => audits('stderr.jsonl').length >= 4 && audits('csv.jsonl').length >= 4, 20_000, 'four audit records from each format');
      await waitFor(async () => syslog.length >= 3, 20_000, 'three syslog messages');
      // The files before and after the rotation are read side by side: put them in log order
      // (file names carry the time) before comparing.
      const inLogOrder = (events: PgwardenEvent[]) => events.sort((x, y) => x.source.input.localeCompare(y.source.input) || x.source.position - y.source.position);
      const fromStderr = inLogOrder(audits('stderr.jsonl'));
      const fromCsv = inLogOrder(audits('csv.jsonl'));
      assert.deepEqual(fromStderr.map((e) => e.audit!.command), ['INSERT', 'INSERT', 'UPDATE', 'INSERT']);
      assert.deepEqual(fromCsv.map((e) => e.audit), fromStderr.map((e) => e.audit), 'the same audit records from stderr and csvlog');
      assert.deepEqual(fromStderr[0]!.audit!.parameters, ['1', 'card-4111-secret']);
      assert.equal(new Set(fromStderr.map((e) => e.source.input)).size, 2, 'read from two files (before and after the rotation)');
      const all = readEvents(join(root, 'stderr.jsonl'));
      assert.ok(all.some((e) => e.kind === 'connection_authorized' && e.application === 'collect test'), 'connections are collected too');
      await waitFor(async () => readEvents(join(root, 'stderr.jsonl')).some((e) => e.kind === 'disconnection' && e.duration_ms !== null && e.duration_ms > 1000),
        10_000, 'the disconnection with the session time (the last record, sent after idle_flush_ms)');
      assert.equal(syslog.length, 3, 'only the INSERTs reach syslog');
      const text = syslog.join('\n');
      assert.ok(!/secret|after-rotation/.test(text), 'no literal or parameter reaches syslog');
      assert.match(syslog[0]!, /^<134>1 \S+ \S+ pgwarden \d+ audit \[pgwarden@32473 kind="audit" .*audit_command="INSERT".*audit_parameters="\[\\"\?\\",\\"\?\\"\\\]".*\] \ufeffINSERT INTO public\.cards VALUES \(\$1, \$2\)$/);
      assert.match(syslog[1]!, /\ufeffINSERT INTO public\.cards VALUES \(\?, \?\)$/);
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
  });
});
