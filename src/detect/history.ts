// Facts from the repository's history, for the rules that ask about the past (dormant_role_login:
// the role's previous login). Without it the engine knows only the logins it has seen itself
// (ReplayFacts), so a role dormant for 90 days would be noticed only after 90 days of records.
// With it, the last login per (server, role) comes from pgwarden_repo.sessions (authorized_at,
// index sessions_role_login of migration 0011), and a dormant role is seen as such right after a
// start, in collect and in `detect replay --repo` alike.
//
// Which stored logins count: the engine asks, for a login at time t, for the role's previous
// one. The repository may hold that very session already (the repository sink's lane may be
// ahead of detection's; a replayed log may have been ingested), and later ones too. So the
// history of a server is read when the engine first gets records of that server, and only the
// logins before the first of them (the cutoff): from there on the engine sees the logins itself.
// A refresh reads again, up to the newest record of the server the engine has seen, what other
// writers stored meanwhile (another collect, `pgwarden ingest`); the larger time wins.
// What the history holds is not in the engine's snapshot: a restarted collect reads it again.
//
// The server's privileged roles, likewise (collect, for a server under `servers:`): every role
// with SUPERUSER, CREATEROLE, BYPASSRLS or REPLICATION from pg_roles, read with the history and
// refreshed with it, so a superuser named nowhere in pgwarden.yaml is privileged to the rules
// (off_hours_privileged_login, new_client_for_privileged_role) and to the response planner (never
// locked) from the first record on. What the server says adds to what the records and
// detect.privileged_roles say; it is what the server holds now, not at the record's time.
import type { PgwardenEvent } from '../core/event.ts';
import { eventTime } from './fields.ts';
import type { DetectFacts, RoleFacts } from './types.ts';

/** Roles read per server at most (the most recent logins first), as ReplayFacts remembers at most. */
export const HISTORY_ROLES = 100_000;

/** Stored last logins kept per role: the initial read's and the latest refreshes'. */
const HISTORY_KEPT = 4;

/** The last login (ms) of each role of a server before a time, from the repository. */
export type HistoryQuery = (server: string, before: Date, limit: number) => Promise<[role: string, ms: number][]>;

/** The query against pgwarden_repo.sessions, for a pg client or pool. */
export const LAST_LOGINS_SQL = `SELECT user_name, (extract(epoch FROM max(authorized_at)) * 1000)::float8 AS ms
FROM pgwarden_repo.sessions
WHERE server = $1 AND authorized_at < $2 AND user_name IS NOT NULL
GROUP BY user_name ORDER BY ms DESC LIMIT $3`;

/** The privileged roles of a server, from pg_roles (readable by every login). */
export type RolesQuery = (server: string) => Promise<[role: string, facts: RoleFacts][]>;

export const PRIVILEGED_ROLES_SQL = `SELECT rolname::text AS name, rolsuper, rolcreaterole, rolbypassrls, rolreplication
FROM pg_catalog.pg_roles
WHERE rolsuper OR rolcreaterole OR rolbypassrls OR rolreplication
ORDER BY rolname LIMIT $1`;

export function rolesQuery(run: (text: string, values: unknown[]) => Promise<{ rows: { name: string; rolsuper: boolean; rolcreaterole: boolean; rolbypassrls: boolean; rolreplication: boolean }[] }>): () => Promise<[string, RoleFacts][]> {
  return async () => (await run(PRIVILEGED_ROLES_SQL, [HISTORY_ROLES])).rows.map((r) => [r.name,
    { superuser: r.rolsuper, createrole: r.rolcreaterole, bypassrls: r.rolbypassrls, replication: r.rolreplication }]);
}

export function historyQuery(run: (text: string, values: unknown[]) => Promise<{ rows: { user_name: string; ms: number }[] }>): HistoryQuery {
  return async (server, before, limit) => (await run(LAST_LOGINS_SQL, [server, before, limit])).rows.map((r) => [r.user_name, Number(r.ms)]);
}

export class HistoryFacts implements DetectFacts {
  /** per server and role: the last login each read found (ascending, at most HISTORY_KEPT) */
  private readonly logins = new Map<string, number[]>();
  /** per server: the time the history was read up to (-Infinity: reading failed, a refresh tries again) */
  private readonly cutoff = new Map<string, number>();
  /** per server: the newest record time the engine has seen */
  private readonly newest = new Map<string, number>();

  /** per server: its privileged roles, as the server last said */
  private readonly serverRoles = new Map<string, Map<string, RoleFacts>>();

