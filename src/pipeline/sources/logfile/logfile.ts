// Log files as a pipeline source: follows every file of a directory whose name matches a
// pattern, through rotation (new files, renames, truncation by copytruncate), and parses them
// with src/logs. Per sink it keeps a durable checkpoint for each file: the file's identity
// (dev, inode, and its first bytes, so a reused inode or a rewritten file is noticed) and the
// byte offset of the next record to deliver. Checkpoints live in one JSON file per source in
// state_dir, replaced atomically (write a temporary file, fsync, rename, fsync the directory).
//
// Lanes and back-pressure are the shared LaneBuffer's (lane-buffer.ts): parsed events wait there,
// one partition per file in the order the files were found (oldest first), until every sink has
// settled them; a file is read while fewer than
// MAX_BUFFERED_EVENTS of its events wait. After a restart, the checkpoints say which events a sink
// already has (the buffer's skip hook passes over them).
import { watch, type FSWatcher } from 'node:fs';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PgwardenError } from '../../../core/errors.ts';
import { canonicalInput } from '../../../core/input-identity.ts';
import type { ParseError, PgwardenEvent } from '../../../core/event.ts';
import { OPAQUE_PREFIX, PREFIXED_FORMATS, compilePrefix, createParser, detectFormat, detectPrefix, type LogFormat, type LogParser } from '../../../logs/index.ts';
import { CheckpointFile, versioned } from '../../checkpoint.ts';
import type { SourceContext } from '../../build.ts';
import { ParseErrorLog } from '../../parse-errors.ts';
import { LaneBuffer, MAX_BUFFERED_EVENTS, type BufferEntry } from '../../lane-buffer.ts';
import type { Lane, Sink, Source, Wake } from '../../types.ts';
import type { LogfileSourceConfig } from './config.ts';
const READ_CHUNK = 1024 * 1024;
/** How much of a file's beginning identifies it and decides its format. */
const HEAD_BYTES = 128;
const DETECT_BYTES = 64 * 1024;
const STATE_VERSION = 1;
/** File names remembered for unique inputs. */
const MAX_NAMES = 1000;

/** Where a sink stands in one file: the next record starts at `offset` (on `line`); `delivered` means the record at `offset` itself was already delivered. */
export interface Checkpoint {
  offset: number;
  line: number;
  delivered: boolean;
}

interface FileState {
  /** the name the file had when first seen: every event's source.input, stable across renames */
  input: string;
  /** where it is now */
  path: string;
  dev: number;
  ino: number;
  /** hex of its first bytes (up to HEAD_BYTES) */
  head: string;
  sinks: Record<string, Checkpoint>;
}

export interface LogfileState {
  version: number;
  source: string;
  files: Record<string, FileState>;
  /** how many inputs each path has named: a reused name or a truncated file gets `path#2`, `path#3`, … */
  names: Record<string, number>;
}

interface Tracked {
  key: string;
  state: FileState;
  handle: FileHandle;
  order: number;
  generation: number;
  parser: LogParser | null;
  format: LogFormat | null;
  prefix: string | undefined;
  /** bytes of the file handed to the parser, and where the parser started */
  readOffset: number;
  base: { offset: number; line: number };
  /** entries of this file in the buffer, not yet released by every sink */
  held: number;
  lastGrowth: number;
  flushed: boolean;
  /** no longer in the directory under a matching name: read to its end, then forget */
  gone: boolean;
  head: Buffer;
  /** the size last seen while waiting to decide the format */
  detectSize: number;
}

