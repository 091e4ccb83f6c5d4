// What the demo's clients do: real connections over TCP with passwords, as an application, a
// GUI tool, an analyst and an attacker would. Each line printed says what the client saw.
import pg from 'pg';
import type { Cluster } from './disposable-postgres.ts';

export const APP_ROLE = 'app_orders';
export const APP_PASSWORD = 'demo-only-app-password';
export const ANALYST_ROLE = 'alice';
export const ANALYST_PASSWORD = 'demo-only-alice-password';
export const MONITOR_LOGIN = 'monitoring';
export const MONITOR_PASSWORD = 'demo-only-monitoring-password';

export function line(text: string): void {
  process.stdout.write(`   ${text}\n`);
}

/** A login as `user`; null (and what the client saw, printed) when it was refused. */
export async function connectAs(cluster: Cluster, user: string, password: string, application: string, quiet = false): Promise<pg.Client | null> {
  const client = new pg.Client({ connectionString: cluster.url('postgres', user, password), application_name: application });
  client.on('error', () => undefined);
  try {
    await client.connect();
    if (!quiet) line(`${user} with application_name "${application}": connected`);
    return client;
  } catch (error) {
    const e = error as { code?: string; message: string; detail?: string };
    if (!quiet) line(`${user} with application_name "${application}": REFUSED, SQLSTATE ${e.code}: ${e.message}${e.detail ? ` (${e.detail})` : ''}`);
    return null;
  }
}

/** The demo's schema: an orders table for the application, a salaries table only HR may read. */
export async function createSchema(cluster: Cluster): Promise<void> {
  await cluster.createRole(APP_ROLE, APP_PASSWORD);
  await cluster.createRole(ANALYST_ROLE, ANALYST_PASSWORD);
  await cluster.createRole(MONITOR_LOGIN, MONITOR_PASSWORD);
  await cluster.query(`CREATE TABLE public.orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric NOT NULL, state text NOT NULL DEFAULT 'new');
    INSERT INTO public.orders SELECT g, 'customer ' || g, g * 10, 'paid' FROM generate_series(1, 50) g;
    GRANT SELECT, INSERT, UPDATE ON public.orders TO ${APP_ROLE};
    GRANT CREATE ON SCHEMA public TO ${APP_ROLE};
    CREATE SCHEMA hr;
    CREATE TABLE hr.salaries (name text PRIMARY KEY, salary numeric NOT NULL);
    INSERT INTO hr.salaries VALUES ('alice', 5200), ('bob', 6100), ('carol', 7400);
    GRANT USAGE ON SCHEMA hr TO ${ANALYST_ROLE};
    GRANT SELECT, UPDATE ON hr.salaries TO ${ANALYST_ROLE};`);
}

/** The application at work: reads and writes orders. */
export async function applicationWork(cluster: Cluster): Promise<void> {
  const app = await connectAs(cluster, APP_ROLE, APP_PASSWORD, 'orders-service');
  if (!app) return;
  await app.query('SELECT id, total FROM public.orders WHERE state = $1 ORDER BY id LIMIT 10', ['paid']);
  await app.query("INSERT INTO public.orders (id, customer, total) VALUES (51, 'customer 51', 99.5)");
  await app.query("UPDATE public.orders SET state = 'shipped' WHERE id = 51");
  line(`${APP_ROLE} (orders-service) read orders, inserted order 51 and shipped it`);
  await app.end();
}

/** Wrong passwords: a user who mistyped, and someone trying names from outside. */
export async function failedLogins(cluster: Cluster): Promise<void> {
  for (let i = 0; i < 2; i++) await connectAs(cluster, ANALYST_ROLE, 'wrong-password', 'psql', true);
  for (let i = 0; i < 6; i++) await connectAs(cluster, 'mallory', `guess-${i}`, 'hydra', true);
  line(`${ANALYST_ROLE} mistyped her password twice; "mallory" (no such role) tried 6 passwords`);
}

/** The analyst reads the salaries and changes one: what pgAudit is there to see. */
export async function sensitiveWork(cluster: Cluster): Promise<void> {
  const alice = await connectAs(cluster, ANALYST_ROLE, ANALYST_PASSWORD, 'psql');
  if (!alice) return;
  const { rows } = await alice.query<{ n: number }>('SELECT count(*)::int AS n FROM hr.salaries');
  await alice.query('SELECT name, salary FROM hr.salaries ORDER BY salary DESC');
  await alice.query("UPDATE hr.salaries SET salary = salary * 1.5 WHERE name = 'alice'");
  line(`${ANALYST_ROLE} (psql) read all ${rows[0]!.n} salaries and raised her own by 50 %`);
  await alice.end();
}