  constructor(private readonly inner: DetectFacts, private readonly query: HistoryQuery | null,
    private readonly onError: (server: string, what: string, error: Error) => void = () => undefined,
    private readonly roles: RolesQuery | null = null) {}

  role(server: string | null, name: string): RoleFacts | null {
    const own = this.inner.role(server, name);
    const held = server === null ? undefined : this.serverRoles.get(server)?.get(name);
    if (held === undefined) return own;
    if (own === null) return held;
    return {
      superuser: own.superuser || held.superuser, createrole: own.createrole || held.createrole,
      bypassrls: own.bypassrls || held.bypassrls, replication: own.replication || held.replication,
    };
  }

  /**
   * The latest of what the engine saw and what the repository holds before `before` (the login
   * asked about): a refresh may have read a login of a source the engine is behind on, the
   * login asked about itself included, which is no previous login of it.
   */
  lastLogin(server: string | null, name: string, before = Infinity): number | null {
    const seen = this.inner.lastLogin(server, name);
    const times = server === null ? undefined : this.logins.get(`${server}\u0000${name}`);
    let stored: number | undefined;
    if (times) for (const ms of times) if (ms < before && ms > (stored ?? -Infinity)) stored = ms;
    if (stored === undefined) return seen;
    return seen === null ? stored : Math.max(seen, stored);
  }

  knownSince(server: string | null): number | null {
    return this.inner.knownSince(server);
  }

  observe(event: PgwardenEvent, timeMs: number, login: boolean, unknownRole: boolean, granted: readonly string[] | null): void {
    this.inner.observe(event, timeMs, login, unknownRole, granted);
    const server = event.server;
    if (server !== null && !Number.isNaN(timeMs) && timeMs > (this.newest.get(server) ?? -Infinity)) this.newest.set(server, timeMs);
    // a role that turns out not to exist has no history either
    if (unknownRole && server !== null && event.user !== null) this.logins.delete(`${server}\u0000${event.user}`);
  }

  snapshot(): unknown {
    return this.inner.snapshot();
  }

  restore(snapshot: unknown): void {
    this.inner.restore(snapshot);
  }

  /** Whether the events name a server whose history has not been read yet (prepare() would query). */
  needs(events: readonly PgwardenEvent[]): boolean {
    for (let i = 0; i < events.length; i++) {
      const server = events[i]!.server;
      if (server !== null && !this.cutoff.has(server)) return true;
    }
    return false;
  }

  /** Before the engine gets the events: the history of each server among them not read yet, up to its first record. */
  async prepare(events: readonly PgwardenEvent[]): Promise<void> {
    const first = new Map<string, number>();
    for (const e of events) {
      if (e.server === null || this.cutoff.has(e.server)) continue;
      const t = eventTime(e.ts);
      if (Number.isNaN(t)) continue;
      if (t < (first.get(e.server) ?? Infinity)) first.set(e.server, t);
    }
    for (const [server, t] of first) await this.load(server, t);
  }

  /** Reads again, per server, up to the newest record the engine has seen of it; and its roles. */
  async refresh(): Promise<void> {
    for (const [server, cutoff] of this.cutoff) {
      const upTo = this.newest.get(server);
      if (upTo !== undefined && upTo > cutoff) await this.load(server, upTo);
      else await this.loadRoles(server);
    }
  }

  private async load(server: string, before: number): Promise<void> {
    await this.loadRoles(server);
    if (this.query === null) {
      this.cutoff.set(server, Math.max(this.cutoff.get(server) ?? -Infinity, before));
      return;
    }
    let rows: [string, number][];
    try {
      rows = await this.query(server, new Date(before), HISTORY_ROLES);
    } catch (error) {
      if (!this.cutoff.has(server)) this.cutoff.set(server, -Infinity);
      this.onError(server, 'the repository\'s login history', error as Error);
      return;
    }
    for (const [role, ms] of rows) {
      const k = `${server}\u0000${role}`;
      // each read's last login, newest last: a few per role (a refresh adds one when it changed)
      const times = this.logins.get(k);
      if (!times) this.logins.set(k, [ms]);
      else if (ms > times[times.length - 1]!) {
        times.push(ms);
        if (times.length > HISTORY_KEPT) times.shift();
      }
    }
    this.cutoff.set(server, Math.max(this.cutoff.get(server) ?? -Infinity, before));
  }

  /** The server's privileged roles, replacing what it said before (a role that lost SUPERUSER is no longer one). */
  private async loadRoles(server: string): Promise<void> {
    if (this.roles === null) return;
    try {
      this.serverRoles.set(server, new Map(await this.roles(server)));
    } catch (error) {
      this.onError(server, 'the server\'s roles', error as Error);
    }
  }
}
