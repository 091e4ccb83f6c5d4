// The logfile source driven directly through its lanes: back-pressure (reading waits for the
// slowest sink), two sinks at different speeds, a file deleted while being read, checkpoints
// that say where each sink stands.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { LogfileSourceConfig } from '../../src/core/config.ts';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { MAX_BUFFERED_EVENTS } from '../../src/pipeline/lane-buffer.ts';
import { LogfileSource, globRegex } from '../../src/pipeline/sources/logfile/logfile.ts';
import type { Lane, Sink } from '../../src/pipeline/types.ts';
import { waitFor } from '../harness/cli.ts';
import { ids, lines, range } from './collect-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-logfile-'));
after(() => rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

function sink(name: string): Sink {
  return { name, type: 'test', inputs: undefined, accepts: () => true, deliver: async () => undefined, close: async () => undefined };
}

function source(dir: string): LogfileSource {
  const config: LogfileSourceConfig = {
    type: 'logfile', path: join(dir, 'logs'), pattern: 'postgresql-*.log', format: 'auto', server: 'db1',
    state_dir: join(dir, 'state'), idle_flush_ms: 100, poll_ms: 50,
  };
  return new LogfileSource({ input: 'pglog', config, log });
}

/** Takes up to `max` events from a lane and settles them. */
async function drain(lane: Lane, max: number, into: PgwardenEvent[]): Promise<number> {
  const pending = await lane.next(max);
  if (!pending) return 0;
  into.push(...pending.events);
  await lane.settle(pending);
  return pending.events.length;
}

describe('logfile source', () => {
  it('globs file names', () => {
    assert.ok(globRegex('postgresql-*.log').test('postgresql-2026-11-22_101010.log'));
    assert.ok(!globRegex('postgresql-*.log').test('postgresql-1.log.1'));
    assert.ok(globRegex('pg?.csv').test('pg1.csv'));
    assert.ok(!globRegex('pg?.csv').test('pgx1csv'));
  });

  it('reads only as fast as the slowest sink settles, and delivers everything to both', async () => {
    const dir = join(root, 'pressure');
    const total = 60_000;
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'logs', 'postgresql-1.log'), lines(1, total));
    const src = source(dir);
    const fast = src.lane(sink('fast'));
    const slow = src.lane(sink('slow'));
    await src.start();
    const fastGot: PgwardenEvent[] = [];
    const slowGot: PgwardenEvent[] = [];
    try {
      // the fast sink takes all it can; the slow one nothing yet
      await waitFor(async () => {
        while (await drain(fast, 1000, fastGot) > 0) { /* keep going */ }
        return fastGot.length >= MAX_BUFFERED_EVENTS;
      }, 10_000, 'the fast sink to get a buffer full');
      await new Promise((resolve) => setTimeout(resolve, 300));
      while (await drain(fast, 1000, fastGot) > 0) { /* keep going */ }
      assert.ok(fastGot.length < total, `reading waits for the slow sink (${fastGot.length} of ${total} read)`);
      assert.ok(src.buffered <= MAX_BUFFERED_EVENTS + 10_000, `at most a buffer and a read chunk in memory (${src.buffered})`);
      // now the slow sink catches up, and the fast one follows
      await waitFor(async () => {
        for (let i = 0; i < 100; i++) {
          const n = await drain(slow, 700, slowGot) + await drain(fast, 1000, fastGot);
          if (n === 0) break;
        }
        return slowGot.length >= total && fastGot.length >= total;
      }, 30_000, 'both sinks to get everything');
    } finally {
      await src.stop();
    }
    assert.deepEqual(ids(fastGot), range(1, total));
    assert.deepEqual(ids(slowGot), range(1, total));
    const file = Object.values(src.checkpoints.files)[0]!;
    assert.deepEqual(file.sinks.fast, file.sinks.slow, 'both checkpoints at the last record');
    assert.equal(file.sinks.fast!.delivered, true);
    assert.equal(file.sinks.fast!.line, total);
  });

  it('reads a deleted file to its end through the open descriptor, then forgets it', async () => {
    const dir = join(root, 'deleted');
    const { mkdirSync, readFileSync } = await import('node:fs');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'logs', 'postgresql-1.log'), lines(1, 30_000));
    const src = source(dir);
    const lane = src.lane(sink('out'));
    await src.start();
    const got: PgwardenEvent[] = [];
    try {
      await drain(lane, 100, got);
      unlinkSync(join(dir, 'logs', 'postgresql-1.log'));
      writeFileSync(join(dir, 'logs', 'postgresql-2.log'), lines(30_001, 30_010));
      await waitFor(async () => {
        while (await drain(lane, 1000, got) > 0) { /* keep going */ }
        return got.length >= 30_010 && Object.keys(src.checkpoints.files).length === 1;
      }, 20_000, 'all events, and the deleted file forgotten');
    } finally {
      await src.stop();
    }
    assert.deepEqual(ids(got), range(1, 30_010));
    const state = JSON.parse(readFileSync(join(dir, 'state', 'logfile-pglog.json'), 'utf8')) as { files: Record<string, { path: string }> };
    assert.deepEqual(Object.values(state.files).map((f) => f.path), [join(dir, 'logs', 'postgresql-2.log')]);
  });
});

