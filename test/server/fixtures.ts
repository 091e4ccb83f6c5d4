// Events for the dashboard tests, as the log parsers and the DDL source make them, written
// into a real repository by the real RepositoryWriter.
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import { RepositoryWriter } from '../../src/repository/index.ts';

export interface Fixture {
  events: PgwardenEvent[];
  /** the sessions, as (server, session_id, user) */
  sessions: { server: string; id: string; user: string; application: string }[];
}

/** A morning on db1 before `now`: two application sessions, an analyst reading salaries, failed logins, a refusal, DDL, tampering. */
export function morning(now = new Date()): Fixture {
  const events: PgwardenEvent[] = [];
  let position = 0;
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * 60_000).toISOString();
  const event = (kind: PgwardenEvent['kind'], minutesAgo: number, fields: Partial<PgwardenEvent>) => {
    const e = { ...newEvent(kind, 'db1', { input: '/var/log/postgresql/postgresql.csv', position: (position += 200), line: position / 200 }), ts: at(minutesAgo), ...fields };
    events.push(e);
    return e;
  };
  const sessions: Fixture['sessions'] = [];
  const session = (id: string, user: string, application: string, client: string, start: number, statements: [string, string, string, string][]) => {
    sessions.push({ server: 'db1', id, user, application });
    const who = { session_id: id, pid: 4000 + sessions.length, user, database: 'shop', client_addr: client };
    event('connection_received', start, { session_id: id, pid: who.pid, client_addr: client, client_port: 50_000 + sessions.length });
    event('connection_authorized', start - 0.01, { ...who, application });
    statements.forEach(([klass, command, object, statement], i) => {
      event('audit', start - 0.1 * (i + 1), {
        ...who, application, session_line: i + 3,
        audit: { type: 'SESSION', statement_id: i + 1, substatement_id: 1, class: klass, command, object_type: 'TABLE', object_name: object, statement, parameters: null, statement_logged: 'yes', rows: klass === 'READ' ? 3 : 1 },
      });
    });
    event('disconnection', start - 0.1 * (statements.length + 1), { ...who, application, duration_ms: 1000 * (0.1 * (statements.length + 1)) * 60 });
  };
  session('6b0a0001.1001', 'app_orders', 'orders-service', '10.0.0.5', 120, [
    ['READ', 'SELECT', 'public.orders', 'SELECT * FROM public.orders WHERE id = 1'],
    ['WRITE', 'INSERT', 'public.orders', "INSERT INTO public.orders VALUES (2, 'paid')"],
    ['WRITE', 'UPDATE', 'public.orders', "UPDATE public.orders SET state = 'shipped' WHERE id = 2"],
  ]);
  session('6b0a0002.1002', 'alice', 'psql', '10.0.0.9', 60, [
    ['READ', 'SELECT', 'hr.salaries', 'SELECT name, salary FROM hr.salaries'],
    ['WRITE', 'UPDATE', 'hr.salaries', "UPDATE hr.salaries SET salary = salary * 2 WHERE name = 'alice'"],
    ['READ', 'SELECT', 'hr.salary_history', "SELECT * FROM hr.salary_history WHERE note LIKE '100% raise'"],
    ['WRITE', 'DELETE', 'public.orders', '=HYPERLINK("http://evil")'],
  ]);
  session('6b0a0003.1003', 'app_orders', 'orders-service', '10.0.0.6', 30, [
    ['READ', 'SELECT', 'public.orders', 'SELECT count(*) FROM public.orders'],
  ]);
  for (let i = 0; i < 6; i++) {
    event('auth_failed', 45 - i * 0.2, { user: 'mallory', database: 'shop', client_addr: '203.0.113.7', severity: 'FATAL', sqlstate: '28P01', message: 'password authentication failed for user "mallory"' });
  }
  event('guard_deny', 40, {
    user: 'app_orders', database: 'shop', client_addr: '10.0.0.77', application: 'DBeaver 24.1', severity: 'FATAL', sqlstate: '42501',
    message: 'pgwarden: GUI tools are not allowed', guard: { rule_id: 1, reason: 'GUI tools are not allowed', problem: null },
  });
  const ddl = (minutesAgo: number, id: number, tag: string, trigger: string, identity: string, statement: string) => event('ddl', minutesAgo, {
    user: 'app_orders', database: 'shop', client_addr: '10.0.0.5', application: 'orders-migrations', message: `${tag} ${identity}`, query: statement,
    source: { input: 'ddl:db1/shop', position: id, line: null },
    ddl: {
      id, txid: 900 + id, event: trigger, current_user: 'app_orders', command_tag: tag, object_type: 'table', object_identity: identity, schema: 'public',
      in_extension: false, statement, change_ticket: 'CHG-1042', server_addr: null, server_port: null, detail: null,
    },
  });
  ddl(20, 1, 'CREATE TABLE', 'ddl_command_end', 'public.refunds', 'CREATE TABLE refunds (id bigint)');
  ddl(19, 2, 'DROP TABLE', 'sql_drop', 'public.refunds', 'DROP TABLE refunds');
  event('tamper', 10, {
    database: 'shop', source: { input: 'tamper:db1/shop', position: 1, line: null },
    tamper: { findings: [{ object: 'event trigger pgwarden_guard_login', state: 'DISABLED', expected: 'enabled', actual: 'disabled' }], resolved: false },
  });
  events.sort((a, b) => a.ts!.localeCompare(b.ts!));
  return { events, sessions };
}

export async function store(url: string, events: PgwardenEvent[]): Promise<void> {
  const writer = new RepositoryWriter({ url, label: 'test repository' }, { migrate: true });
  try {
    await writer.write(events);
  } finally {
    await writer.close();
  }
}
