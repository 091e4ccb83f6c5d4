// Log text that arrives as separate log events (CloudWatch Logs, SQS messages) rather than as
// one file: each event is read on its own with src/logs, and its records get a source position
// that is the same however and however often the event arrives — a hash of the event's id —
// so that the repository's dedup on (ts, source input, source position) holds across restarts,
// redeliveries, and between the cloudwatch and sqs sources reading the same log group.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { ParseError, PgwardenEvent } from '../core/event.ts';
import { createParser, type LogFormat, type LogParser } from '../logs/index.ts';

/** One log event: a CloudWatch event, an entry forwarded by a Lambda, or a queue message's text. */
export interface CloudLogEvent {
  /** the CloudWatch event id, or the queue message id (with an index when it carries several) */
  id: string;
  /** milliseconds since the epoch, when known: the time of records whose text has none */
  timestamp: number | null;
  message: string;
  /** the source.input of its records */
  input: string;
  /** the server of its records */
  server: string | null;
}

/** source.input of the records of a CloudWatch log stream (group names cannot contain ':'). */
export function cloudwatchInput(group: string, stream: string): string {
  return `cloudwatch:${group}:${stream}`;
}

/** A stable position (53 bits, a safe integer for JSON and a bigint for PostgreSQL) for a key. */
export function positionOf(key: string): number {
  return Number(createHash('md5').update(key).digest().readBigUInt64BE(0) >> 11n);
}

export interface ReadResult {
  events: PgwardenEvent[];
  errors: ParseError[];
}

/** Reads log events one at a time: a record never spans two events, and a broken one stays with its own. */
export class LogTextReader {
  private events: PgwardenEvent[] = [];
  private errors: ParseError[] = [];
  /** stderr is reused (its prefix is compiled once): after flush() it holds nothing back */
  private stderr: LogParser | null = null;
  private lines = 0;

  constructor(private readonly format: LogFormat, private readonly prefix: string) {
    // a bad prefix is refused here, before anything is read
    if (format === 'stderr') this.stderr = this.parser();
  }

  private parser(): LogParser {
    return createParser({ format: this.format, prefix: this.format === 'stderr' ? this.prefix : undefined, input: 'event', server: null }, {
      event: (event) => this.events.push(event),
      error: (error) => this.errors.push(error),
    });
  }

  read(log: CloudLogEvent): ReadResult {
    this.events = [];
    this.errors = [];
    const text = log.message.endsWith('\n') ? log.message : `${log.message}\n`;
    const firstLine = this.lines + 1;
    if (this.stderr) {
      this.stderr.write(text);
      this.stderr.flush();
      for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lines++;
    } else {
      const parser = this.parser();
      parser.write(text);
      parser.end();
    }
    const time = log.timestamp === null ? null : new Date(log.timestamp).toISOString().replace('Z', '+00:00');
    const events = this.events;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      event.server = log.server;
      event.source = { input: log.input, position: positionOf(`${log.id}/${i}`), line: null };
      if (event.ts === null) event.ts = time;
    }
    const errors = this.errors.map((error) => ({
      ...error, input: log.input, position: positionOf(log.id),
      line: this.stderr ? error.line - firstLine + 1 : error.line,
      reason: `${error.reason} (event ${log.id})`,
    }));
    return { events, errors };
  }
}

/** A queue message pgwarden cannot read: it is left on the queue for its dead-letter queue. */
export class PoisonMessage extends Error {}

export interface MessageContext {
  messageId: string;
  /** SentTimestamp of the message */
  sent: number | null;
  /** source.input of raw text */
  input: string;
  /** the configured server, if any */
  server: string | null;
  /** the log format of the text (a jsonlog body is itself JSON) */
  format: LogFormat;
}

const GZIP_BASE64 = /^H4sI[A-Za-z0-9+/=\s]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function timestampOf(value: unknown, fallback: number | null): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value !== '') {
    const time = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (Number.isFinite(time)) return time;
  }
  return fallback;
}

