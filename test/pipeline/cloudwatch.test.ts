// The cloudwatch source end to end: `pgwarden collect` pulls an Amazon RDS-style log group with
// the real AWS SDK client from the local endpoint (test/harness/aws.ts), is stopped with SIGTERM
// and with kill -9 in the middle, is throttled and has its page token expire, and in the end has
// delivered every matching record once (kill -9 may repeat the batch in flight, no more), in
// order, with the RDS log_line_prefix read out of the box.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand } from '@aws-sdk/client-cloudwatch-logs';
import { parseConfig } from '../../src/core/config.ts';
import type { PgwardenError } from '../../src/core/errors.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { startAwsEndpoint, type AwsEndpoint } from '../harness/aws.ts';
import { runCli, waitFor } from '../harness/cli.ts';
import { readEvents, startCollect } from './collect-helpers.ts';

const GROUP = '/aws/rds/cluster/prod/postgresql';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };

/** RDS's log_line_prefix %t:%r:%u@%d:[%p]: */
function rdsTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** Record n: an audit record, every 25th an ERROR with its STATEMENT in the same event; every 10th also a checkpoint line the filter leaves out. */
function recordsFor(n: number, time: number): { message: string; key: string }[] {
  const prefix = `${rdsTime(time)}:10.0.0.1(${40000 + (n % 1000)}):alice@shop:[${5000 + (n % 9)}]:`;
  const out = [{ message: `${prefix}LOG:  AUDIT: SESSION,${n},1,WRITE,INSERT,TABLE,public.orders,"INSERT INTO public.orders VALUES (${n}, 'x')",<not logged>`, key: `a${n}` }];
  if (n % 25 === 0) out.push({ message: `${prefix}ERROR:  duplicate key value violates unique constraint "orders_pkey"\n${prefix}STATEMENT:  INSERT INTO public.orders VALUES (${n})`, key: `e${n}` });
  if (n % 10 === 0) out.push({ message: `${rdsTime(time)}::@:[77]:LOG:  checkpoint starting: time`, key: '' });
  return out;
}

function keyOf(event: PgwardenEvent): string {
  return event.audit ? `a${event.audit.statement_id}` : `e${/VALUES \((\d+)\)/.exec(event.query ?? '')?.[1]}`;
}

