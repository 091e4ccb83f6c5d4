// What `pgwarden collect` is doing, per lane (source → sink), written every few seconds to a
// JSON file another process reads (`pgwarden collect status`): how many events went, how fast,
// where the source is (the last delivered event's input and position), how far behind (the age of
// what is waiting), the last error, and whether the lane is stuck (waiting longer than
// stuck_seconds without a delivery). Fed by the lanes' own steps in graph.ts; nothing here reads a
// source or a sink.
import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { PipelineConfig } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import type { Pending, Sink, Source } from './types.ts';
import { defaultStateDir } from './checkpoint.ts';

export const STATUS_VERSION = 1;
/** How often the file is rewritten while collect runs. */
export const STATUS_INTERVAL_MS = 2000;
/** A status not rewritten for this long belongs to a collect that no longer runs (or hangs). */
export const STALE_AFTER_MS = 15_000;

export interface LaneStatus {
  source: string;
  /** the configured source (`pipeline.sources` name) */
  input: string;
  sink: string;
  delivered: number;
  /** delivered per second over the last minute */
  events_per_second: number;
  /** the last delivered event's source: file (or stream, queue) and byte offset (or id) */
  position: { input: string; position: number } | null;
  last_event_ts: string | null;
  last_delivery_at: string | null;
  /** since when a batch waits for this sink (null: nothing waiting) */
  waiting_since: string | null;
  /** age of the oldest event waiting (by its time; else how long it has waited), 0 when caught up */
  lag_seconds: number;
  failures: number;
  last_error: { at: string; stage: 'receiving' | 'sending' | 'recording'; message: string } | null;
  stuck: boolean;
  /** events the sink set aside since collect started (the repository's pgwarden_repo.rejected_batches) */
  set_aside: number;
  /** their rows in pgwarden_repo.rejected_batches (the last MAX_SET_ASIDE_IDS) */
  set_aside_ids: number[];
}

/** How many rejected_batches ids a lane's status lists. */
export const MAX_SET_ASIDE_IDS = 20;

/** A source's own counters (Source.counters: the syslog source's received, lost, connections …). */
export interface SourceStatus {
  source: string;
  input: string;
  counters: Record<string, number | boolean | null>;
}

export interface CollectStatusFile {
  version: number;
  pid: number;
  started_at: string;
  updated_at: string;
  stopped_at: string | null;
  stuck_seconds: number;
  lanes: LaneStatus[];
  /** the sources that keep counters of their own (absent in a file of an older collect) */
  sources?: SourceStatus[];
}

/**
 * The status file of a pipeline config: pipeline.status.file, else one named after the config
 * file's path (so that two collects with two configs never share one, and `collect status` with
 * the same --config finds it) beside the checkpoints: in the first source's state_dir, or the
 * default state directory.
 */
