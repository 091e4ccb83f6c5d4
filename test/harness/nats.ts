// A real NATS server with JetStream for the tests: Debian's nats-server (scripts/install-test-deps.sh),
// on 127.0.0.1, a free port and a temporary store directory. A detached watchdog stops it and
// removes the directory if the test process dies without calling stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres.ts';

export const NATS_SERVER = '/usr/sbin/nats-server';

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** stops the server, keeping its store (start() again resumes it) */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface NatsOptions {
  user?: string;
  password?: string;
}

function startWatchdog(pid: number, root: string): void {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null; rm -rf "${root}"`;
  spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' }).unref();
}

export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} is missing: run scripts/install-test-deps.sh (Debian package nats-server)`);
  const root = mkdtempSync(join(tmpdir(), 'pgwarden-nats-'));
  const storeDir = join(root, 'store');
  const port = await freePort();
  let child: ChildProcess | null = null;
  let stopped = false;

  async function start(): Promise<void> {
    const args = ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir];
    if (options.user) args.push('--user', options.user, '--pass', options.password ?? '');
    const proc = spawn(NATS_SERVER, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    startWatchdog(proc.pid!, root);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start within 15 s:\n${output}`)), 15_000);
      proc.stderr!.on('data', (d: Buffer) => {
        output += d.toString();
        if (output.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}):\n${output}`));
      });
    });
    proc.stderr!.resume();
  }

  async function pause(): Promise<void> {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  }

  await start();
  const onExit = () => {
    if (!stopped) child?.kill('SIGKILL');
  };
  process.once('exit', onExit);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    pause,
    start,
    async stop() {
      stopped = true;
      process.removeListener('exit', onExit);
      await pause();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
