// Detection inside collect (detect.in_collect): the engine as one more consumer of every source,
// and a source of alerts for the alert sinks. Two halves around one checkpoint file:
//
// - In: a sink named `detect` with a lane from every source, like any sink. Its deliver() runs the
//   batch through the engine in the records' own time (as `detect replay` does), puts the new
//   notices in an outbox, and appends the batch's records to a journal (fsync) before it
//   resolves; only then does the source settle the batch. A kill -9 between the two makes the
//   source send the same batch again (from the same first record): the checkpoint says how many
//   of its records the state already holds, and those are passed over. So every record is
//   counted once, whenever collect dies.
// - The checkpoint is detect.json (engine snapshot, outbox, batches, sent: replaced atomically)
//   plus the journal of what happened since: detect-journal-<generation>.jsonl, one line per
//   batch (its records) or per sink's progress. The engine is deterministic, so the snapshot
//   with the journal's batches processed again is the state collect had. Writing the snapshot
//   whole per batch cost time in proportion to the state (341 ms a batch for 100,000 roles'
//   logins, 15 MB: bench:detect), so it is written only once the journal has grown past twice
//   the snapshot (and at stop): the cost per batch is its records, whatever the state.
// - Out: per alert sink, a loop that sends the outbox's notices in order, one message per notice
//   with the notice's id (`<incident id>:<n>`) as the delivery id, and records in the same file
//   how far each sink got. A kill -9 after a send and before that record sends the notice again
//   under the same id (receivers drop it, as for DDL alerts); nothing is lost.
import { constants, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DETECT_INPUT, type Config } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import type { PgwardenEvent } from '../core/event.ts';
import { sleep } from '../core/sleep.ts';
import { alertOf } from '../detect/alert.ts';
import { createEngine } from '../detect/compile.ts';
import { ReplayFacts } from '../detect/facts.ts';
import { HistoryFacts, type HistoryQuery, type RolesQuery } from '../detect/history.ts';
import type { DetectEngine, EngineSnapshot } from '../detect/engine.ts';
import { ResponsePlanner } from '../detect/responses.ts';
import type { RuleSpec } from '../detect/types.ts';
import { CheckpointFile } from './checkpoint.ts';
import { backoff } from './retry.ts';
import type { AlertNotice, Pending, Sink } from './types.ts';

const CHECKPOINT_VERSION = 1;
/** The sink types that get detection alerts unless a rule names its own sinks. */
export const ALERT_SINK_TYPES = new Set(['email', 'webhook', 'syslog', 'repository']);
/** Batches remembered per first record's input (a rotated log is a new input): the oldest are forgotten. */
const BATCHES_KEPT = 1000;
/**
 * Notices kept for sinks that have not sent them (a receiver down for long): the oldest are
 * dropped past this, and counted. Each notice is bounded (detect.limits.events_per_incident), so
 * this bounds detect.json, which is rewritten whole, and collect's memory (about 1.7 kB a notice).
 */
export const OUTBOX_KEPT = 5000;
/** While a sink catches up, how often at most its progress is written (a kill -9 resends at most this much, under the same ids). */
const SENT_SAVE_MS = 1000;
/** The journal is folded into a new detect.json once it is this big and twice the last snapshot. */
const COMPACT_MIN_BYTES = 4 * 1024 * 1024;
const JOURNAL = /^detect-journal-(\d+)\.jsonl$/;

/** A journal line: a batch processed (b, with the records run through the engine) or a sink's progress (s). */
type JournalEntry =
  | { b: { key: string; position: number; ts: string | null; events: number; seen: number }; e: PgwardenEvent[] }
  | { s: { sink: string; seq: number } };

interface OutboxEntry {
  seq: number;
  notice: AlertNotice;
  sinks: string[];
}

