// A local AWS endpoint for the tests: CloudWatch Logs (AWS JSON 1.1, X-Amz-Target
// Logs_20140328.*) and SQS (AWS JSON 1.0 with query compatibility, X-Amz-Target AmazonSQS.*,
// as @aws-sdk/client-sqs 3.x sends it) — the subset of operations pgwarden and its tests call,
// with the behaviour they depend on: FilterLogEvents sorted by time, paged with tokens bound to
// their query; SQS long polling, visibility timeouts, receipt handles, ApproximateReceiveCount
// and redrive to a dead-letter queue; throttling on demand. What it does not emulate is listed
// in docs/development.md. It runs in the test process, on 127.0.0.1 and a free port.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// the SDK's notice about its future Node.js requirement is not a test result
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

class AwsError extends Error {
  constructor(readonly type: string, message: string, readonly status = 400, readonly queryCode?: string) {
    super(message);
  }
}

interface LogEvent { timestamp: number; message: string; ingestionTime: number; eventId: string; seq: number; stream: string }

interface QueueMessage {
  id: string;
  body: string;
  sent: number;
  receiveCount: number;
  firstReceive: number | null;
  visibleAt: number;
  receiptHandle: string | null;
}

export interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
  messages: QueueMessage[];
}

export interface Call { target: string; at: number; input: Record<string, unknown> }