/**
 * The log events in a queue message body. Understood:
 * - a CloudWatch Logs subscription payload (`{messageType, logGroup, logStream, logEvents}`),
 *   gzip-compressed and base64-encoded as CloudWatch sends it to Kinesis/Firehose/Lambda, or
 *   already decoded;
 * - what Lambda forwarders send: one event `{message, timestamp?, id|eventId?, logGroup?, logStream?}`
 *   (also with FilterLogEvents' names `logGroupName`, `logStreamName`), an array of them, or
 *   `{events: [...]}` as FilterLogEvents returns them;
 * - any of these inside an SNS notification (`{Type: 'Notification', Message}`);
 * - raw log text: one or more lines in the server's log format.
 * Anything else that looks like JSON or gzip but cannot be read is a PoisonMessage.
 */
export function decodeMessageBody(body: string, context: MessageContext): CloudLogEvent[] {
  const trimmed = body.trim();
  if (trimmed === '') return [];
  if (GZIP_BASE64.test(trimmed)) {
    let text: string;
    try {
      text = gunzipSync(Buffer.from(trimmed, 'base64')).toString('utf8');
    } catch (error) {
      throw new PoisonMessage(`looks like gzip+base64 but does not decompress: ${(error as Error).message}`);
    }
    return decodeMessageBody(text, context);
  }
  if (trimmed.startsWith('{') || trimmed.startsWith('[') || trimmed.startsWith('"')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      if (context.format === 'jsonlog') return [raw(body, context)];
      throw new PoisonMessage(`not valid JSON: ${(error as Error).message}`);
    }
    const events = fromJson(value, context, 0);
    if (events) return events;
    if (context.format === 'jsonlog') return [raw(body, context)];
    throw new PoisonMessage('JSON of a shape pgwarden does not know (expected a CloudWatch Logs subscription payload, log events with a "message", or an SNS notification of them)');
  }
  return [raw(body, context)];
}

function raw(text: string, context: MessageContext): CloudLogEvent {
  return { id: context.messageId, timestamp: context.sent, message: text, input: context.input, server: context.server };
}

function fromJson(value: unknown, context: MessageContext, depth: number): CloudLogEvent[] | null {
  if (depth > 3) return null;
  if (typeof value === 'string') return depth === 0 ? [raw(value, context)] : null;
  if (Array.isArray(value)) {
    const events: CloudLogEvent[] = [];
    for (let i = 0; i < value.length; i++) {
      const one = logEvent(value[i], context, `${context.messageId}/${i}`, null, null);
      if (!one) return null;
      events.push(one);
    }
    return events;
  }
  if (!isObject(value)) return null;
  if (value.Type === 'Notification' && typeof value.Message === 'string') {
    return decodeMessageBody(value.Message, context);
  }
  if (typeof value.messageType === 'string' || Array.isArray(value.logEvents)) {
    if (value.messageType === 'CONTROL_MESSAGE') return [];
    if (!Array.isArray(value.logEvents)) return null;
    const group = typeof value.logGroup === 'string' ? value.logGroup : null;
    const stream = typeof value.logStream === 'string' ? value.logStream : null;
    const events: CloudLogEvent[] = [];
    for (let i = 0; i < value.logEvents.length; i++) {
      const one = logEvent(value.logEvents[i], context, `${context.messageId}/${i}`, group, stream);
      if (!one) return null;
      events.push(one);
    }
    return events;
  }
  if (Array.isArray(value.events)) return fromJson(value.events, context, depth + 1);
  const one = logEvent(value, context, context.messageId, null, null);
  return one ? [one] : null;
}

/** One forwarded log event; null when it is not one (no message text, or a jsonlog record). */
function logEvent(value: unknown, context: MessageContext, fallbackId: string, group: string | null, stream: string | null): CloudLogEvent | null {
  if (!isObject(value) || typeof value.message !== 'string' || 'error_severity' in value) return null;
  const groupName = typeof value.logGroup === 'string' ? value.logGroup : typeof value.logGroupName === 'string' ? value.logGroupName : group;
  const streamName = typeof value.logStream === 'string' ? value.logStream : typeof value.logStreamName === 'string' ? value.logStreamName : stream;
  const own = typeof value.eventId === 'string' ? value.eventId : typeof value.id === 'string' ? value.id : null;
  // a CloudWatch event keeps its own id and stream: the same records as the cloudwatch source reads
  const located = own !== null && groupName !== null && streamName !== null;
  return {
    id: own ?? fallbackId,
    timestamp: timestampOf(value.timestamp, context.sent),
    message: value.message,
    input: located ? cloudwatchInput(groupName!, streamName!) : context.input,
    server: context.server ?? streamName,
  };
}