interface DetectCheckpoint {
  version: number;
  engine: EngineSnapshot | null;
  /** per input of a batch's first record: that record, and how many records of its batch the engine holds */
  batches: [string, { position: number; ts: string | null; events: number }][];
  outbox: OutboxEntry[];
  next_seq: number;
  /** per alert sink: the seq of the next notice to send */
  sent: Record<string, number>;
  /** notices dropped from a full outbox (OUTBOX_KEPT) before every sink had sent them */
  dropped?: number;
  /** the journal that goes with this snapshot: detect-journal-<generation>.jsonl (absent: 0) */
  generation?: number;
}

export interface DetectStageOptions {
  config: Config;
  /** every sink of the pipeline, by name (the alert sinks among them) */
  sinks: Sink[];
  log: Logger;
  /**
   * Carries out a rule's actions for an opened incident (detect-responder.ts): one more consumer of
   * the outbox with its own place in the checkpoint, so that a response is never skipped by a
   * crash; the responder's response ids make a repeated call a no-op.
   */
  responder?: Sink;
  /**
   * The repository's history for the rules that ask about the past (dormant_role_login: the last
   * login per role, src/detect/history.ts): read per server at its first records, then refreshed.
   */
  history?: HistoryQuery;
  /** The privileged roles of a source's server, from its pg_roles (history.ts): read and refreshed with the history. */
  roles?: RolesQuery;
}

/** How often the repository's history is read again (what other writers stored meanwhile). */
const HISTORY_REFRESH_MS = 10 * 60_000;

export class DetectStage {
  readonly engine: DetectEngine;
  private readonly rules: Map<string, RuleSpec>;
  private readonly planner: ResponsePlanner;
  private readonly file: CheckpointFile<DetectCheckpoint>;
  private state: DetectCheckpoint;
  private readonly batches: Map<string, { position: number; ts: string | null; events: number }>;
  private readonly alertSinks: Sink[];
  private readonly defaultSinks: string[];
  private readonly controller = new AbortController();
  private wakers: (() => void)[] = [];
  private loops: Promise<void>[] = [];
  /** a sink's progress not yet written (sendLoop writes it at most every SENT_SAVE_MS) */
  private unsaved = false;
  private lastSave = 0;
  private readonly dir: string;
  /** bytes in the current journal, and in the last snapshot written */
  private journalBytes = 0;
  private snapshotBytes = 0;
  /** journal appends and snapshots, one after the other in the order of the changes they record */
  private writing: Promise<void> = Promise.resolve();
  /** journal lines an append that failed did not write: written before the next one */
  private unwritten = '';
  private readonly history: HistoryFacts | null;
  /** the journal processed again (after the history of its servers was read) */
  private readonly recovered: Promise<void>;

