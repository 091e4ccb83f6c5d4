// npm run bench:collect [-- --events 200000]
//
// `pgwarden collect` end to end: generates a stderr log of pgAudit records (PostgreSQL 15's
// format) in a temporary directory, runs the built `pgwarden collect` with a logfile source and
// a jsonl sink (fsync per batch) at several batch sizes, and prints events/s and MB/s for each,
// with `pgwarden parse` on the same file (no checkpoints, no fsync) as the peer and the ratio.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lines } from '../test/pipeline/collect-helpers.ts';

const BIN = fileURLToPath(new URL('../bin/pgwarden.js', import.meta.url));
const args = process.argv.slice(2);
const total = Number(args[args.indexOf('--events') + 1] ?? 200_000) || 200_000;

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-collect-'));
try {
  const logs = path.join(dir, 'logs');
  spawnSync('mkdir', ['-p', logs]);
  const log = path.join(logs, 'postgresql-1.log');
  writeFileSync(log, lines(1, total));
  const mb = statSync(log).size / 1e6;
  console.log(`log: ${total} pgAudit records, ${mb.toFixed(1)} MB (stderr)`);

  const t0 = performance.now();
  const parsed = spawnSync(process.execPath, [BIN, 'parse', '--prefix', '%m [%p] %q%u@%d ', log], { stdio: ['ignore', 'ignore', 'ignore'] });
  if (parsed.status !== 0) throw new Error('pgwarden parse failed');
  const parseSeconds = (performance.now() - t0) / 1000;
  console.log(`pgwarden parse (peer, no checkpoints): ${(total / parseSeconds).toFixed(0)} events/s, ${(mb / parseSeconds).toFixed(1)} MB/s, ${parseSeconds.toFixed(2)} s`);

  for (const maxEvents of [100, 1000, 10_000]) {
    const run = path.join(dir, `run-${maxEvents}`);
    spawnSync('mkdir', ['-p', run]);
    const out = path.join(run, 'out.jsonl');
    const config = path.join(run, 'pgwarden.yaml');
    writeFileSync(config, `pipeline:
  sources:
    pglog: { type: logfile, path: ${logs}, pattern: 'postgresql-*.log', server: db1, prefix: '%m [%p] %q%u@%d ', state_dir: ${path.join(run, 'state')}, idle_flush_ms: 100, poll_ms: 50 }
  sinks:
    out: { type: jsonl, path: ${out} }
  batch: { window_seconds: 0, max_events: ${maxEvents} }
`);
    const start = performance.now();
    const child = spawn(process.execPath, [BIN, 'collect', '--config', config], { stdio: 'ignore', env: { ...process.env, PGWARDEN_LOG_LEVEL: 'warn' } });
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (existsSync(out) && countLines(out) >= total) break;
    }
    const seconds = (performance.now() - start) / 1000;
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    console.log(`pgwarden collect -> jsonl (fsync), max_events ${String(maxEvents).padStart(5)}: ${(total / seconds).toFixed(0)} events/s, ${(mb / seconds).toFixed(1)} MB/s, ${seconds.toFixed(2)} s; ratio to parse ${(parseSeconds / seconds).toFixed(2)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function countLines(file: string): number {
  const buffer = readFileSync(file);
  let n = 0;
  for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) n++;
  return n;
}