/** A glob of `*` and `?` as a regular expression over a whole file name. */
export function globRegex(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`, 's');
}

/** One parsed event in the buffer, with the file (and its generation: a truncation starts a new one) it came from. */
interface Entry extends BufferEntry {
  key: string;
  generation: number;
}

export interface LogfileSourceOptions {
  input: string;
  config: LogfileSourceConfig;
  log: Logger;
}

export class LogfileSource implements Source {
  readonly name: string;
  readonly input: string;
  private readonly config: LogfileSourceConfig;
  private readonly log: Logger;
  private readonly file: CheckpointFile<LogfileState>;
  private state: LogfileState;
  private readonly files = new Map<string, Tracked>();
  /** the sinks that have a lane */
  private readonly sinks = new Set<string>();
  private readonly buffer: LaneBuffer<Entry>;
  private readonly matcher: RegExp;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private stopped = false;
  private scanning: Promise<void> | null = null;
  private rescan = false;
  /** config.path resolved at start */
  private dir = '';
  private order = 0;
  private readonly parseErrorLog: ParseErrorLog;
  private readonly unreadable = new Set<string>();
  private directoryProblem: string | null = null;

  constructor(options: LogfileSourceOptions) {
    this.input = options.input;
    this.name = options.input;
    this.config = options.config;
    this.log = options.log;
    this.matcher = globRegex(options.config.pattern);
    this.parseErrorLog = new ParseErrorLog(options.log, options.input);
    if (options.config.prefix !== undefined) {
      try {
        compilePrefix(options.config.prefix);
      } catch (error) {
        throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sources.${options.input}.prefix: ${(error as Error).message}`, { cause: error });
      }
    }
    this.file = new CheckpointFile({
      dir: options.config.state_dir, file: `logfile-${options.input}.json`, where: `pipeline.sources.${options.input}`, indent: 1,
      startOver: 'to start over from the beginning of the logs',
    });
    this.buffer = new LaneBuffer<Entry>(options.input, {
      skip: (sink, entry) => this.skip(sink, entry),
      settled: (sink, entries) => this.settled(sink, entries),
      released: (entries) => this.released(entries),
    });
    this.state = this.file.load(() => ({ version: STATE_VERSION, source: this.input, files: {}, names: {} }), (parsed) => {
      versioned<LogfileState>(STATE_VERSION, 'files')(parsed);
      parsed.names ??= {};
      return parsed;
    });
  }

  /**
   * The source.input of a file's events: its path, unique for the life of the checkpoints, so that
   * (input, position) identifies a record even when rotation reuses a name or truncates a file.
   */
  private newInput(found: string): string {
    // the directory is resolved already; a file in it that is a symbolic link is named by its target,
    // as `ingest` and `parse` name it (canonicalInput): one input whichever reads the file
    let path = found;
    try {
      path = canonicalInput(found);
    } catch {
      // gone since it was listed: named as found (it will not be read)
    }
    const n = (this.state.names[path] ?? 0) + 1;
    delete this.state.names[path];
    this.state.names[path] = n; // most recent last
    // remember the last MAX_NAMES names (timestamped log names are never reused; weekday names are, often)
    const names = Object.keys(this.state.names);
    const inUse = new Set(Object.values(this.state.files).map((f) => f.path));
    for (let i = 0; i < names.length - MAX_NAMES; i++) if (!inUse.has(names[i]!)) delete this.state.names[names[i]!];
    return n === 1 ? path : `${path}#${n}`;
  }

  /** Parsed events held in memory, waiting for some sink (back-pressure keeps it near MAX_BUFFERED_EVENTS). */
  get buffered(): number {
    return this.buffer.buffered;
  }

  /** The checkpoints as stored (for tests and `status`). */
  get checkpoints(): LogfileState {
    return this.state;
  }

  lane(sink: Sink): Lane {
    this.sinks.add(sink.name);
    return this.buffer.lane(sink);
  }

  async start(): Promise<void> {
    try {
      const info = await stat(this.config.path);
      if (!info.isDirectory()) throw new Error('not a directory');
      // new files are named by their resolved absolute path (source.input): the same file is one input
      // however the directory is spelled (relative, through a symbolic link)
      this.dir = await realpath(this.config.path);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sources.${this.input}.path: ${this.config.path}: ${(error as Error).message}`, { cause: error });
    }
    await this.scan();
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => this.poke());
      this.watcher.on('error', () => undefined);
    } catch {
      // polling alone
    }
    const tick = () => {
      if (this.stopped) return;
      void this.scan().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, this.config.poll_ms);
      });
    };
    this.timer = setTimeout(tick, this.config.poll_ms);
  }

  private poke(): void {
    if (this.stopped) return;
    void this.scan();
  }

  /** Looks at the directory and every followed file; reads what is new. One at a time. */
  private scan(): Promise<void> {
    if (this.scanning) {
      this.rescan = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.rescan = false;
        try {
          await this.scanOnce();
        } catch (error) {
          const message = (error as Error).message;
          if (message !== this.directoryProblem) this.log.warn({ source: this.name, err: message }, 'cannot follow the log directory (or save its checkpoints)');
          this.directoryProblem = message;
          continue;
        }
        this.directoryProblem = null;
      } while (this.rescan && !this.stopped);
    })().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    const names = (await readdir(this.dir)).filter((n) => this.matcher.test(n));
    const found: { path: string; key: string; dev: number; ino: number; mtime: number }[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      const info = await stat(path).catch(() => null);
      if (!info?.isFile()) continue;
      found.push({ path, key: `${info.dev}:${info.ino}`, dev: info.dev, ino: info.ino, mtime: info.mtimeMs });
    }
    // oldest first, so that rotated files go out before their successors
    found.sort((a, b) => a.mtime - b.mtime || a.path.localeCompare(b.path));
    const present = new Set(found.map((f) => f.key));
    let changed = false;
    for (const f of found) {
      const tracked = this.files.get(f.key);
      if (tracked) {
        if (tracked.state.path !== f.path) {
          this.log.info({ source: this.name, from: tracked.state.path, to: f.path }, 'log file renamed; following it');
          tracked.state.path = f.path;
        }
        tracked.gone = false;
      } else {
        await this.follow(f.path, f.key, f.dev, f.ino);
        changed = true;
      }
    }
    for (const tracked of this.files.values()) {
      if (!present.has(tracked.key) && !tracked.gone) {
        tracked.gone = true;
        this.log.info({ source: this.name, file: tracked.state.path }, 'log file moved away or deleted; reading it to its end');
      }
    }
    // forget files no longer in the directory that no followed file has (left from an earlier run)
    for (const key of Object.keys(this.state.files)) {
      if (!this.files.has(key)) {
        delete this.state.files[key];
        changed = true;
      }
    }
    // new files' input names are durable before their events can be delivered
    if (changed) await this.save();
    changed = false;
    for (const tracked of this.files.values()) if (await this.read(tracked)) changed = true;
    for (const tracked of [...this.files.values()]) if (this.finished(tracked)) {
      await tracked.handle.close().catch(() => undefined);
      this.files.delete(tracked.key);
      this.buffer.drop(tracked.key);
      delete this.state.files[tracked.key];
      changed = true;
    }
    if (changed) await this.save();
  }

  /** A file read to its end after it went away, with every event settled by every sink. */
  private finished(tracked: Tracked): boolean {
    // a batch in flight still holds its entries
    return tracked.gone && tracked.flushed && tracked.held === 0;
  }

  private async follow(path: string, key: string, dev: number, ino: number): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      // said once per file, not at every scan
      if (!this.unreadable.has(key)) this.log.warn({ source: this.name, file: path, err: (error as Error).message }, 'cannot open log file');
      this.unreadable.add(key);
      return;
    }
    this.unreadable.delete(key);
    const head = await this.readHead(handle);
    let state = this.state.files[key];
    if (state && !sameHead(Buffer.from(state.head, 'hex'), head)) {
      // the inode was reused by another file, or the file was rewritten: start over
      this.log.info({ source: this.name, file: path }, 'log file is not the one checkpointed under its inode; reading it from the start');
      state = undefined;
    }
    state ??= { input: this.newInput(path), path, dev, ino, head: head.toString('hex'), sinks: {} };
    state.path = path;
    this.state.files[key] = state;
    for (const sink of this.sinks) state.sinks[sink] ??= { offset: 0, line: 1, delivered: false };
    const start = Math.min(...[...this.sinks].map((sink) => state.sinks[sink]!.offset), Number.MAX_SAFE_INTEGER);
    const from = [...this.sinks].map((sink) => state.sinks[sink]!).find((c) => c.offset === start) ?? { offset: 0, line: 1 };
    const tracked: Tracked = {
      key, state, handle, order: this.order++, generation: 0, parser: null, format: null, prefix: this.config.prefix,
      readOffset: from.offset, base: { offset: from.offset, line: from.line }, held: 0,
      lastGrowth: Date.now(), flushed: true, gone: false, head, detectSize: -1,
    };
    if (this.config.format !== 'auto') tracked.format = this.config.format;
    this.files.set(key, tracked);
    // its place in the order batches take files in (oldest first, as the scan found them)
    this.buffer.addPartition(key);
    this.log.info({ source: this.name, file: path, offset: from.offset }, 'following log file');
  }

  private async readHead(handle: FileHandle): Promise<Buffer> {
    const buffer = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, HEAD_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  }

  /** Reads what is new in a file (while its buffer has room); true when the checkpoints file should be saved. */
  private async read(tracked: Tracked): Promise<boolean> {
    let changed = false;
    const info = await tracked.handle.stat();
    // truncated (copytruncate), or rewritten from the start?
    const head = await this.readHead(tracked.handle);
    if (info.size < tracked.readOffset || !sameHead(tracked.head, head)) {
      // its new input name is saved before any of its events are read
      this.truncated(tracked, head);
      return true;
    }
    if (head.length > tracked.head.length) {
      tracked.head = head;
      tracked.state.head = head.toString('hex');
      changed = true;
    }
    if (!tracked.parser && !(await this.decideFormat(tracked, info.size))) return changed;
    let grew = false;
    while (tracked.readOffset < info.size && tracked.held < MAX_BUFFERED_EVENTS && !this.stopped) {
      const length = Math.min(READ_CHUNK, info.size - tracked.readOffset);
      const buffer = Buffer.allocUnsafe(length);
      const { bytesRead } = await tracked.handle.read(buffer, 0, length, tracked.readOffset);
      if (bytesRead === 0) break;
      tracked.readOffset += bytesRead;
      tracked.parser!.write(buffer.subarray(0, bytesRead));
      grew = true;
    }
    const now = Date.now();
    if (grew) {
      tracked.lastGrowth = now;
      tracked.flushed = false;
    } else if (!tracked.flushed && (now - tracked.lastGrowth >= this.config.idle_flush_ms || tracked.gone) && tracked.readOffset >= info.size) {
      // a stderr record is complete only when the next begins: after a quiet while, it is
      if (tracked.gone) tracked.parser!.end();
      else tracked.parser!.flush();
      tracked.flushed = true;
    }
    return changed;
  }

  /** For `format: auto`, decides from the file's beginning once enough of it is there (or it has been quiet a while). */
  private async decideFormat(tracked: Tracked, size: number): Promise<boolean> {
    if (size === 0) return false;
    if (tracked.format === null || (tracked.format === 'stderr' && tracked.prefix === undefined)) {
      const now = Date.now();
      if (size !== tracked.detectSize) {
        tracked.detectSize = size;
        tracked.lastGrowth = now;
      }
      const length = Math.min(size, DETECT_BYTES);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await tracked.handle.read(buffer, 0, length, 0);
      const sample = buffer.subarray(0, bytesRead).toString('utf8');
      const lines = sample.split('\n').length - 1;
      const quiet = now - tracked.lastGrowth >= this.config.idle_flush_ms;
      if (length < DETECT_BYTES && lines < 20 && !quiet && !tracked.gone) return false;
      tracked.format ??= detectFormat(sample);
      if (tracked.format === 'stderr') tracked.prefix ??= detectPrefix(sample);
      if (tracked.format === 'stderr' && tracked.prefix === OPAQUE_PREFIX) {
        // Events would lose time, pid, user and database: say so loudly, once per file.
        this.log.error({ source: this.name, file: tracked.state.path },
          'stderr log with a log_line_prefix pgwarden does not recognise: time, pid, user and database will be null; set prefix: in the source to the server\'s log_line_prefix');
      } else {
        this.log.info({ source: this.name, file: tracked.state.path, format: tracked.format, prefix: tracked.prefix }, 'log format');
      }
    }
    this.newParser(tracked);
    return true;
  }

  private newParser(tracked: Tracked): void {
    const base = tracked.base;
    const generation = tracked.generation;
    tracked.parser = createParser(
      // The prefix goes to every format that carries the server's lines (syslog, journald,
      // cloudsql as well as stderr); without one configured, those recognise it from their bodies.
      { format: tracked.format!, prefix: PREFIXED_FORMATS.has(tracked.format!) ? tracked.prefix : undefined, server: this.config.server, input: tracked.state.input },
      {
        event: (event) => {
          if (tracked.generation !== generation) return;
          event.source.position += base.offset;
          if (event.source.line !== null) event.source.line += base.line - 1;
          tracked.held++;
          this.buffer.push({ events: [event], key: tracked.key, generation }, tracked.key);
        },
        error: (error) => this.parseError(error, base),
      },
    );
  }

  /** parse errors so far (each is also logged, at most one line per second) */
  get parseErrors(): number {
    return this.parseErrorLog.count;
  }

  private parseError(error: ParseError, base: { offset: number; line: number }): void {
    this.parseErrorLog.record({
      input: error.input, position: error.position + base.offset, line: error.line + base.line - 1, reason: error.reason, excerpt: error.excerpt,
    });
  }

  private truncated(tracked: Tracked, head: Buffer): void {
    this.log.info({ source: this.name, file: tracked.state.path, at: tracked.readOffset }, 'log file truncated or rewritten; reading it from the start');
    // what was read of the old content is passed over in the buffer (skip: another generation)
    tracked.generation++;
    tracked.readOffset = 0;
    tracked.base = { offset: 0, line: 1 };
    tracked.head = head;
    tracked.state.head = head.toString('hex');
    tracked.state.input = this.newInput(tracked.state.path);
    tracked.flushed = true;
    tracked.lastGrowth = Date.now();
    tracked.parser = null;
    for (const sink of this.sinks) tracked.state.sinks[sink] = { offset: 0, line: 1, delivered: false };
  }

  /**
   * An entry a lane passes over: of a file no longer followed or of its content before a
   * truncation, or one the sink's checkpoint says it had before a restart.
   */
  private skip(sink: string, entry: Entry): boolean {
    const tracked = this.files.get(entry.key);
    if (!tracked || tracked.generation !== entry.generation) return true;
    const checkpoint = tracked.state.sinks[sink];
    if (!checkpoint) return false;
    const position = entry.events[0]!.source.position;
    return position < checkpoint.offset || (checkpoint.delivered && position === checkpoint.offset);
  }

  /** A sink settled these entries: its checkpoint in each of their files is the last one, delivered. */
  private settled(sink: string, entries: Entry[]): Promise<void> {
    const last = new Map<string, PgwardenEvent>();
    for (const entry of entries) {
      const tracked = this.files.get(entry.key);
      if (tracked && tracked.generation === entry.generation) last.set(entry.key, entry.events[0]!);
    }
    for (const [key, event] of last) {
      this.files.get(key)!.state.sinks[sink] = { offset: event.source.position, line: event.source.line ?? 1, delivered: true };
    }
    return this.save();
  }

  /** Every sink is past these entries: read on in files that had paused for them. */
  private released(entries: Entry[]): void {
    let paused = false;
    for (const entry of entries) {
      const tracked = this.files.get(entry.key);
      if (!tracked) continue;
      if (tracked.held >= MAX_BUFFERED_EVENTS) paused = true;
      tracked.held--;
    }
    if (paused && !this.stopped) void this.scan();
  }

  private save(): Promise<void> {
    return this.file.save(this.state);
  }

  changed(ms: number, signal: AbortSignal): Promise<Wake> {
    return this.buffer.changed(Math.min(ms, this.config.poll_ms), signal);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watcher?.close();
    await this.scanning?.catch(() => undefined);
    await this.file.idle();
    for (const tracked of this.files.values()) await tracked.handle.close().catch(() => undefined);
    this.files.clear();
    this.buffer.stop();
  }
}

/** Two beginnings of a file agree on what both hold. */
function sameHead(a: Buffer, b: Buffer): boolean {
  const n = Math.min(a.length, b.length);
  return a.subarray(0, n).equals(b.subarray(0, n));
}

export async function build({ name, config, log }: SourceContext<LogfileSourceConfig>): Promise<Source[]> {
  return [new LogfileSource({ input: name, config, log })];
}