  constructor(private readonly options: DetectStageOptions) {
    const { config } = options;
    this.history = options.history || options.roles
      ? new HistoryFacts(new ReplayFacts(config.detect.privileged_roles), options.history ?? null,
        (server, what, error) => options.log.warn({ server, err: error.message }, `${what} could not be read: detection knows only what the records say until it can`),
        options.roles ?? null)
      : null;
    this.engine = this.history ? createEngine(config.detect, this.history) : createEngine(config.detect);
    this.rules = new Map(this.engine.rules.map((r) => [r.id, r]));
    this.planner = new ResponsePlanner({
      facts: this.engine.facts, breakGlassRoles: config.guard.break_glass_roles,
      protectedRoles: config.detect.responses.protected_roles, protectedNetworks: config.detect.responses.protected_networks,
    });
    const byName = new Map(options.sinks.map((s) => [s.name, s]));
    this.defaultSinks = options.sinks.filter((s) => ALERT_SINK_TYPES.has(s.type) && (!s.inputs || s.inputs.includes(DETECT_INPUT))).map((s) => s.name);
    const named = new Set(this.defaultSinks);
    for (const rule of this.engine.rules) {
      for (const name of rule.sinks ?? []) {
        const sink = byName.get(name);
        if (!sink?.deliverAlert) {
          throw new PgwardenError('PGW_ERR_CONFIG', `detect rule ${rule.id}: sinks: "${name}" is a ${sink?.type ?? 'missing'} sink, which cannot send alerts (email, webhook, syslog or jsonl)`);
        }
        named.add(name);
      }
    }
    this.alertSinks = [...named].map((name) => byName.get(name)!);
    if (options.responder) this.alertSinks.push(options.responder);
    const firstStateDir = Object.values(config.pipeline.sources).map((s) => (s as { state_dir?: string }).state_dir).find((d) => d !== undefined);
    this.file = new CheckpointFile<DetectCheckpoint>({
      dir: config.detect.state_dir ?? firstStateDir, file: 'detect.json', where: 'detect',
      startOver: 'to start detection afresh (open incidents and windows are forgotten; notices not yet sent are lost)',
    });
    this.state = this.file.load(
      () => ({ version: CHECKPOINT_VERSION, engine: null, batches: [], outbox: [], next_seq: 0, sent: {} }),
      (parsed) => {
        if (parsed?.version !== CHECKPOINT_VERSION || !Array.isArray(parsed.outbox)) throw new Error(`unknown version ${String(parsed?.version)}`);
        // a file cut or edited by hand: NaN sequence numbers or a missing sent would fail later, at the first alert
        if (!Array.isArray(parsed.batches) || !Number.isSafeInteger(parsed.next_seq) || parsed.sent === null || typeof parsed.sent !== 'object') {
          throw new Error('batches, next_seq or sent missing');
        }
        return parsed;
      });
    if (this.state.engine) {
      let afresh: string[];
      try {
        afresh = this.engine.restore(this.state.engine);
      } catch (error) {
        throw new PgwardenError('PGW_ERR_CONFIG', `the checkpoints in ${this.file.path} are unreadable (${(error as Error).message}); move the file away to start detection afresh (open incidents and windows are forgotten; notices not yet sent are lost)`, { cause: error });
      }
      if (afresh.length > 0) options.log.warn({ rules: afresh }, 'detection rules changed since the checkpoint start afresh');
    }
    this.batches = new Map(this.state.batches);
    this.dir = join(this.file.path, '..');
    this.snapshotBytes = existsSync(this.file.path) ? statSync(this.file.path).size : 0;
    this.recovered = this.recover();
    this.recovered.catch(() => undefined);
  }

  /** Resolves once the state is whole again (the journal processed); rejects when the journal is unreadable. */
  ready(): Promise<void> {
    return this.recovered;
  }

  private journalPath(generation = this.state.generation ?? 0): string {
    return join(this.dir, `detect-journal-${generation}.jsonl`);
  }

