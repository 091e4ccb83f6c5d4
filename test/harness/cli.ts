// Runs the built `pgwarden` command the way a user does, and captures what they would see.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { installSchema, newRecorderPassword } from '../../src/sensors/index.ts';
import { startCluster, type Cluster, type Flavor } from './postgres.ts';

const BIN = fileURLToPath(new URL('../../bin/pgwarden.js', import.meta.url));

export interface CliResult { code: number; stdout: string; stderr: string }

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, PGWARDEN_CONFIG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** PG* variables pointing at a cluster as its superuser, so no password goes on argv. */
export function pgEnv(cluster: Cluster, database = 'postgres', user = cluster.superuser, password = cluster.superuserPassword): NodeJS.ProcessEnv {
  return { PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: user, PGPASSWORD: password, PGDATABASE: database };
}

/** A started cluster with pgwarden installed in `postgres` (and in template1, when asked, so new databases get it). */
export async function installedCluster(flavor: Flavor, options: { pgaudit?: boolean; template1?: boolean } = {}): Promise<Cluster> {
  const cluster = await startCluster({ flavor, pgaudit: options.pgaudit });
  // One recorder password for the cluster: every install sets it on the cluster-wide role.
  const password = newRecorderPassword();
  for (const database of options.template1 ? ['postgres', 'template1'] : ['postgres']) {
    const client = new pg.Client({ connectionString: cluster.url(database) });
    await client.connect();
    try {
      await installSchema(client, password);
    } finally {
      await client.end();
    }
  }
  return cluster;
}

export interface LoginOutcome { ok: boolean; code?: string; message?: string; detail?: string }

/** Tries a real login over TCP (scram) and reports what the client saw. */
export async function tryLogin(cluster: Cluster, user: string, password: string, application: string, database = 'postgres'): Promise<LoginOutcome> {
  const client = new pg.Client({ connectionString: cluster.url(database, user, password), application_name: application });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return { ok: true };
  } catch (error) {
    const e = error as { code?: string; message: string; detail?: string };
    return { ok: false, code: e.code, message: e.message, detail: e.detail };
  }
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
