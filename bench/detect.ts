// npm run bench:detect [-- --mb 30] [--repeat 5] [--samples 200] [--events 200000] [--engine-only | --latency-only]
//
// Phase A (in process). Events per second through all the built-in rules (and the fixture's custom rule) on one core,
// on two corpora:
//   - the clean fixture (test/detect/fixtures/clean-pg15.csv.gz: pgbench and application sessions
//     on PostgreSQL 15 + pgAudit, 112,802 events), with the fixture's config;
//   - a log the rules were not tuned on: bench/parse.ts's generated pgAudit traffic (stderr, --mb
//     MB), with a plain config (sensitive objects and application roles named, defaults otherwise).
// Events are parsed first (not timed); the detection figure is the fastest of --repeat runs of a
// fresh engine over them. The peer, measured in the same run on the same events, is the parser on
// one thread: detection must not be what limits `collect` (which ingests ~145,000 events/s here).
// The goal is ≥ 300,000 events/s. It also times what collect does per batch with the state, on a
// big one: engine.snapshot() + JSON.stringify (detect.json).
//
// Phase B and C (bench/detect-collect.ts: the built CLI, a real PostgreSQL, a webhook receiver):
// log write → webhook latency in `collect` (goal p99 ≤ 2 s), and collect's events/s with
// detection on against off on the same file. --engine-only skips them.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseConfig } from '../src/core/config.ts';
import { newEvent, type PgwardenEvent } from '../src/core/event.ts';
import { createEngine, detectSchema, type DetectConfig } from '../src/detect/index.ts';
import { parseText, type LogFormat } from '../src/logs/index.ts';
import { generate, PREFIX } from './parse.ts';
import { runCollectPhases } from './detect-collect.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || fallback : fallback);
const mb = option('--mb', 30);
const repeat = option('--repeat', 5);
const GOAL = 300_000;
const fixtures = new URL('../test/detect/fixtures/', import.meta.url);

function timeParse(bytes: Buffer, format: LogFormat, prefix?: string): { events: PgwardenEvent[]; perSecond: number } {
  let best = Infinity;
  let events: PgwardenEvent[] = [];
  for (let i = 0; i < Math.min(repeat, 3); i++) {
    const started = process.hrtime.bigint();
    const parsed = parseText(bytes, { format, prefix, input: 'bench', server: 'bench' });
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e9);
    if (parsed.errors.length > 0) throw new Error(`${parsed.errors.length} parse errors`);
    events = parsed.events;
  }
  return { events, perSecond: events.length / best };
}

function timeDetect(events: PgwardenEvent[], detect: DetectConfig): { perSecond: number; alerts: number; stateBytes: number; runs: number[] } {
  const runs: number[] = [];
  let alerts = 0;
  let stateBytes = 0;
  for (let i = 0; i < repeat; i++) {
    const engine = createEngine(detect);
    const started = process.hrtime.bigint();
    let opened = 0;
    for (let j = 0; j < events.length; j++) {
      engine.process(events[j]!);
      if ((j & 1023) === 0) for (const n of engine.drain()) if (n.kind === 'opened') opened++;
    }
    for (const n of engine.drain()) if (n.kind === 'opened') opened++;
    runs.push(Number(process.hrtime.bigint() - started) / 1e9);
    alerts = opened;
    stateBytes = JSON.stringify(engine.snapshot()).length;
  }
  return { perSecond: events.length / Math.min(...runs), alerts, stateBytes, runs };
}

function report(name: string, events: PgwardenEvent[], parsePerSecond: number, detect: DetectConfig): number {
  const result = timeDetect(events, detect);
  const ratio = result.perSecond / parsePerSecond;
  console.log(`${name}: ${events.length} events`);
  console.log(`  detection, all rules, 1 core: ${Math.round(result.perSecond).toLocaleString('en')} events/s (${(1e9 / result.perSecond).toFixed(0)} ns/event; runs ${result.runs.map((s) => `${s.toFixed(3)} s`).join(', ')})`
    + ` — goal ${GOAL.toLocaleString('en')}: ${result.perSecond >= GOAL ? 'met' : 'NOT met'}`);
  console.log(`  peer: the parser on 1 thread, same events: ${Math.round(parsePerSecond).toLocaleString('en')} events/s; detection is ${ratio.toFixed(1)}× as fast`);
  console.log(`  ${result.alerts} incidents opened; state at the end ${(result.stateBytes / 1024).toFixed(0)} KiB as JSON`);
  return result.perSecond;
}

console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; best of ${repeat} runs`);

const fixtureConfig = parseConfig(readFileSync(new URL('fixture.yaml', fixtures), 'utf8'), 'test/detect/fixtures/fixture.yaml').detect;
const clean = timeParse(gunzipSync(readFileSync(new URL('clean-pg15.csv.gz', fixtures))), 'csvlog');
report('clean fixture (PostgreSQL 15 + pgAudit csvlog, pgbench and application sessions)', clean.events, clean.perSecond, fixtureConfig);

const dir = mkdtempSync(path.join(os.tmpdir(), 'pgwarden-bench-detect-'));
try {
  const files = await generate(dir, mb, true);
  const generated = timeParse(readFileSync(files.stderr), 'stderr', PREFIX);
  const plain = detectSchema.parse({ sensitive_objects: ['public.customers'], application_roles: ['app_*'] });
  report(`a log not tuned on (bench/parse.ts's generated pgAudit traffic, ${mb} MB stderr)`, generated.events, generated.perSecond, plain);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// What collect pays per batch for its checkpoint when the state is big: 100,000 roles that logged
// in (facts.lastLogin, bounded at 100,000) and 10,000 brute-force groups in progress (groups_per_rule).
{
  const engine = createEngine(detectSchema.parse({}));
  const t0 = Date.UTC(2026, 0, 5, 10);
  for (let i = 0; i < 100_000; i++) {
    engine.process(loginEvent('connection_authorized', i, t0 + i));
  }
  for (let i = 0; i < 10_000; i++) engine.process(loginEvent('auth_failed', i, t0 + 100_000 + i));
  engine.drain();
  let best = Infinity;
  let bytes = 0;
  for (let i = 0; i < repeat; i++) {
    const started = process.hrtime.bigint();
    bytes = JSON.stringify(engine.snapshot()).length;
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
  }
  console.log(`big state (100,000 roles' last logins, 10,000 brute-force groups): snapshot + JSON.stringify ${best.toFixed(0)} ms for ${(bytes / 1e6).toFixed(1)} MB — what writing detect.json whole costs per batch`);
}

if (!args.includes('--engine-only')) await runCollectPhases(args);

function loginEvent(kind: 'connection_authorized' | 'auth_failed', i: number, ms: number): PgwardenEvent {
  const e = newEvent(kind, 'bench', { input: 'bench', position: i, line: null });
  Object.assign(e, {
    ts: new Date(ms).toISOString(), pid: 10_000 + i, session_id: `s${i}`, user: `u${i}`, database: 'app', application: 'psql',
    client_addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, severity: kind === 'auth_failed' ? 'FATAL' : 'LOG',
    sqlstate: kind === 'auth_failed' ? '28P01' : null,
    message: kind === 'auth_failed' ? `password authentication failed for user "u${i}"` : `connection authorized: user=u${i} database=app`,
  });
  return e;
}
