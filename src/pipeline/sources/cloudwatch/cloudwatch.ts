// CloudWatch Logs as a pipeline source: pulls a log group with FilterLogEvents (optionally only
// streams with a name prefix, and a filter pattern applied by AWS), and reads each event's text
// with src/logs (Amazon RDS's log_line_prefix by default).
//
// FilterLogEvents returns a query's events sorted by time (then ingestion time and request),
// page by page. Reading goes in queries over [start, end], end being `settle_seconds` in the
// past so that CloudWatch has ingested every stream up to there; the next query starts just
// after it. Per sink the source keeps a durable checkpoint: the query and page token it is in,
// and the boundary — a time and the ids of the events at exactly that time already delivered.
// After a restart it resumes the query at that page (or, with an expired token, from the
// boundary's time) and passes over what each sink had: no gap and no duplicate.
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilterLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';
import type { Logger } from 'pino';
import { PgwardenError } from '../../../core/errors.ts';
import { sleep } from '../../../core/sleep.ts';
import { awsClientConfig, AWS_RETRY, awsErrorName, awsFatalError, isThrottling } from '../../aws.ts';
import { CheckpointFile, versioned } from '../../checkpoint.ts';
import { cloudwatchInput, LogTextReader } from '../../cloud-events.ts';
import type { SourceContext } from '../../build.ts';
import { ParseErrorLog } from '../../parse-errors.ts';
import { LaneBuffer, MAX_BUFFERED_EVENTS, type BufferEntry } from '../../lane-buffer.ts';
import { Retry } from '../../retry.ts';
import type { Lane, Sink, Source, Wake } from '../../types.ts';
import type { CloudwatchSourceConfig } from './config.ts';

const STATE_VERSION = 1;

interface Query {
  start: number;
  end: number;
  /** the token of the page being read (null: the first page) */
  token: string | null;
}

/** Where a sink stands: events before `time`, and those at `time` whose ids are listed, are settled. */
export interface CloudwatchCheckpoint {
  query: Query | null;
  time: number;
  ids: string[];
}

export interface CloudwatchState {
  version: number;
  source: string;
  log_group: string;
  sinks: Record<string, CloudwatchCheckpoint>;
}

/** The ids seen at one time, in order, shared by the entries of that time (each knows how many come up to it). */
interface Boundary {
  time: number;
  ids: string[];
  index: Map<string, number>;
  /** ids read in this run (a page read again after a refused token repeats some) */
  read: Set<string>;
}

function newBoundary(time: number, ids: string[] = []): Boundary {
  return { time, ids: [...ids], index: new Map(ids.map((id, i) => [id, i])), read: new Set() };
}

interface Entry extends BufferEntry {
  /** the event's time and id; for the end of a query, end + 1 and null */
  time: number;
  id: string | null;
  query: Query | null;
  boundary: Boundary;
  /** how many of boundary.ids are settled with this entry */
  count: number;
}

