// Checkpoint files through the one checkpoint module (src/pipeline/checkpoint.ts): files written by
// the versions before it (their exact bytes, written out here) are read by the logfile, cloudwatch
// and guard sources, a logfile source resumes where such a file says, and what is written back
// keeps the format. A torn temporary file from a crash is removed; an unreadable file is one line.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import type { PgwardenEvent } from '../../src/core/event.ts';
import { CheckpointFile, writeFileAtomic } from '../../src/pipeline/checkpoint.ts';
import { CloudwatchSource } from '../../src/pipeline/sources/cloudwatch/cloudwatch.ts';
import { cloudwatchSourceSchema } from '../../src/pipeline/sources/cloudwatch/config.ts';
import { GuardLogSource } from '../../src/pipeline/sources/guard/guard.ts';
import { LogfileSource } from '../../src/pipeline/sources/logfile/logfile.ts';
import { logfileSourceSchema } from '../../src/pipeline/sources/logfile/config.ts';
import type { Sink } from '../../src/pipeline/types.ts';
import { waitFor } from '../harness/cli.ts';
import { ids, lines, range } from './collect-helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-checkpoint-'));
after(() => rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

function sink(name: string): Sink {
  return { name, type: 'test', inputs: undefined, deliver: async () => undefined, close: async () => undefined };
}

describe('checkpoint files', () => {
  // A state directory may be shared; the temporary file had a predictable name
  // (<file>.<pid>.tmp) and was opened without O_EXCL, so a symlink planted there made collect
  // write its checkpoint into whatever file the link named.
  it('a symlink planted where the temporary file used to be is never written through', async () => {
    const dir = join(root, 'planted');
    mkdirSync(dir);
    const victim = join(root, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const path = join(dir, 'logfile-pg.json');
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    await writeFileAtomic(path, '{"version":1}\n');
    await writeFileAtomic(path, '{"version":2}\n');
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.equal(readFileSync(path, 'utf8'), '{"version":2}\n');
    assert.deepEqual(readdirSync(dir).filter((n) => n.endsWith('.tmp') && n !== `logfile-pg.json.${process.pid}.tmp`), [], 'no temporary file is left');
  });

  it('a logfile checkpoint written before the checkpoint module is read: the source resumes at its offset, and writes the same format back', async () => {
    const dir = join(root, 'logfile');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    mkdirSync(join(dir, 'state'));
    const file = join(dir, 'logs', 'postgresql-1.log');
    const text = lines(1, 10);
    writeFileSync(file, text);
    const offset = Buffer.byteLength(lines(1, 5));
    const info = statSync(file);
    const path = realpathSync(file);
    const head = Buffer.from(text).subarray(0, 128).toString('hex');
    // exactly what LogfileSource wrote: JSON.stringify(state, null, 1) and a new line
    const old = `{
 "version": 1,
 "source": "pglog",
 "files": {
  "${info.dev}:${info.ino}": {
   "input": "${path}",
   "path": "${path}",
   "dev": ${info.dev},
   "ino": ${info.ino},
   "head": "${head}",
   "sinks": {
    "out": {
     "offset": ${offset},
     "line": 6,
     "delivered": false
    }
   }
  }
 },
 "names": {
  "${path}": 1
 }
}
`;
    const stateFile = join(dir, 'state', 'logfile-pglog.json');
    writeFileSync(stateFile, old);
    writeFileSync(`${stateFile}.4242.tmp`, '{"version": 1, "fil'); // torn by a crash in the middle of a save
    const config = logfileSourceSchema.parse({ type: 'logfile', path: join(dir, 'logs'), pattern: '*.log', server: 'db1', state_dir: join(dir, 'state'), idle_flush_ms: 50, poll_ms: 50 });
    const source = new LogfileSource({ input: 'pglog', config, log });
    assert.equal(existsSync(`${stateFile}.4242.tmp`), false, 'the torn temporary file is removed');
    assert.deepEqual(source.checkpoints, JSON.parse(old));
    const lane = source.lane(sink('out'));
    await source.start();
    const got: PgwardenEvent[] = [];
    try {
      await waitFor(async () => {
        const pending = await lane.next(100);
        if (pending) {
          got.push(...pending.events);
          await lane.settle(pending);
        }
        return got.length >= 5;
      }, 10_000);
    } finally {
      await source.stop();
    }
    assert.deepEqual(ids(got), range(6, 10), 'records 6-10, from the checkpoint on');
    assert.equal(got[0]!.source.position, offset);
    assert.equal(got[0]!.source.input, path, 'the same input as before (the repository dedups on it)');
    const written = readFileSync(stateFile, 'utf8');
    assert.equal(written, `${JSON.stringify(JSON.parse(written), null, 1)}\n`, 'the same format: one-space indentation, a final new line');
    const checkpoint = (JSON.parse(written) as { files: Record<string, { sinks: Record<string, { line: number; delivered: boolean }> }> }).files[`${info.dev}:${info.ino}`]!.sinks.out!;
    assert.deepEqual([checkpoint.line, checkpoint.delivered], [10, true]);
  });

  it('a cloudwatch checkpoint written before is read as it was; one of another log group is refused in one line', () => {
    const dir = join(root, 'cloudwatch');
    mkdirSync(dir, { recursive: true });
    const old = `{
 "version": 1,
 "source": "rds",
 "log_group": "/aws/rds/instance/db1/postgresql",
 "sinks": {
  "archive": {
   "query": {
    "start": 1764633600000,
    "end": 1764633700000,
    "token": "page-2"
   },
   "time": 1764633650000,
   "ids": [
    "3742",
    "3743"
   ]
  }
 }
}
`;
    writeFileSync(join(dir, 'cloudwatch-rds.json'), old);
    const config = (group: string) => cloudwatchSourceSchema.parse({ type: 'cloudwatch', log_group: group, state_dir: dir, region: 'us-east-1', endpoint: 'http://127.0.0.1:9' });
    const source = new CloudwatchSource({ input: 'rds', config: config('/aws/rds/instance/db1/postgresql'), log });
    source.lane(sink('archive'));
    assert.deepEqual(source.checkpoints, JSON.parse(old), 'the sink keeps its place (query, page token, boundary ids)');
    assert.throws(() => new CloudwatchSource({ input: 'rds', config: config('/aws/rds/instance/db2/postgresql'), log }),
      /^PgwardenError: the checkpoints in .*cloudwatch-rds\.json are for log group \/aws\/rds\/instance\/db1\/postgresql, but pipeline\.sources\.rds\.log_group is \/aws\/rds\/instance\/db2\/postgresql; name the source differently, or move the file away to start over$/);
  });

  it('a guard checkpoint written before (compact JSON) is read as it was', async () => {
    const dir = join(root, 'guard');
    mkdirSync(dir, { recursive: true });
    const old = '{"version":1,"server":"db1","database":"shop","table":{"system":"7439382716354","oid":"16501"},"sinks":{"siem":{"through":41,"seen":[43,44]}}}\n';
    writeFileSync(join(dir, 'guard-guard-shop.json'), old);
    const source = new GuardLogSource({
      input: 'guard', server: 'db1', database: 'shop', target: { url: 'postgres://127.0.0.1:9/shop', label: 'db1' },
      pollSeconds: 5, gapSeconds: 60, stateDir: dir, log,
    });
    try {
      assert.deepEqual((source as unknown as { state: unknown }).state, JSON.parse(old));
    } finally {
      await source.stop();
    }
  });

  it('says in one line what to do with a file it cannot read, and where state_dir cannot be made', async () => {
    const dir = join(root, 'bad');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'x.json'), '{"version": 9, "sinks": {}}\n');
    const file = new CheckpointFile<{ version: number; sinks: object }>({ dir, file: 'x.json', where: 'pipeline.sources.x', startOver: 'to start over from the beginning of the logs' });
    const fresh = () => ({ version: 1, sinks: {} });
    const check = (parsed: { version: number; sinks: object }) => {
      if (parsed.version !== 1) throw new Error(`unknown version ${parsed.version}`);
      return parsed;
    };
    assert.throws(() => file.load(fresh, check), { message: `the checkpoints in ${join(dir, 'x.json')} are unreadable (unknown version 9); move the file away to start over from the beginning of the logs` });
    writeFileSync(join(dir, 'x.json'), '{"version": 1, "sin');
    assert.throws(() => file.load(fresh, check), /are unreadable \(.*JSON.*\); move the file away/);
    assert.deepEqual(new CheckpointFile<{ version: number; sinks: object }>({ dir, file: 'none.json', where: 'w', startOver: '' }).load(fresh, check), fresh(), 'no file: a fresh state');
    await file.save({ version: 1, sinks: { a: 1 } });
    assert.equal(readFileSync(join(dir, 'x.json'), 'utf8'), '{"version":1,"sinks":{"a":1}}\n', 'compact unless an indentation is given');
    writeFileSync(join(dir, 'blocker'), '');
    assert.throws(() => new CheckpointFile({ dir: join(dir, 'blocker', 'state'), file: 'x.json', where: 'pipeline.sources.x', startOver: '' }),
      /^PgwardenError: pipeline\.sources\.x\.state_dir: cannot create .*blocker\/state: ENOTDIR/);
    if (process.getuid?.() !== 0) {
      chmodSync(join(dir, 'x.json'), 0o000);
      assert.throws(() => file.load(fresh, check), /^PgwardenError: cannot read the checkpoints in .*x\.json: EACCES/);
    }
  });
});