describe('logfile source input names', () => {
  it('names a file that is a symbolic link by its target, as ingest and parse do', async () => {
    const dir = join(root, 'linked');
    const { mkdirSync, symlinkSync, realpathSync } = await import('node:fs');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'real'), { recursive: true });
    writeFileSync(join(dir, 'real', 'pg.log'), lines(1, 10));
    symlinkSync(join(dir, 'real', 'pg.log'), join(dir, 'logs', 'postgresql-1.log'));
    const src = source(dir);
    const lane = src.lane(sink('out'));
    await src.start();
    const got: PgwardenEvent[] = [];
    try {
      await waitFor(async () => {
        while (await drain(lane, 1000, got) > 0) { /* keep going */ }
        return got.length >= 10;
      }, 10_000, 'the linked file read');
    } finally {
      await src.stop();
    }
    // before: <logs>/postgresql-1.log, while `ingest` of the same file stored the target's path
    assert.deepEqual([...new Set(got.map((e) => e.source.input))], [realpathSync(join(dir, 'real', 'pg.log'))]);
  });
});

describe('logfile source parse errors', () => {
  it('counts unreadable lines, and goes on with the records around them', async () => {
    const dir = join(root, 'errors');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const record = (n: number) => `${JSON.stringify({ timestamp: '2026-11-22 10:00:00.123 UTC', pid: n, error_severity: 'LOG', message: `record ${n}` })}\n`;
    writeFileSync(join(dir, 'logs', 'postgresql-1.log'), `${record(1)}{"timestamp": "cut short\n${record(2)}not json at all\n${record(3)}`);
    const src = source(dir);
    const lane = src.lane(sink('out'));
    await src.start();
    const got: PgwardenEvent[] = [];
    try {
      await waitFor(async () => {
        while (await drain(lane, 10, got) > 0) { /* keep going */ }
        return got.length >= 3;
      }, 10_000, 'three records');
    } finally {
      await src.stop();
    }
    assert.deepEqual(got.map((e) => e.message), ['record 1', 'record 2', 'record 3']);
    assert.equal(src.parseErrors, 2);
    assert.deepEqual(got.map((e) => e.source.line), [1, 3, 5], 'line numbers count the unreadable lines');
  });
});

describe('logfile source prefix: for every format that carries the server\'s lines', () => {
  // A log_line_prefix none of COMMON_PREFIXES is: recognition cannot find it, so only the
  // configured one reads user, database and pid.
  const prefix = 'ts=%m pid=%p who=%u db=%d ';
  const line = (n: number) => `ts=2026-12-02 02:04:3${n}.123 UTC pid=${4240 + n} who=alice${n} db=shop LOG:  statement: SELECT ${n}`;
  const files: Record<string, string> = {
    syslog: [1, 2, 3].map((n) => `Dec  2 02:04:3${n} db1 postgres[${4240 + n}]: [${n}-1] ${line(n)}\n`).join(''),
    journald: [1, 2, 3].map((n) => `${JSON.stringify({ __CURSOR: `s=${n}`, __REALTIME_TIMESTAMP: String(Date.parse(`2026-12-02T02:04:3${n}Z`) * 1000), _HOSTNAME: 'db1', SYSLOG_IDENTIFIER: 'postgres', _PID: String(4240 + n), MESSAGE: `[${n}-1] ${line(n)}` })}\n`).join(''),
    cloudsql: [1, 2, 3].map((n) => `${JSON.stringify({ logName: 'projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log', resource: { type: 'cloudsql_database', labels: { database_id: 'p:db1' } }, timestamp: `2026-12-02T02:04:3${n}Z`, textPayload: line(n) })}\n`).join(''),
  };
  for (const [format, text] of Object.entries(files)) {
    for (const configured of [format, 'auto'] as const) {
      it(`${format} with format: ${configured} reads the configured prefix`, async () => {
        const dir = join(root, `prefix-${format}-${configured}`);
        const { mkdirSync } = await import('node:fs');
        mkdirSync(join(dir, 'logs'), { recursive: true });
        writeFileSync(join(dir, 'logs', 'postgresql-1.log'), text);
        const config: LogfileSourceConfig = {
          type: 'logfile', path: join(dir, 'logs'), pattern: 'postgresql-*.log', format: configured as LogfileSourceConfig['format'], prefix, server: 'db1',
          state_dir: join(dir, 'state'), idle_flush_ms: 100, poll_ms: 50,
        };
        const src = new LogfileSource({ input: 'pglog', config, log });
        const lane = src.lane(sink('out'));
        await src.start();
        const got: PgwardenEvent[] = [];
        try {
          await waitFor(async () => {
            while (await drain(lane, 10, got) > 0) { /* keep going */ }
            return got.length >= 3;
          }, 10_000, 'three records');
        } finally {
          await src.stop();
        }
        assert.equal(src.parseErrors, 0);
        assert.deepEqual(got.map((e) => [e.user, e.database, e.pid, e.message]), [1, 2, 3].map((n) => [`alice${n}`, 'shop', 4240 + n, `statement: SELECT ${n}`]));
      });
    }
  }
});