describe('cloudwatch source', () => {
  let aws: AwsEndpoint;
  let dir: string;
  before(async () => {
    aws = await startAwsEndpoint();
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-cloudwatch-'));
    const client = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: aws.url, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    await client.send(new CreateLogGroupCommand({ logGroupName: GROUP }));
    for (const stream of ['db1', 'db2', 'other']) await client.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName: stream }));
    client.destroy();
    Object.assign(process.env, AWS_ENV);
  });
  after(async () => {
    await aws?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Records n = from..to, spread over db1 and db2, five at a time at the same millisecond; `other` gets copies the stream prefix leaves out. */
  function put(from: number, to: number, base: number): string[] {
    const expected: string[] = [];
    for (let n = from; n <= to; n++) {
      const time = base + Math.floor((n - from) / 5) * 10;
      const records = recordsFor(n, time);
      aws.putLogEvents(GROUP, n % 2 === 0 ? 'db1' : 'db2', records.map((r) => ({ timestamp: time, message: r.message })));
      if (n % 100 === 0) aws.putLogEvents(GROUP, 'other', [{ timestamp: time, message: records[0]!.message.replace('AUDIT: SESSION,', 'AUDIT: SESSION,9') }]);
      for (const r of records) if (r.key) expected.push(r.key);
    }
    return expected;
  }

  it('pulls a log group across SIGTERM, kill -9, throttling and an expired page token: every record once, in order', async () => {
    const out = join(dir, 'events.jsonl');
    const config = join(dir, 'pgwarden.yaml');
    writeFileSync(config, `pipeline:
  sources:
    rds:
      type: cloudwatch
      log_group: ${GROUP}
      stream_prefix: db
      filter_pattern: '?AUDIT ?ERROR ?STATEMENT'
      endpoint: ${aws.url}
      region: us-east-1
      settle_seconds: 1
      poll_seconds: 0.2
      state_dir: ${join(dir, 'state')}
  sinks:
    archive: { type: jsonl, path: ${out} }
  batch: { window_seconds: 0, max_events: 100 }
`);
    aws.pageSize = 37;
    aws.latencyMs = 10;
    const expected = put(1, 3000, Date.now() - 30 * 60_000);
    const count = () => readEvents(out).length;

    const first = startCollect(config);
    await waitFor(async () => count() >= 600, 30_000, '600 events');
    assert.equal(await first.stop('SIGTERM'), 0, first.stderr());
    const atStop = count();

    const second = startCollect(config);
    await waitFor(async () => count() >= atStop + 100, 30_000, `${atStop + 100} events`);
    aws.throttle('Logs_20140328.FilterLogEvents', 4);
    await waitFor(async () => count() >= atStop + 1000, 30_000, `${atStop + 1000} events`);
    assert.equal(await second.stop('SIGKILL'), 'SIGKILL');
    const atKill = count();
    assert.match(second.stderr(), /CloudWatch Logs is throttling; backing off/);
    const state = JSON.parse(readFileSync(join(dir, 'state', 'cloudwatch-rds.json'), 'utf8')) as { sinks: { archive: { query: { token: string | null } | null } } };
    assert.ok(state.sinks.archive.query?.token, 'killed in the middle of a query, on a later page');

    // while collect is down: its page token expires, and new records arrive
    aws.expireTokens();
    expected.push(...put(3001, 3500, Date.now()));
    const third = startCollect(config);
    await waitFor(async () => new Set(readEvents(out).map(keyOf)).size >= expected.length, 60_000, `all ${expected.length} records`);
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(await third.stop('SIGTERM'), 0, third.stderr());
    assert.match(third.stderr(), /page token refused; reading on from the last delivered time/);

    const events = readEvents(out);
    const keys = events.map(keyOf);
    assert.deepEqual(new Set(keys), new Set(expected), 'every record, and nothing the stream prefix or filter pattern leaves out');
    assert.ok(atStop < expected.length && atKill < 3000, `stopped in the middle (at ${atStop} and ${atKill})`);
    // kill -9 may repeat the batch in flight (at most max_events), SIGTERM nothing
    const duplicates = keys.length - new Set(keys).size;
    assert.ok(duplicates <= 100, `${duplicates} duplicates`);
    const firstSeen = keys.filter((key, i) => keys.indexOf(key) === i);
    const order = firstSeen.map((key) => Number(key.slice(1)));
    assert.ok(order.every((n, i) => i === 0 || n >= order[i - 1]!), 'in log order');
    process.stdout.write(`# ${events.length} lines for ${expected.length} records: SIGTERM at ${atStop}, kill -9 at ${atKill}, ${duplicates} repeated; ${aws.calls.filter((c) => c.target.endsWith('FilterLogEvents')).length} FilterLogEvents calls\n`);

    // the RDS prefix, read without any prefix in the config
    const audit = events.find((e) => e.audit?.statement_id === 42)!;
    assert.equal(audit.kind, 'audit');
    assert.equal(audit.user, 'alice');
    assert.equal(audit.database, 'shop');
    assert.equal(audit.client_addr, '10.0.0.1');
    assert.equal(audit.client_port, 40042);
    assert.equal(audit.pid, 5000 + (42 % 9));
    assert.equal(audit.server, 'db1');
    assert.equal(audit.audit!.command, 'INSERT');
    assert.equal(audit.source.input, `cloudwatch:${GROUP}:db1`);
    assert.equal(audit.source.line, null);
    const error = events.find((e) => e.kind === 'error')!;
    assert.equal(error.sqlstate, null);
    assert.match(error.query!, /^INSERT INTO public\.orders VALUES \(\d+\)$/);
    assert.equal(error.server, error.source.input.endsWith(':db1') ? 'db1' : 'db2');
    // what the source asked AWS for
    const filter = aws.calls.find((c) => c.target.endsWith('FilterLogEvents') && c.input.filterPattern)!;
    assert.equal(filter.input.logStreamNamePrefix, 'db');
    assert.equal(filter.input.filterPattern, '?AUDIT ?ERROR ?STATEMENT');
  });

  it('stops at start, in one line, on a log group that does not exist', async () => {
    const config = join(dir, 'missing.yaml');
    writeFileSync(config, `pipeline:
  sources:
    rds: { type: cloudwatch, log_group: /aws/rds/instance/nope/postgresql, endpoint: '${aws.url}', region: us-east-1, state_dir: ${join(dir, 'state-missing')} }
  sinks:
    archive: { type: jsonl, path: ${join(dir, 'missing.jsonl')} }
`);
    const result = await runCli(['collect', '--config', config], AWS_ENV, { timeoutMs: 30_000 });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /^Error: pipeline\.sources\.rds: CloudWatch Logs group \/aws\/rds\/instance\/nope\/postgresql: ResourceNotFoundException/m);
    assert.match(result.stderr, /\[PGW_ERR_AWS\]/);
    assert.ok(!existsSync(join(dir, 'missing.jsonl')) || readFileSync(join(dir, 'missing.jsonl'), 'utf8') === '');
  });

  it('refuses mistakes in its config with the file, line and key', async () => {
    const bad = (source: string, pattern: RegExp) => {
      const text = `pipeline:\n  sources:\n    rds: ${source}\n  sinks:\n    archive: { type: jsonl, path: /dev/null }\n`;
      assert.throws(() => parseConfig(text), (error: PgwardenError) => error.code === 'PGW_ERR_CONFIG' && pattern.test(error.message));
    };
    bad('{ type: cloudwatch }', /^pgwarden\.yaml:3: pipeline\.sources\.rds\.log_group: /);
    bad('{ type: cloudwatch, log_group: /g, start: yesterday }', /^pgwarden\.yaml:3: pipeline\.sources\.rds\.start: beginning, now, a duration such as 24h, or an ISO time/);
    bad('{ type: cloudwatch, log_group: /g, region: Frankfurt }', /pipeline\.sources\.rds\.region: an AWS region such as eu-west-1/);
    bad('{ type: cloudwatch, log_group: /g, group: x }', /pipeline\.sources\.rds\.group: unknown key \(allowed here: type, region, endpoint, format, prefix, log_group/);
    bad('{ type: sqs, queue_url: sqs-queue }', /pipeline\.sources\.rds\.queue_url: must be the queue URL/);
    bad('{ type: kinesis }', /pipeline\.sources\.rds\.type: type must be ddl, guard, responses, logfile, cloudwatch, sqs, nats or syslog/);
    // the prefix is compiled when collect starts
    const config = join(dir, 'bad.yaml');
    writeFileSync(config, 'pipeline:\n  sources:\n    rds: { type: cloudwatch, log_group: /g, prefix: "%" }\n  sinks:\n    archive: { type: jsonl, path: /dev/null }\n');
    const result = await runCli(['collect', '--config', config], AWS_ENV);
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^Error: pipeline\.sources\.rds\.prefix: .*lone %/m);
  });
});