export function statusFile(pipeline: PipelineConfig, configPath: string): string {
  if (pipeline.status.file) return pipeline.status.file;
  const stateDir = Object.values(pipeline.sources).map((s) => ('state_dir' in s ? s.state_dir : undefined)).find((d) => d !== undefined);
  const key = createHash('sha256').update(resolve(configPath)).digest('hex').slice(0, 12);
  return join(stateDir ?? defaultStateDir(), `collect-status-${key}.json`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One lane's bookkeeping; graph.ts calls these at each step. */
export class LaneRecorder {
  private readonly state: LaneStatus;
  private waitingSince: number | null = null;
  private oldestTs: number | null = null;
  private readonly recent: { at: number; events: number }[] = [];
  constructor(source: Source, sink: Sink, private readonly now: () => number, private readonly stuckMs: number) {
    this.state = {
      source: source.name, input: source.input, sink: sink.name, delivered: 0, events_per_second: 0, position: null, last_event_ts: null,
      last_delivery_at: null, waiting_since: null, lag_seconds: 0, failures: 0, last_error: null, stuck: false, set_aside: 0, set_aside_ids: [],
    };
  }
  /** The source gave a batch (or, null, had nothing: caught up). */
  taken(pending: Pending | null): void {
    if (!pending) {
      this.waitingSince = null;
      this.oldestTs = null;
      return;
    }
    this.waitingSince ??= this.now();
    const times = pending.events.map((e) => (e.ts ? Date.parse(e.ts) : NaN)).filter((t) => !Number.isNaN(t));
    if (times.length > 0) this.oldestTs = Math.min(this.oldestTs ?? Infinity, ...times);
  }
  delivered(pending: Pending): void {
    const at = this.now();
    this.state.delivered += pending.events.length;
    this.recent.push({ at, events: pending.events.length });
    const last = pending.events[pending.events.length - 1];
    if (last) {
      this.state.position = { input: last.source.input, position: last.source.position };
      this.state.last_event_ts = last.ts;
    }
    this.state.last_delivery_at = new Date(at).toISOString();
    this.waitingSince = null;
    this.oldestTs = null;
  }
  /** The sink stored the batch but set `events` of it aside, as these rejected_batches rows. */
  setAside(events: number, ids: number[]): void {
    this.state.set_aside += events;
    this.state.set_aside_ids = [...this.state.set_aside_ids, ...ids].slice(-MAX_SET_ASIDE_IDS);
  }
  failed(stage: 'receiving' | 'sending' | 'recording', message: string): void {
    this.state.failures += 1;
    this.state.last_error = { at: new Date(this.now()).toISOString(), stage, message: message.slice(0, 500) };
    // a source that cannot be read is waited on as much as a sink that refuses
    if (stage === 'receiving') this.waitingSince ??= this.now();
  }
  snapshot(): LaneStatus {
    const now = this.now();
    while (this.recent.length > 0 && this.recent[0]!.at < now - 60_000) this.recent.shift();
    const minute = this.recent.reduce((n, r) => n + r.events, 0);
    const waited = this.waitingSince === null ? 0 : now - this.waitingSince;
    return {
      ...this.state,
      events_per_second: Math.round((minute / 60) * 100) / 100,
      waiting_since: this.waitingSince === null ? null : new Date(this.waitingSince).toISOString(),
      lag_seconds: this.waitingSince === null ? 0 : Math.round(Math.max(0, now - (this.oldestTs ?? this.waitingSince)) / 100) / 10,
      stuck: this.waitingSince !== null && waited >= this.stuckMs,
    };
  }
}

/** The status file of one running collect. */
export class CollectStatus {
  private readonly lanes: LaneRecorder[] = [];
  private readonly sources: Source[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt: string;
  private writing: Promise<void> = Promise.resolve();
  constructor(readonly file: string, private readonly stuckSeconds: number, private readonly now = () => Date.now()) {
    this.startedAt = new Date(this.now()).toISOString();
  }
  lane(source: Source, sink: Sink): LaneRecorder {
    const recorder = new LaneRecorder(source, sink, this.now, this.stuckSeconds * 1000);
    this.lanes.push(recorder);
    return recorder;
  }
  /** A source whose counters() the file shows. */
  source(source: Source): void {
    this.sources.push(source);
  }
  /** Refuses a file another running collect writes (two collects with one config would clobber each other's checkpoints too). */
  async claim(): Promise<void> {
    const other = await readStatus(this.file).catch(() => null);
    if (other && other.pid !== process.pid && other.stopped_at === null && processAlive(other.pid) && this.now() - Date.parse(other.updated_at) < STALE_AFTER_MS) {
      throw new PgwardenError('PGW_ERR_CONFIG', `another pgwarden collect (pid ${other.pid}) is running with the status file ${this.file}`,
        { hint: 'Stop it first, or give this collect its own pipeline.status.file and state_dir.' });
    }
  }
  /** The first status, once the lanes exist, and one every STATUS_INTERVAL_MS from then on. */
  async start(): Promise<void> {
    try {
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      await this.write(null);
    } catch (error) {
      if (error instanceof PgwardenError) throw error;
      throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.status.file: cannot write ${this.file}: ${(error as Error).message}`, { cause: error });
    }
    this.timer = setInterval(() => { this.writing = this.writing.then(() => this.write(null)).catch(() => undefined); }, STATUS_INTERVAL_MS);
    this.timer.unref();
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writing;
    await this.write(new Date(this.now()).toISOString()).catch(() => undefined);
  }
  private async write(stoppedAt: string | null): Promise<void> {
    const status: CollectStatusFile = {
      version: STATUS_VERSION, pid: process.pid, started_at: this.startedAt, updated_at: new Date(this.now()).toISOString(),
      stopped_at: stoppedAt, stuck_seconds: this.stuckSeconds, lanes: this.lanes.map((l) => l.snapshot()),
      sources: this.sources.map((s) => ({ source: s.name, input: s.input, counters: s.counters!() })),
    };
    // a reader never sees half a file: a temporary one, renamed over it
    // (a name nobody can guess, created exclusively: never written through a planted symlink)
    const temp = `${this.file}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(status, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    await rename(temp, this.file);
  }
}

export async function readStatus(file: string): Promise<CollectStatusFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new PgwardenError('PGW_ERR_NOT_FOUND', `no collect status in ${file}: pgwarden collect has not run with this configuration`,
        { hint: 'Start `pgwarden collect` with the same config; give `collect status` the same --config (or pipeline.status.file) as collect.' });
    }
    throw new PgwardenError('PGW_ERR_INPUT', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const status = JSON.parse(text) as CollectStatusFile;
    if (status.version !== STATUS_VERSION || !Array.isArray(status.lanes)) throw new Error(`version ${String(status.version)}`);
    return status;
  } catch (error) {
    throw new PgwardenError('PGW_ERR_INPUT', `${file} is not a collect status this pgwarden reads (${(error as Error).message})`, { cause: error });
  }
}

/** What is wrong with a collect, if anything: not running any more, stuck lanes, or events set aside since it started. */
export function collectProblem(status: CollectStatusFile, now = Date.now()): string | null {
  if (status.stopped_at) return `pgwarden collect (pid ${status.pid}) stopped at ${status.stopped_at}`;
  if (!processAlive(status.pid)) return `pgwarden collect (pid ${status.pid}) is not running; its last status is from ${status.updated_at}`;
  if (now - Date.parse(status.updated_at) > STALE_AFTER_MS) return `pgwarden collect (pid ${status.pid}) has not updated its status since ${status.updated_at}: it hangs`;
  const stuck = status.lanes.filter((l) => l.stuck);
  if (stuck.length > 0) {
    return `${stuck.length} lane${stuck.length === 1 ? ' is' : 's are'} stuck (waiting over ${status.stuck_seconds} s): ` +
      stuck.map((l) => `${l.source} → ${l.sink}${l.last_error ? ` (${l.last_error.stage}: ${l.last_error.message})` : ''}`).join('; ');
  }
  // stored around them, but not stored: an operator must look (docs/repository.md#refused-batches-set-aside)
  const aside = status.lanes.filter((l) => (l.set_aside ?? 0) > 0);
  if (aside.length > 0) {
    return `the repository refused events for their data since collect started; set aside in pgwarden_repo.rejected_batches: ` +
      aside.map((l) => `${l.source} → ${l.sink}: ${l.set_aside} event${l.set_aside === 1 ? '' : 's'} (ids ${l.set_aside_ids.join(', ')})`).join('; ');
  }
  return null;
}
