// Facts for history-based rules when the only history is the records themselves (replay, and
// collect until phase B backs DetectFacts with the repository and the server's pg_roles):
//   - privileged roles: detect.privileged_roles, plus what the replayed ROLE records grant
//     (CREATE/ALTER ROLE … SUPERUSER, GRANT pg_… TO …) — a record pgAudit wrote for a statement
//     that then failed counts too (it errs towards "privileged");
//   - last login per role: the records' own successful logins (connection authorized, unless the
//     same session then fails with "role … does not exist");
//   - known since: the first record of each server, so learning periods count in record time.
// So a short replay raises no first-seen and no dormant-role alert: it knows too little.
import type { PgwardenEvent } from '../core/event.ts';
import { compileGlobs } from './match.ts';
import type { DetectFacts, RoleFacts } from './types.ts';

/** Roles remembered per facts object (and servers): beyond it the least recently seen is forgotten. */
const MAX_ROLES = 100_000;

interface ReplayFactsState {
  roles: [string, RoleFacts][];
  logins: [string, number][];
  since: [string, number][];
}

export class ReplayFacts implements DetectFacts {
  private readonly privileged: (name: string) => boolean;
  private roles = new Map<string, RoleFacts>();
  private logins = new Map<string, number>();
  private since = new Map<string, number>();

  constructor(privilegedRoles: readonly string[]) {
    this.privileged = compileGlobs(privilegedRoles) ?? (() => false);
  }

  role(server: string | null, name: string): RoleFacts | null {
    const learned = this.roles.get(key(server, name));
    if (learned) return learned;
    return this.privileged(name) ? { superuser: true, createrole: true, bypassrls: true, replication: true } : null;
  }

  lastLogin(server: string | null, name: string): number | null {
    return this.logins.get(key(server, name)) ?? null;
  }

  knownSince(server: string | null): number | null {
    return this.since.get(server ?? '') ?? null;
  }

  /** Called by the engine after the rules, with what signals.ts recognised. */
  observe(event: PgwardenEvent, timeMs: number, login: boolean, unknownRole: boolean, granted: readonly string[] | null): void {
    if (!Number.isNaN(timeMs) && !this.since.has(event.server ?? '')) this.since.set(event.server ?? '', timeMs);
    const user = event.user;
    if (user === null) return;
    if (login && !Number.isNaN(timeMs)) remember(this.logins, key(event.server, user), timeMs);
    // A trust or peer login logs "connection authorized" for a role that then turns out not to exist.
    if (unknownRole) this.logins.delete(key(event.server, user));
    if (granted && granted.length > 0) this.grant(event, granted);
  }

  private grant(event: PgwardenEvent, granted: readonly string[]): void {
    // The grantee is named in the statement; granted holds attributes (upper case) and role names.
    const grantee = granteeOf(event);
    if (grantee === null) return;
    const k = key(event.server, grantee);
    const facts = { ...(this.roles.get(k) ?? { superuser: false, createrole: false, bypassrls: false, replication: false }) };
    for (const item of granted) {
      if (item === 'SUPERUSER') facts.superuser = true;
      else if (item === 'CREATEROLE') facts.createrole = true;
      else if (item === 'BYPASSRLS') facts.bypassrls = true;
      else if (item === 'REPLICATION') facts.replication = true;
    }
    remember(this.roles, k, facts);
  }

  snapshot(): ReplayFactsState {
    return { roles: [...this.roles], logins: [...this.logins], since: [...this.since] };
  }

  restore(snapshot: unknown): void {
    const state = snapshot as ReplayFactsState;
    this.roles = new Map(state.roles);
    this.logins = new Map(state.logins);
    this.since = new Map(state.since);
  }
}

function key(server: string | null, role: string): string {
  return `${server ?? ''}\u0000${role}`;
}

/** Sets a map entry as the most recent, forgetting the least recent beyond MAX_ROLES. */
function remember<V>(map: Map<string, V>, k: string, value: V): void {
  map.delete(k);
  map.set(k, value);
  if (map.size > MAX_ROLES) map.delete(map.keys().next().value!);
}

/** The role a CREATE/ALTER ROLE statement is about, or the grantee of a GRANT (first one). */
function granteeOf(event: PgwardenEvent): string | null {
  const text = event.audit?.statement ?? null;
  if (text === null) return null;
  const create = /^\s*(?:create|alter)\s+(?:role|user)\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))/i.exec(text);
  if (create) return create[1] !== undefined ? create[1].replaceAll('""', '"') : create[2]!.toLowerCase();
  const grant = /\bto\s+(?:"((?:[^"]|"")+)"|([A-Za-z_][\w$]*))/i.exec(text);
  if (grant) return grant[1] !== undefined ? grant[1].replaceAll('""', '"') : grant[2]!.toLowerCase();
  return null;
}
