// Shared by the collect tests: `pgwarden collect` as a child process, realistic pgAudit lines,
// and reading a JSON lines output.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgwardenEvent } from '../../src/core/event.ts';

const BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));

export interface Daemon {
  child: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  /** Sends the signal and resolves with the exit code (or the signal's name). */
  stop(signal: NodeJS.Signals): Promise<number | string>;
}

/**
 * Where collect keeps what it keeps by default (its status file, when no source has a state_dir):
 * a directory of this test run, not the home directory.
 */
const STATE_HOME = mkdtempSync(join(tmpdir(), 'pgwarden-state-home-'));
process.once('exit', () => rmSync(STATE_HOME, { recursive: true, force: true }));

export function startCollect(config: string): Daemon {
  const child = spawn(process.execPath, [BIN, 'collect', '--config', config], {
    env: { ...process.env, PGWARDEN_CONFIG: '', PGWARDEN_LOG_LEVEL: 'info', XDG_STATE_HOME: STATE_HOME }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  return {
    child,
    stderr: () => stderr,
    stdout: () => stdout,
    async stop(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code, sig] = await exited;
      return code ?? sig ?? -1;
    },
  };
}

const TS = (n: number) => new Date(Date.UTC(2026, 10, 22, 10, 0, 0) + n * 7).toISOString().replace('T', ' ').replace('Z', ' UTC');

/** One pgAudit record as PostgreSQL 15 writes it with log_line_prefix '%m [%p] %q%u@%d '. */
export function auditLine(n: number, options: { user?: string; klass?: 'READ' | 'WRITE'; command?: string } = {}): string {
  const user = options.user ?? 'alice';
  const klass = options.klass ?? 'WRITE';
  const command = options.command ?? (klass === 'READ' ? 'SELECT' : 'INSERT');
  const statement = command === 'SELECT' ? `SELECT * FROM public.orders WHERE note = 'secret-${n}'`
    : command === 'DELETE' ? `DELETE FROM public.orders WHERE id = ${n}`
      : command === 'UPDATE' ? `UPDATE public.orders SET note = 'secret-${n}' WHERE id = ${n}`
      : `INSERT INTO public.orders VALUES (${n}, 'secret-${n}', $1)`;
  return `${TS(n)} [${4000 + (n % 7)}] ${user}@shop LOG:  AUDIT: SESSION,${n},1,${klass},${command},TABLE,public.orders,"${statement.replaceAll('"', '""')}",param-${n}\n`;
}

export function lines(from: number, to: number, options?: Parameters<typeof auditLine>[1]): string {
  let text = '';
  for (let n = from; n <= to; n++) text += auditLine(n, options);
  return text;
}

export function readEvents(path: string): PgwardenEvent[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete.split('\n').filter(Boolean).map((line) => JSON.parse(line) as PgwardenEvent);
}

export function ids(events: PgwardenEvent[]): number[] {
  return events.map((e) => e.audit!.statement_id);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

const DETECT_FIXTURES = new URL('../detect/fixtures/', import.meta.url);
/** The detection fixture's logs: an attack recorded on PostgreSQL 15 (test/detect/fixtures). */
export const ATTACK = gunzipSync(readFileSync(new URL('attack-pg15.csv.gz', DETECT_FIXTURES)));

/**
 * A config for collect running the detection rules: the fixture's detect: (fixture.yaml) with
 * in_collect, one csvlog logfile source of server `fixture` reading `logs`, and `sinks` (YAML lines
 * under `sinks:`, indented four spaces).
 */
export function collectDetectConfig(options: { logs: string; stateDir: string; maxEvents: number; sinks: string }): string {
  const fixture = readFileSync(new URL('fixture.yaml', DETECT_FIXTURES), 'utf8');
  return `${fixture.replace(/^detect:\n/m, 'detect:\n  in_collect: true\n')}
pipeline:
  batch: { window_seconds: 0, max_events: ${options.maxEvents} }
  retry: { initial_seconds: 0.1, max_seconds: 0.5 }
  sources:
    pg: { type: logfile, path: ${options.logs}, pattern: '*.csv', format: csvlog, server: fixture, state_dir: ${options.stateDir}, poll_ms: 100 }
  sinks:
${options.sinks}
`;
}