  /**
   * The journals from the snapshot's generation on, processed again in order; older ones go (in
   * the snapshot already: collect died after writing the snapshot, before removing them). A later
   * generation than the snapshot's is a snapshot that failed (disk full, EIO): the stage went on
   * in the next journal, whose batches their sources have settled, so it is state too. A last
   * line cut by a crash is the write of a batch its source never settled: cut off.
   */
  private async recover(): Promise<void> {
    const generation = this.state.generation ?? 0;
    const found: number[] = [];
    for (const name of readdirSync(this.dir)) {
      const m = JOURNAL.exec(name);
      if (!m) continue;
      if (Number(m[1]) < generation) rmSync(join(this.dir, name), { force: true });
      else found.push(Number(m[1]));
    }
    found.sort((a, b) => a - b);
    const lines: JournalEntry[] = [];
    let bytes = 0;
    for (const g of found) {
      const path = this.journalPath(g);
      const text = readFileSync(path, 'utf8');
      let at = 0;
      while (at < text.length) {
        const end = text.indexOf('\n', at);
        if (end < 0) {
          this.options.log.warn({ journal: path, bytes: text.length - at }, 'the detection journal ends in a line cut by a crash: cut off (its batch comes again from its source)');
          truncateSync(path, Buffer.byteLength(text.slice(0, at)));
          break;
        }
        let entry: JournalEntry;
        try {
          entry = JSON.parse(text.slice(at, end)) as JournalEntry;
        } catch (error) {
          throw new PgwardenError('PGW_ERR_CONFIG', `the detection journal ${path} is unreadable at byte ${at} (${(error as Error).message}); move it and ${this.file.path} away to start detection afresh (open incidents and windows are forgotten; notices not yet sent are lost)`, { cause: error });
        }
        lines.push(entry);
        at = end + 1;
      }
      bytes = Buffer.byteLength(text.slice(0, at));
    }
    // appends go on in the latest journal (after what it holds); the next snapshot folds them all
    if (found.length > 0) this.state.generation = found[found.length - 1]!;
    // the history as the batches had it live: read before their records (history.ts, the cutoff)
    if (this.history) for (const entry of lines) if ('b' in entry && this.history.needs(entry.e)) await this.history.prepare(entry.e);
    for (const entry of lines) {
      if ('b' in entry) this.apply(entry.b.key, entry.b.position, entry.b.ts, entry.b.events, entry.e);
      else this.state.sent[entry.s.sink] = Math.max(this.state.sent[entry.s.sink] ?? 0, entry.s.seq);
    }
    this.journalBytes = bytes;
    if (lines.length > 0) this.options.log.info({ journals: found.map((g) => this.journalPath(g)), entries: lines.length }, 'detection state: the journal since the last snapshot processed again');
  }

  get path(): string {
    return this.file.path;
  }

  /** Alert sinks: the ones that get alerts. */
  get sinkNames(): string[] {
    return this.alertSinks.map((s) => s.name);
  }

  /** The sink every source's lane delivers to. */
  sink(): Sink {
    return {
      name: DETECT_INPUT,
      type: 'detect',
      inputs: undefined,
      // alerts go one message per notice: a batch window would only delay them
      windowSeconds: 0,
      deliver: (pending) => this.process(pending),
      close: async () => undefined,
    };
  }

  private async process(pending: Pending): Promise<void> {
    await this.recovered;
    const events = pending.events;
    if (events.length === 0) return;
    const first = events[0]!;
    const key = first.source.input;
    const seen = this.batches.get(key);
    // the same batch again (the source had not settled it when collect died): its first `events` are in the state
    const skip = seen && seen.position === first.source.position && seen.ts === first.ts ? Math.min(seen.events, events.length) : 0;
    if (skip > 0) this.options.log.info({ input: key, position: first.source.position, records: skip }, 'a batch sent again after a crash: the records already in the detection state are passed over');
    const processed = skip > 0 ? events.slice(skip) : events;
    const total = Math.max(skip, events.length);
    if (this.history?.needs(processed)) await this.history.prepare(processed);
    const added = this.apply(key, first.source.position, first.ts, total, processed);
    const b = { key, position: first.source.position, ts: first.ts, events: total, seen: this.engine.stats().events };
    await this.record({ b, e: processed as PgwardenEvent[] });
    if (added.length > 0) this.wake();
  }

  /** A batch through the engine and its notices into the outbox: the same live and when the journal is processed again. */
  private apply(key: string, position: number, ts: string | null, total: number, events: readonly PgwardenEvent[]): OutboxEntry[] {
    for (let i = 0; i < events.length; i++) this.engine.process(events[i]!);
    this.batches.delete(key);
    this.batches.set(key, { position, ts, events: total });
    while (this.batches.size > BATCHES_KEPT) this.batches.delete(this.batches.keys().next().value!);
    return this.takeNotices();
  }