/** Milliseconds since the epoch where a new source starts: beginning, now, 24h (back), or an ISO time. */
export function startTime(start: string, now = Date.now()): number {
  if (start === 'beginning') return 0;
  if (start === 'now') return now;
  const ago = /^(\d+)([smhd])$/.exec(start);
  if (ago) return now - Number(ago[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
  return Date.parse(start);
}

export interface CloudwatchSourceOptions {
  input: string;
  config: CloudwatchSourceConfig;
  log: Logger;
}

export class CloudwatchSource implements Source {
  readonly name: string;
  readonly input: string;
  private readonly config: CloudwatchSourceConfig;
  private readonly log: Logger;
  private readonly client: CloudWatchLogsClient;
  private readonly reader: LogTextReader;
  private readonly file: CheckpointFile<CloudwatchState>;
  private readonly state: CloudwatchState;
  private readonly buffer: LaneBuffer<Entry>;
  private readonly lanes = new Set<string>();
  private readonly skipSets = new Map<string, { checkpoint: CloudwatchCheckpoint; ids: Set<string> }>();
  private readonly controller = new AbortController();
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly parseErrorLog: ParseErrorLog;
  /** FilterLogEvents calls, and those throttled (for tests and the log) */
  calls = 0;
  throttled = 0;

  constructor(options: CloudwatchSourceOptions) {
    this.input = options.input;
    this.name = options.input;
    this.config = options.config;
    this.log = options.log;
    this.parseErrorLog = new ParseErrorLog(options.log, options.input);
    const where = `pipeline.sources.${options.input}`;
    if (Number.isNaN(startTime(options.config.start))) throw new PgwardenError('PGW_ERR_CONFIG', `${where}.start: "${options.config.start}" is not a time`);
    try {
      this.reader = new LogTextReader(options.config.format, options.config.prefix);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `${where}.prefix: ${(error as Error).message}`, { cause: error });
    }
    this.client = new CloudWatchLogsClient(awsClientConfig({ region: options.config.region, endpoint: options.config.endpoint, requestTimeoutMs: 60_000 }));
    this.file = new CheckpointFile({
      dir: options.config.state_dir, file: `cloudwatch-${options.input}.json`, where, indent: 1,
      startOver: `to start over at ${where}.start`,
    });
    this.state = this.loadState();
    this.buffer = new LaneBuffer<Entry>(options.input, {
      skip: (sink, entry) => this.already(sink, entry),
      settled: (sink, entries) => this.settled(sink, entries[entries.length - 1]!),
    });
  }

  private loadState(): CloudwatchState {
    const state = this.file.load(
      () => ({ version: STATE_VERSION, source: this.input, log_group: this.config.log_group, sinks: {} }),
      versioned<CloudwatchState>(STATE_VERSION, 'sinks'),
    );
    if (state.log_group !== this.config.log_group) {
      throw new PgwardenError('PGW_ERR_CONFIG', `the checkpoints in ${this.file.path} are for log group ${state.log_group}, but pipeline.sources.${this.input}.log_group is ${this.config.log_group}; name the source differently, or move the file away to start over`);
    }
    return state;
  }

  /** The checkpoints as stored (for tests and `status`). */
  get checkpoints(): CloudwatchState {
    return this.state;
  }

  lane(sink: Sink): Lane {
    this.lanes.add(sink.name);
    this.state.sinks[sink.name] ??= { query: null, time: startTime(this.config.start), ids: [] };
    return this.buffer.lane(sink);
  }

  /** Whether a sink had this entry before the restart. */
  private already(sink: string, entry: Entry): boolean {
    const checkpoint = this.state.sinks[sink]!;
    if (entry.time !== checkpoint.time) return entry.time < checkpoint.time;
    if (entry.id === null) return false;
    let cached = this.skipSets.get(sink);
    if (cached?.checkpoint !== checkpoint) {
      cached = { checkpoint, ids: new Set(checkpoint.ids) };
      this.skipSets.set(sink, cached);
    }
    return cached.ids.has(entry.id);
  }

  private settled(sink: string, last: Entry): Promise<void> {
    this.state.sinks[sink] = { query: last.query && { ...last.query }, time: last.time, ids: last.boundary.ids.slice(0, last.count) };
    return this.save();
  }

  private save(): Promise<void> {
    return this.file.save(this.state);
  }

  async start(): Promise<void> {
    // sinks no longer in the config no longer hold reading back
    for (const sink of Object.keys(this.state.sinks)) if (!this.lanes.has(sink)) delete this.state.sinks[sink];
    if (this.buffer.laneCount === 0) {
      this.log.warn({ source: this.name }, 'no sink takes events from this source; it does not read');
      return;
    }
    // A mistake (credentials, permissions, a missing log group) stops collect at once; an
    // unreachable endpoint or throttling does not: reading waits for them.
    try {
      await this.client.send(new FilterLogEventsCommand({ logGroupName: this.config.log_group, startTime: Date.now(), limit: 1 }));
    } catch (error) {
      const fatal = awsFatalError(error, `pipeline.sources.${this.input}: CloudWatch Logs group ${this.config.log_group}`);
      if (fatal) throw fatal;
      this.log.warn({ source: this.name, err: `${awsErrorName(error)}: ${(error as Error).message}` },
        isThrottling(error) ? 'CloudWatch Logs is throttling; reading will back off' : 'cannot reach CloudWatch Logs yet; will keep trying');
    }
    this.running = this.run().catch((error: Error) => this.log.error({ source: this.name, err: error.message }, 'CloudWatch reading stopped'));
  }

  /** The slowest sink's checkpoint: where reading resumes. */
  private slowest(): CloudwatchCheckpoint {
    return Object.values(this.state.sinks).reduce((a, b) => (b.time < a.time || (b.time === a.time && b.ids.length < a.ids.length) ? b : a));
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    const resume = this.slowest();
    let query: Query | null = resume.query && { ...resume.query };
    let next = resume.time;
    let boundary = newBoundary(resume.time, resume.ids);
    const retry = new Retry(AWS_RETRY);
    this.log.info({ source: this.name, log_group: this.config.log_group, from: new Date(resume.time).toISOString(), resuming_query: query !== null }, 'reading CloudWatch Logs');
    while (!this.stopped) {
      await this.buffer.waitForRoom(MAX_BUFFERED_EVENTS, signal);
      if (this.stopped) break;
      if (!query) {
        const end = Date.now() - this.config.settle_seconds * 1000;
        if (end < next) {
          await sleep(Math.min(this.config.poll_seconds * 1000, next - end + 10), signal);
          continue;
        }
        query = { start: next, end, token: null };
      }
      let page: FilterLogEventsCommandOutput;
      try {
        this.calls++;
        page = await this.client.send(new FilterLogEventsCommand({
          logGroupName: this.config.log_group,
          logStreamNamePrefix: this.config.stream_prefix,
          filterPattern: this.config.filter_pattern,
          startTime: query.start,
          endTime: query.end,
          nextToken: query.token ?? undefined,
          limit: this.config.page_size,
        }), { abortSignal: signal });
      } catch (error) {
        if (this.stopped) break;
        const name = awsErrorName(error);
        if (query.token !== null && name === 'InvalidParameterException') {
          // an expired page token: the same query again from the boundary (its ids are passed over)
          this.log.warn({ source: this.name, err: (error as Error).message }, 'page token refused; reading on from the last delivered time instead');
          query = { start: boundary.time, end: query.end, token: null };
          continue;
        }
        if (isThrottling(error)) this.throttled++;
        const { delay, log } = retry.failed();
        if (log) {
          this.log.warn({ source: this.name, err: `${name}: ${(error as Error).message}`, attempts: retry.attempts, retry_in_ms: delay },
            isThrottling(error) ? 'CloudWatch Logs is throttling; backing off' : 'cannot read CloudWatch Logs; will retry');
        }
        await sleep(delay, signal);
        continue;
      }
      retry.succeeded();
      const pageQuery = { ...query };
      for (const event of page.events ?? []) {
        if (event.timestamp === undefined || event.eventId === undefined) continue;
        const time = event.timestamp;
        if (time > boundary.time) boundary = newBoundary(time);
        // before the boundary: the start of a resumed page, which every sink has already
        if (time < boundary.time || boundary.read.has(event.eventId)) continue;
        boundary.read.add(event.eventId);
        let at = boundary.index.get(event.eventId);
        if (at === undefined) {
          at = boundary.ids.push(event.eventId) - 1;
          boundary.index.set(event.eventId, at);
        }
        const stream = event.logStreamName ?? '';
        const { events, errors } = this.reader.read({
          id: event.eventId, timestamp: time, message: event.message ?? '',
          input: cloudwatchInput(this.config.log_group, stream), server: this.config.server ?? (stream || null),
        });
        for (const error of errors) this.parseError(error);
        this.buffer.push({ events, time, id: event.eventId, query: pageQuery, boundary, count: at + 1 });
      }
      if (page.nextToken) {
        query.token = page.nextToken;
        continue;
      }
      // the query is complete: everything up to its end is read
      next = query.end + 1;
      boundary = newBoundary(next);
      this.buffer.push({ events: [], time: next, id: null, query: null, boundary, count: 0 });
      query = null;
      await sleep(this.config.poll_seconds * 1000, signal);
    }
  }

  /** parse errors so far (each logged, at most one line per second) */
  get parseErrors(): number {
    return this.parseErrorLog.count;
  }

  private parseError(error: { input: string; reason: string; excerpt: string }): void {
    this.parseErrorLog.record({ input: error.input, reason: error.reason, excerpt: error.excerpt });
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.buffer.changed(ms, signal);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    this.buffer.stop();
    await this.running;
    await this.file.idle();
    this.client.destroy();
    this.log.info({ source: this.name, calls: this.calls, throttled: this.throttled, parse_errors: this.parseErrors }, 'CloudWatch source stopped');
  }
}

export async function build({ name, config, log }: SourceContext<CloudwatchSourceConfig>): Promise<Source[]> {
  return [new CloudwatchSource({ input: name, config, log })];
}