export interface AwsEndpoint {
  url: string;
  /** every request, in order */
  calls: Call[];
  /** events by log group and stream */
  groups: Map<string, Map<string, LogEvent[]>>;
  queues: Map<string, Queue>;
  /** the next `count` calls of `target` (e.g. 'Logs_20140328.FilterLogEvents') fail with ThrottlingException */
  throttle(target: string, count: number): void;
  /** page tokens issued so far are refused from now on (as AWS does after 24 hours) */
  expireTokens(): void;
  /** at most this many events per FilterLogEvents page, whatever `limit` says */
  pageSize: number;
  /** wait this long before answering FilterLogEvents (makes a pull take long enough to interrupt) */
  latencyMs: number;
  putLogEvents(group: string, stream: string, events: { timestamp: number; message: string }[]): void;
  stop(): Promise<void>;
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** A 56-digit decimal id, as CloudWatch's look. */
function eventId(): string {
  let id = '';
  while (id.length < 56) id += BigInt(`0x${randomBytes(16).toString('hex')}`).toString();
  return id.slice(0, 56);
}

/** The subset of the filter pattern syntax for unstructured text: terms, "quoted terms", ?any-of, -not. */
function compileFilterPattern(pattern: string | undefined): (message: string) => boolean {
  if (!pattern || pattern.trim() === '') return () => true;
  if (/^\s*[{[]/.test(pattern)) throw new AwsError('InvalidParameterException', 'JSON and space-delimited filter patterns are not emulated by the test endpoint');
  const terms = [...pattern.matchAll(/([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))/g)].map((m) => ({ op: m[1], text: m[2] ?? m[3]! }));
  const must = terms.filter((t) => t.op === '').map((t) => t.text);
  const any = terms.filter((t) => t.op === '?').map((t) => t.text);
  const not = terms.filter((t) => t.op === '-').map((t) => t.text);
  return (message) => must.every((t) => message.includes(t)) && (any.length === 0 || any.some((t) => message.includes(t))) && !not.some((t) => message.includes(t));
}

export async function startAwsEndpoint(): Promise<AwsEndpoint> {
  const calls: Call[] = [];
  const groups = new Map<string, Map<string, LogEvent[]>>();
  const queues = new Map<string, Queue>();
  const throttles = new Map<string, number>();
  let tokenGeneration = 0;
  let seq = 0;
  const sockets = new Set<Socket>();
  let base = '';

  const endpoint: AwsEndpoint = {
    url: '',
    calls,
    groups,
    queues,
    pageSize: 10_000,
    latencyMs: 0,
    throttle(target, count) { throttles.set(target, (throttles.get(target) ?? 0) + count); },
    expireTokens() { tokenGeneration++; },
    putLogEvents(group, stream, events) {
      const streams = groups.get(group);
      if (!streams) throw new Error(`no log group ${group}`);
      if (!streams.has(stream)) streams.set(stream, []);
      const now = Date.now();
      for (const e of events) streams.get(stream)!.push({ ...e, ingestionTime: now, eventId: eventId(), seq: seq++, stream });
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  // ---- CloudWatch Logs ----
  const logs: Record<string, (input: Record<string, unknown>) => unknown> = {
    CreateLogGroup(input) {
      const name = String(input.logGroupName);
      if (groups.has(name)) throw new AwsError('ResourceAlreadyExistsException', 'The specified log group already exists');
      groups.set(name, new Map());
      return {};
    },
    CreateLogStream(input) {
      const streams = groups.get(String(input.logGroupName));
      if (!streams) throw new AwsError('ResourceNotFoundException', 'The specified log group does not exist.');
      streams.set(String(input.logStreamName), []);
      return {};
    },
    PutLogEvents(input) {
      endpoint.putLogEvents(String(input.logGroupName), String(input.logStreamName), input.logEvents as { timestamp: number; message: string }[]);
      return { nextSequenceToken: String(seq) };
    },
    async FilterLogEvents(input) {
      const streams = groups.get(String(input.logGroupName));
      if (!streams) throw new AwsError('ResourceNotFoundException', 'The specified log group does not exist.');
      const start = typeof input.startTime === 'number' ? input.startTime : -Infinity;
      const end = typeof input.endTime === 'number' ? input.endTime : Infinity;
      const prefix = typeof input.logStreamNamePrefix === 'string' ? input.logStreamNamePrefix : '';
      const matches = compileFilterPattern(input.filterPattern as string | undefined);
      const queryKey = md5(JSON.stringify([input.logGroupName, start, end, prefix, input.filterPattern ?? '']));
      let after: [number, number, number] | null = null;
      if (typeof input.nextToken === 'string') {
        let token: { q: string; g: number; after: [number, number, number] };
        try {
          token = JSON.parse(Buffer.from(input.nextToken, 'base64url').toString('utf8')) as typeof token;
        } catch {
          throw new AwsError('InvalidParameterException', 'The specified nextToken is invalid.');
        }
        if (token.q !== queryKey || token.g !== tokenGeneration) throw new AwsError('InvalidParameterException', 'The specified nextToken is invalid.');
        after = token.after;
      }
      const key = (e: LogEvent): [number, number, number] => [e.timestamp, e.ingestionTime, e.seq];
      const later = (a: [number, number, number], b: [number, number, number]) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
      const found: LogEvent[] = [];
      for (const [name, events] of streams) {
        if (!name.startsWith(prefix)) continue;
        for (const e of events) {
          if (e.timestamp < start || e.timestamp > end || !matches(e.message)) continue;
          if (after && later(key(e), after) <= 0) continue;
          found.push(e);
        }
      }
      found.sort((a, b) => later(key(a), key(b)));
      const limit = Math.min(typeof input.limit === 'number' ? input.limit : 10_000, endpoint.pageSize);
      const page = found.slice(0, limit);
      if (endpoint.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, endpoint.latencyMs));
      const last = page[page.length - 1];
      return {
        events: page.map((e) => ({ logStreamName: e.stream, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime, eventId: e.eventId })),
        searchedLogStreams: [],
        ...(found.length > limit && last ? { nextToken: Buffer.from(JSON.stringify({ q: queryKey, g: tokenGeneration, after: key(last) })).toString('base64url') } : {}),
      };
    },
  };

  // ---- SQS ----
  const queueOf = (input: Record<string, unknown>): Queue => {
    const queue = queues.get(String(input.QueueUrl));
    if (!queue) throw new AwsError('com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.', 400, 'AWS.SimpleQueueService.NonExistentQueue;Sender');
    return queue;
  };
  const inFlight = (m: QueueMessage, now: number) => m.receiptHandle !== null && m.visibleAt > now;
  const byArn = (arn: string) => [...queues.values()].find((q) => q.arn === arn);

  /** Messages visible now, received (or moved to the dead-letter queue when received too often). */
  function take(queue: Queue, max: number, visibility: number): QueueMessage[] {
    const now = Date.now();
    const taken: QueueMessage[] = [];
    const redrive = queue.attributes.RedrivePolicy ? JSON.parse(queue.attributes.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number | string } : null;
    for (const m of [...queue.messages]) {
      if (taken.length >= max) break;
      if (m.visibleAt > now) continue;
      if (redrive && m.receiveCount >= Number(redrive.maxReceiveCount)) {
        const dlq = byArn(redrive.deadLetterTargetArn);
        queue.messages.splice(queue.messages.indexOf(m), 1);
        dlq?.messages.push({ ...m, receiveCount: 0, visibleAt: 0, receiptHandle: null, firstReceive: null });
        continue;
      }
      m.receiveCount++;
      m.firstReceive ??= now;
      m.receiptHandle = randomUUID();
      m.visibleAt = now + visibility * 1000;
      taken.push(m);
    }
    return taken;
  }

  const sqs: Record<string, (input: Record<string, unknown>, gone: () => boolean) => unknown> = {
    CreateQueue(input) {
      const name = String(input.QueueName);
      const url = `${base}/${ACCOUNT}/${name}`;
      if (!queues.has(url)) {
        queues.set(url, {
          name, url, arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`,
          attributes: { VisibilityTimeout: '30', ...(input.Attributes as Record<string, string> | undefined) }, messages: [],
        });
      }
      return { QueueUrl: url };
    },
    GetQueueUrl(input) {
      const queue = [...queues.values()].find((q) => q.name === input.QueueName);
      if (!queue) throw new AwsError('com.amazonaws.sqs#QueueDoesNotExist', 'The specified queue does not exist.', 400, 'AWS.SimpleQueueService.NonExistentQueue;Sender');
      return { QueueUrl: queue.url };
    },
    GetQueueAttributes(input) {
      const queue = queueOf(input);
      const now = Date.now();
      const all: Record<string, string> = {
        ...queue.attributes,
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(queue.messages.filter((m) => !inFlight(m, now)).length),
        ApproximateNumberOfMessagesNotVisible: String(queue.messages.filter((m) => inFlight(m, now)).length),
      };
      const names = (input.AttributeNames as string[] | undefined) ?? ['All'];
      return { Attributes: Object.fromEntries(Object.entries(all).filter(([k]) => names.includes('All') || names.includes(k))) };
    },
    SendMessage(input) {
      const queue = queueOf(input);
      const body = String(input.MessageBody);
      const delay = typeof input.DelaySeconds === 'number' ? input.DelaySeconds : 0;
      const message: QueueMessage = { id: randomUUID(), body, sent: Date.now(), receiveCount: 0, firstReceive: null, visibleAt: Date.now() + delay * 1000, receiptHandle: null };
      queue.messages.push(message);
      return { MessageId: message.id, MD5OfMessageBody: md5(body) };
    },
    async ReceiveMessage(input, gone) {
      const queue = queueOf(input);
      const max = typeof input.MaxNumberOfMessages === 'number' ? input.MaxNumberOfMessages : 1;
      const wait = typeof input.WaitTimeSeconds === 'number' ? input.WaitTimeSeconds : 0;
      const visibility = typeof input.VisibilityTimeout === 'number' ? input.VisibilityTimeout : Number(queue.attributes.VisibilityTimeout);
      const deadline = Date.now() + wait * 1000;
      for (;;) {
        // a caller that gave up (aborted its long poll) receives nothing
        if (gone()) return {};
        const taken = take(queue, max, visibility);
        if (taken.length > 0 || Date.now() >= deadline) {
          return {
            Messages: taken.map((m) => ({
              MessageId: m.id, ReceiptHandle: m.receiptHandle, MD5OfBody: md5(m.body), Body: m.body,
              Attributes: { SentTimestamp: String(m.sent), ApproximateReceiveCount: String(m.receiveCount), ApproximateFirstReceiveTimestamp: String(m.firstReceive) },
            })),
          };
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    DeleteMessage(input) {
      const queue = queueOf(input);
      const i = queue.messages.findIndex((m) => m.receiptHandle === input.ReceiptHandle);
      if (i < 0) throw new AwsError('com.amazonaws.sqs#ReceiptHandleIsInvalid', 'The receipt handle is not valid.', 400, 'ReceiptHandleIsInvalid;Sender');
      queue.messages.splice(i, 1);
      return {};
    },
    DeleteMessageBatch(input) {
      const queue = queueOf(input);
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
      for (const entry of input.Entries as { Id: string; ReceiptHandle: string }[]) {
        const i = queue.messages.findIndex((m) => m.receiptHandle === entry.ReceiptHandle);
        if (i < 0) Failed.push({ Id: entry.Id, Code: 'ReceiptHandleIsInvalid', Message: 'The receipt handle is not valid.', SenderFault: true });
        else {
          queue.messages.splice(i, 1);
          Successful.push({ Id: entry.Id });
        }
      }
      return { Successful, Failed };
    },
    ChangeMessageVisibilityBatch(input) {
      const queue = queueOf(input);
      const now = Date.now();
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
      for (const entry of input.Entries as { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[]) {
        const m = queue.messages.find((x) => x.receiptHandle === entry.ReceiptHandle);
        if (!m || !inFlight(m, now)) Failed.push({ Id: entry.Id, Code: 'MessageNotInflight', Message: 'The message is not in flight.', SenderFault: true });
        else {
          m.visibleAt = now + entry.VisibilityTimeout * 1000;
          Successful.push({ Id: entry.Id });
        }
      }
      return { Successful, Failed };
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, operation] = target.split('.') as [string, string];
    const json11 = service === 'Logs_20140328';
    res.setHeader('content-type', json11 ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0');
    res.setHeader('x-amzn-requestid', randomUUID());
    let closed = false;
    res.on('close', () => { closed = true; });
    try {
      const input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      calls.push({ target, at: Date.now(), input });
      const pending = throttles.get(target) ?? 0;
      if (pending > 0) {
        throttles.set(target, pending - 1);
        throw new AwsError('ThrottlingException', 'Rate exceeded');
      }
      const handler = service === 'Logs_20140328' ? logs[operation] : service === 'AmazonSQS' ? sqs[operation] : undefined;
      if (!handler) throw new AwsError('UnknownOperationException', `${target} is not emulated by the test endpoint`);
      const output = await handler(input, () => closed);
      if (closed) return;
      res.writeHead(200).end(JSON.stringify(output));
    } catch (error) {
      if (closed) return;
      if (error instanceof AwsError) {
        if (error.queryCode) res.setHeader('x-amzn-query-error', error.queryCode);
        res.writeHead(error.status).end(JSON.stringify({ __type: error.type, message: error.message }));
      } else {
        res.writeHead(500).end(JSON.stringify({ __type: 'InternalFailure', message: (error as Error).message }));
      }
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  endpoint.url = base;
  return endpoint;
}
