// The sqs source with the real AWS SDK client against the local endpoint (test/harness/aws.ts):
// every body shape people send (a CloudWatch Logs subscription payload, Lambda-forwarded JSON,
// an SNS notification, raw log lines) is delivered once and deleted; poison messages are
// counted, never deleted, and reach the dead-letter queue intact; a slow sink keeps its
// messages hidden (visibility extended) and nothing is deleted before the sink took it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import pino from 'pino';
import { parseConfig } from '../../src/core/config.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { positionOf } from '../../src/pipeline/cloud-events.ts';
import { runGraph } from '../../src/pipeline/graph.ts';
import { SqsSource } from '../../src/pipeline/sources/sqs/sqs.ts';
import type { Pending, Sink } from '../../src/pipeline/types.ts';
import { startAwsEndpoint, type AwsEndpoint } from '../harness/aws.ts';
import { waitFor } from '../harness/cli.ts';
import { readEvents, startCollect } from './collect-helpers.ts';

const GROUP = '/aws/rds/instance/db1/postgresql';
const AWS_ENV = { AWS_ACCESS_KEY_ID: 'AKIDTEST', AWS_SECRET_ACCESS_KEY: 'test-secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
const T0 = Date.UTC(2026, 10, 22, 10, 0, 0);

function audit(n: number): string {
  const time = new Date(T0 + n * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return `${time}:10.0.0.7(5432${n % 10}):alice@shop:[${700 + n}]:LOG:  AUDIT: SESSION,${n},1,WRITE,DELETE,TABLE,public.orders,DELETE FROM public.orders WHERE id = ${n},<not logged>`;
}

function subscription(stream: string, events: { id: string; n: number }[]): string {
  const payload = {
    messageType: 'DATA_MESSAGE', owner: '123456789012', logGroup: GROUP, logStream: stream, subscriptionFilters: ['pgwarden'],
    logEvents: events.map(({ id, n }) => ({ id, timestamp: T0 + n * 1000, message: audit(n) })),
  };
  return gzipSync(JSON.stringify(payload)).toString('base64');
}

describe('sqs source', () => {
  let aws: AwsEndpoint;
  let sqs: SQSClient;
  let dir: string;

  async function queuePair(name: string, visibility: number): Promise<{ url: string; dlq: string }> {
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl!;
    const url = (await sqs.send(new CreateQueueCommand({
      QueueName: name,
      Attributes: { VisibilityTimeout: String(visibility), RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${name}-dlq`, maxReceiveCount: 2 }) },
    }))).QueueUrl!;
    return { url, dlq };
  }

  before(async () => {
    aws = await startAwsEndpoint();
    sqs = new SQSClient({ region: 'us-east-1', endpoint: aws.url, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-sqs-'));
    Object.assign(process.env, AWS_ENV);
  });
  after(async () => {
    sqs?.destroy();
    await aws?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every body shape once, deletes it, and leaves poison messages for the dead-letter queue', async () => {
    const { url, dlq } = await queuePair('pgaudit', 30);
    const send = async (body: string) => (await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }))).MessageId!;
    const cwIds = ['36590000000000000000000000000000000000000000000000000001', '36590000000000000000000000000000000000000000000000000002', '36590000000000000000000000000000000000000000000000000003'];
    await send(subscription('db1', [{ id: cwIds[0]!, n: 1 }, { id: cwIds[1]!, n: 2 }, { id: cwIds[2]!, n: 3 }]));
    await send(gzipSync(JSON.stringify({ messageType: 'CONTROL_MESSAGE', owner: 'CloudwatchLogs', logGroup: '', logStream: '', logEvents: [{ id: '', timestamp: T0, message: 'CWL CONTROL MESSAGE: Checking health of destination Firehose.' }] })).toString('base64'));
    await send(JSON.stringify({ logGroup: GROUP, logStream: 'db2', id: 'evt-4', timestamp: T0 + 4000, message: audit(4) }));
    const arrayId = await send(JSON.stringify([{ message: audit(5), timestamp: T0 + 5000 }, { message: audit(6) }]));
    await send(JSON.stringify({ events: [{ logStreamName: 'db1', eventId: 'evt-7', timestamp: T0 + 7000, ingestionTime: T0 + 7100, message: audit(7) }] }));
    await send(JSON.stringify({ Type: 'Notification', MessageId: 'sns-1', TopicArn: 'arn:aws:sns:us-east-1:123456789012:logs', Message: subscription('db1', [{ id: 'evt-8', n: 8 }]) }));
    const rawId = await send(`${audit(9)}\n${audit(10)}\n`);
    const poison = ['H4sIAAAAAAAAAAAAAAAAAAAA', '{"AlarmName": "HighCPU", "NewStateValue": "ALARM"}', 'hello, this is not a log line'];
    for (const body of poison) await send(body);

    const out = join(dir, 'events.jsonl');
    const config = join(dir, 'pgwarden.yaml');
    writeFileSync(config, `pipeline:
  sources:
    queue: { type: sqs, queue_url: '${url}', endpoint: '${aws.url}', region: us-east-1, wait_seconds: 1, visibility_timeout_seconds: 1 }
  sinks:
    archive: { type: jsonl, path: ${out} }
  batch: { window_seconds: 0, max_events: 4 }
`);
    const daemon = startCollect(config);
    const main = aws.queues.get(url)!;
    const dead = aws.queues.get(dlq)!;
    try {
      await waitFor(async () => readEvents(out).length >= 10 && dead.messages.length === 3 && main.messages.length === 0, 30_000,
        '10 events delivered, the 3 poison messages in the dead-letter queue, the queue empty');
    } finally {
      assert.equal(await daemon.stop('SIGTERM'), 0, daemon.stderr());
    }
    const events = readEvents(out);
    const byId = new Map(events.map((e) => [e.audit!.statement_id, e]));
    assert.deepEqual([...byId.keys()].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(events.length, 10, 'each once');
    // a subscription payload's events are the very records the cloudwatch source reads: same input, same positions
    const e1 = byId.get(1)!;
    assert.deepEqual(e1.source, { input: `cloudwatch:${GROUP}:db1`, position: positionOf(`${cwIds[0]}/0`), line: null });
    assert.equal(e1.server, 'db1');
    assert.equal(e1.user, 'alice');
    assert.equal(e1.database, 'shop');
    assert.equal(e1.audit!.command, 'DELETE');
    assert.equal(byId.get(4)!.source.input, `cloudwatch:${GROUP}:db2`);
    assert.equal(byId.get(4)!.server, 'db2');
    assert.equal(byId.get(8)!.source.input, `cloudwatch:${GROUP}:db1`);
    // without a log group, or without ids: the queue's own input, positions from the message id
    assert.deepEqual(byId.get(5)!.source, { input: 'sqs:pgaudit', position: positionOf(`${arrayId}/0/0`), line: null });
    assert.equal(byId.get(6)!.source.input, 'sqs:pgaudit');
    assert.equal(byId.get(7)!.server, 'db1');
    assert.deepEqual(byId.get(10)!.source, { input: 'sqs:pgaudit', position: positionOf(`${rawId}/1`), line: null });
    assert.equal(byId.get(9)!.server, null, 'raw lines name no server unless the config does');
    // poison: intact in the dead-letter queue, counted once each, never deleted
    assert.deepEqual(dead.messages.map((m) => m.body).sort(), [...poison].sort());
    const stderr = daemon.stderr();
    assert.match(stderr, /"poison_total":3/);
    assert.match(stderr, /poison message: not delivered and not deleted, left for the queue's dead-letter queue/);
    assert.match(stderr, /does not decompress/);
    assert.match(stderr, /JSON of a shape pgwarden does not know/);
    assert.match(stderr, /unreadable record/);
    const deletes = aws.calls.filter((c) => c.target === 'AmazonSQS.DeleteMessageBatch').flatMap((c) => c.input.Entries as unknown[]);
    assert.equal(deletes.length, 7, 'the 7 good messages (one of them a control message) deleted, no poison');
  });

  it('keeps the messages of a slow batch hidden, and deletes nothing before the sink took it', async () => {
    const { url } = await queuePair('slow', 30);
    for (let n = 1; n <= 5; n++) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: audit(n) }));
    const config = parseConfig(`pipeline:
  sources:
    queue: { type: sqs, queue_url: '${url}', endpoint: '${aws.url}', region: us-east-1, server: db9, wait_seconds: 1, visibility_timeout_seconds: 1 }
  batch: { window_seconds: 0, max_events: 100 }
  retry: { initial_seconds: 0.2, max_seconds: 1 }
`);
    const delivered: PgwardenEvent[] = [];
    let attempts = 0;
    let tookAt = 0;
    let hiddenWhileSlow = false;
    const main = aws.queues.get(url)!;
    const sink: Sink = {
      name: 'slow', type: 'test', inputs: undefined,
      accepts: () => true,
      async deliver(pending: Pending) {
        attempts++;
        if (attempts === 1) throw new Error('the receiver refused the first try');
        // three visibility timeouts long
        await new Promise((resolve) => setTimeout(resolve, 3000));
        const now = Date.now();
        hiddenWhileSlow = main.messages.length === 5 && main.messages.every((m) => m.receiveCount === 1 && m.visibleAt > now);
        delivered.push(...pending.events);
        tookAt = Date.now();
      },
      close: async () => undefined,
    };
    const log = pino({ level: 'silent' });
    const source = new SqsSource({ input: 'queue', config: config.pipeline.sources.queue as never, log });
    const running = await runGraph({ sources: [source], sinks: [sink] }, config.pipeline, log);
    try {
      await waitFor(async () => main.messages.length === 0, 20_000, 'the queue empty');
    } finally {
      await running.stop();
    }
    assert.equal(attempts, 2);
    assert.deepEqual(delivered.map((e) => e.audit!.statement_id).sort(), [1, 2, 3, 4, 5]);
    assert.ok(delivered.every((e) => e.server === 'db9'));
    assert.ok(hiddenWhileSlow, 'after three visibility timeouts, each message still hidden and received only once');
    const calls = aws.calls.filter((c) => (c.input as { QueueUrl?: string }).QueueUrl === url);
    const extensions = calls.filter((c) => c.target === 'AmazonSQS.ChangeMessageVisibilityBatch');
    assert.ok(extensions.length >= 3, `${extensions.length} visibility extensions`);
    const deletes = calls.filter((c) => c.target === 'AmazonSQS.DeleteMessageBatch');
    assert.ok(deletes.length > 0 && deletes.every((c) => c.at >= tookAt), 'deleted only after the sink took the batch');
    assert.equal(source.deleted, 5);
  });
});