  /**
   * Appends a journal line durably (after every earlier write); folds the journal into a new
   * snapshot once it has grown past COMPACT_MIN_BYTES and twice the last snapshot.
   */
  private record(entry: JournalEntry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    const path = this.journalPath();
    this.journalBytes += Buffer.byteLength(line);
    const write = this.chain(async () => {
      // with the lines an append that failed did not write: the state in memory holds them (a
      // batch sent again passes its records over), so only the journal can keep them
      const text = this.unwritten + line;
      this.unwritten = text;
      // never through a symlink planted at the journal's (predictable) name
      const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o600);
      let size: number | undefined;
      try {
        size = (await fh.stat()).size;
        await fh.appendFile(text, 'utf8');
        await fh.sync();
        this.unwritten = '';
      } catch (error) {
        // no half line left in the middle of the journal (ENOSPC cuts a write anywhere)
        if (size !== undefined) await fh.truncate(size).catch(() => undefined);
        throw error;
      } finally {
        await fh.close();
      }
    });
    if (this.journalBytes >= Math.max(COMPACT_MIN_BYTES, 2 * this.snapshotBytes)) return Promise.all([write, this.save()]).then(() => undefined);
    return write;
  }

  private chain(work: () => Promise<void>): Promise<void> {
    this.writing = this.writing.catch(() => undefined).then(work);
    return this.writing;
  }

  /** New notices into the outbox: opened incidents and their throttled updates (a closed incident sends nothing more). */
  private takeNotices(): OutboxEntry[] {
    const added: OutboxEntry[] = [];
    for (const notice of this.engine.drain()) {
      if (notice.kind === 'closed') continue;
      const rule = this.rules.get(notice.incident.rule)!;
      const alert = alertOf(rule, notice.incident, this.planner.describe(rule, notice.incident));
      const sinks = [...(rule.sinks ?? this.defaultSinks)];
      if (this.options.responder && notice.kind === 'opened' && rule.actions.length > 0) sinks.push(this.options.responder.name);
      const entry = { seq: this.state.next_seq++, notice: { notice: notice.kind, id: notice.id, alert }, sinks };
      if (entry.sinks.length === 0) continue;
      // a later update of an incident carries all an earlier one did: one no sink has sent yet is replaced
      if (notice.kind === 'updated') this.state.outbox = this.state.outbox.filter((e) => !(e.notice.notice === 'updated' && e.notice.alert.id === alert.id && this.unsent(e)));
      this.state.outbox.push(entry);
      added.push(entry);
    }
    // what every sink has sent leaves the outbox (before counting what is kept)
    this.state.outbox = this.state.outbox.filter((e) => e.sinks.some((s) => (this.state.sent[s] ?? 0) <= e.seq));
    const over = this.state.outbox.length - OUTBOX_KEPT;
    if (over > 0) {
      this.state.outbox.splice(0, over);
      this.state.dropped = (this.state.dropped ?? 0) + over;
      this.options.log.warn({ dropped: over, dropped_total: this.state.dropped, kept: OUTBOX_KEPT }, 'alert sinks are behind: the oldest notices not yet sent were dropped');
    }
    return added;
  }

  /** No sink of the entry has sent it. */
  private unsent(entry: OutboxEntry): boolean {
    return entry.sinks.every((s) => (this.state.sent[s] ?? 0) <= entry.seq);
  }

  /**
   * A new snapshot, of the state as it is now, with the next generation's (empty) journal: once
   * it is on disk the old journal goes. Queued after the journal lines written before it.
   */
  private save(): Promise<void> {
    // what every sink has sent leaves the outbox
    this.state.outbox = this.state.outbox.filter((e) => e.sinks.some((s) => (this.state.sent[s] ?? 0) <= e.seq));
    this.state.engine = this.engine.snapshot();
    this.state.batches = [...this.batches];
    this.state.generation = (this.state.generation ?? 0) + 1;
    this.journalBytes = 0;
    this.unsaved = false;
    this.lastSave = Date.now();
    // file.save serialises the state at once: later changes go to the new generation's journal
    const saved = this.file.save(this.state);
    const generation = this.state.generation;
    return this.chain(async () => {
      await saved;
      // the snapshot holds what the failed appends did not write (kept while it may fail too)
      this.unwritten = '';
      this.snapshotBytes = statSync(this.file.path).size;
      // the journals this snapshot holds: the last one, and those of snapshots that failed
      for (const name of readdirSync(this.dir)) {
        const m = JOURNAL.exec(name);
        if (m && Number(m[1]) < generation) rmSync(join(this.dir, name), { force: true });
      }
    });
  }

  /** Writes the whole state to detect.json now (the journal starts afresh): stop() does, and tests that read the file. */
  checkpoint(): Promise<void> {
    return this.save();
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  private changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Starts the loops that send alerts. */
  start(): void {
    if (this.state.outbox.length > 0) this.options.log.info({ notices: this.state.outbox.length }, 'alerts from before the restart still to send');
    for (const sink of this.alertSinks) this.loops.push(this.recovered.then(() => this.sendLoop(sink)));
    if (this.history) this.loops.push(this.refreshLoop(this.history));
  }

  private async refreshLoop(history: HistoryFacts): Promise<void> {
    const signal = this.controller.signal;
    for (;;) {
      await sleep(HISTORY_REFRESH_MS, signal);
      if (signal.aborted) return;
      await history.refresh();
    }
  }

  private async sendLoop(sink: Sink): Promise<void> {
    const signal = this.controller.signal;
    const { retry } = this.options.config.pipeline;
    let attempts = 0;
    while (!signal.aborted) {
      const from = this.state.sent[sink.name] ?? 0;
      const entry = this.state.outbox.find((e) => e.seq >= from && e.sinks.includes(sink.name));
      if (!entry) {
        this.state.sent[sink.name] = this.state.next_seq;
        if (this.unsaved) await this.recordSent(sink);
        await this.changed(30_000);
        continue;
      }
      try {
        await sink.deliverAlert!({ notice: entry.notice, messageId: entry.notice.id });
      } catch (error) {
        attempts++;
        const delay = backoff(attempts, retry);
        if (attempts === 1 || attempts % 10 === 0) this.options.log.warn({ sink: sink.name, notice: entry.notice.id, attempts, retry_in_ms: delay, err: (error as Error).message }, 'alert delivery failed');
        await sleep(delay, signal);
        continue;
      }
      attempts = 0;
      this.state.sent[sink.name] = entry.seq + 1;
      this.options.log.info({ sink: sink.name, rule: entry.notice.alert.rule, notice: entry.notice.id }, 'alert delivered');
      // Not a rewrite of the whole file per notice: a backlog of n notices would write n times
      // the outbox (quadratic). At most every SENT_SAVE_MS, and when the sink has caught up.
      this.unsaved = true;
      if (Date.now() - this.lastSave >= SENT_SAVE_MS) await this.recordSent(sink);
    }
  }

  private async recordSent(sink: Sink): Promise<void> {
    try {
      this.unsaved = false;
      this.lastSave = Date.now();
      await this.record({ s: { sink: sink.name, seq: this.state.sent[sink.name] ?? 0 } });
    } catch (error) {
      // sent but not recorded: after a restart it goes again under the same id
      this.unsaved = true;
      this.options.log.warn({ sink: sink.name, err: (error as Error).message }, 'alert sent but could not record it');
      await sleep(backoff(1, this.options.config.pipeline.retry), this.controller.signal);
    }
  }

  async stop(): Promise<void> {
    await this.recovered.catch(() => undefined);
    this.controller.abort();
    this.wake();
    await Promise.all(this.loops);
    // the whole state, so that the next start has no journal to process again
    await this.save().catch((error: unknown) => this.options.log.warn({ err: (error as Error).message }, 'the detection state could not be written at stop (the journal has it)'));
    await this.writing.catch(() => undefined);
    await this.file.idle();
  }
}
