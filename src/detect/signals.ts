// One event as the rules see it: its time, whether a client could have written it, and what it
// means (signals), each worked out at most once per event and only when a rule asks.
//
// Trust. The parsers (src/logs) set an event's kind from the message text. A client can make the
// server log text of its choice (RAISE LOG / RAISE EXCEPTION in PL/pgSQL, plpy.log …), and such
// a record always carries a CONTEXT line, or has severity ERROR at most. So:
//   - connection, disconnection and failed-login records count only without a CONTEXT: a forged
//     `RAISE LOG 'connection authorized: user=postgres …'` is no login (it would teach the
//     first-seen and dormant-role rules what the attacker wants);
//   - a guard refusal from a log line counts only at severity FATAL, which PL/pgSQL cannot raise
//     (the guard's refusal during login is FATAL; a `RAISE EXCEPTION 'pgwarden: connection
//     refused for role "x" …'` is an ERROR, and names whatever role the client typed);
//   - pgAudit records are pgAudit's only without CONTEXT or STATEMENT (src/logs/messages.ts).
// An untrusted record is seen as what it is, an `error` or a `log` record of its session.
import type { EventKind, PgwardenEvent } from '../core/event.ts';
import { calledFunctions, changedSettings, disablesEventTrigger, grantedPrivileges, isCopyProgram, isUnboundedChange, usedLanguages } from './sql-text.ts';
import type { DetectFacts, RoleClass, Signal } from './types.ts';

/** pgwarden's own roles (src/sensors, src/monitor, src/repository): never the target of a response. */
export const PGWARDEN_ROLES: ReadonlySet<string> = new Set(['pgwarden_recorder', 'pgwarden_watcher', 'pgwarden_alerts', 'pgwarden_monitor',
  'pgwarden_monitor_owner', 'pgwarden_repo_writer', 'pgwarden_repo_reader', 'pgwarden_repo_server', 'pgwarden_web', 'pgwarden_responder']);

export interface ViewContext {
  facts: DetectFacts;
  applicationRole: (name: string | null | undefined) => boolean;
  /** A quick test for the function names any rule looks for (null: no rule does). */
  functionMention: RegExp | null;
}

const PARAMETER_CHANGED = /^parameter "([^"]+)" (?:changed to|removed from configuration file)/;
const LOGGED_STATEMENT = /^(?:statement|execute [^:]*): /;
const SETTING_COMMANDS = new Set(['SET', 'RESET', 'ALTER SYSTEM', 'ALTER ROLE', 'ALTER DATABASE']);
const ROLE_COMMANDS = new Set(['CREATE ROLE', 'ALTER ROLE', 'GRANT ROLE', 'GRANT', 'CREATE USER', 'ALTER USER', 'ALTER GROUP', 'CREATE GROUP']);
const CODE_COMMANDS = new Set(['CREATE FUNCTION', 'CREATE PROCEDURE', 'DO', 'CREATE OR REPLACE FUNCTION', 'CREATE OR REPLACE PROCEDURE']);

/** Whether the record can only have been written by the server (see the file's comment). */
export function isServerWritten(event: PgwardenEvent): boolean {
  switch (event.kind) {
    case 'connection_received':
    case 'connection_authorized':
    case 'disconnection':
      return event.context === null;
    case 'auth_failed':
      return event.context === null && event.severity === 'FATAL';
    case 'guard_deny':
      // null: a guard record read from pgwarden.connection_attempts, not from a log line.
      return event.severity === 'FATAL' || event.severity === null;
    default:
      return true;
  }
}

const NONE: readonly string[] = [];

export class EventView {
  event!: PgwardenEvent;
  /** The record's own time (ms), or NaN when it has none. */
  time = NaN;
  /** The kind, or `error`/`log` for a record a client could have written. */
  kind: EventKind = 'log';
  trusted = true;
  private statementText: string | null | undefined;
  private grantList: readonly string[] | undefined;
  private settingList: readonly string[] | undefined;
  private functionList: readonly string[] | undefined;
  private languageList: readonly string[] | undefined;
  private signals = 0;
  private signalsKnown = 0;

  constructor(private readonly context: ViewContext) {}

  reset(event: PgwardenEvent, time: number): void {
    this.event = event;
    this.time = time;
    this.trusted = isServerWritten(event);
    this.kind = this.trusted ? event.kind : (event.severity === 'ERROR' || event.severity === 'FATAL' || event.severity === 'PANIC' ? 'error' : 'log');
    this.statementText = undefined;
    this.grantList = undefined;
    this.settingList = undefined;
    this.functionList = undefined;
    this.languageList = undefined;
    this.signals = 0;
    this.signalsKnown = 0;
  }

  /** The statement the record is about: pgAudit's, the DDL log's, or the one an error names. */
  statement(): string | null {
    if (this.statementText === undefined) {
      const e = this.event;
      this.statementText = this.kind === 'audit' ? e.audit!.statement : this.kind === 'ddl' ? (e.ddl!.statement ?? e.query) : e.query;
    }
    return this.statementText;
  }

  signal(signal: Signal): boolean {
    const bit = 1 << SIGNAL_BITS[signal];
    if ((this.signalsKnown & bit) === 0) {
      this.signalsKnown |= bit;
      if (this.compute(signal)) this.signals |= bit;
    }
    return (this.signals & bit) !== 0;
  }

  private compute(signal: Signal): boolean {
    const e = this.event;
    const kind = this.kind;
    switch (signal) {
      case 'login': return kind === 'connection_authorized';
      case 'login_failed': return kind === 'auth_failed';
      case 'unknown_role': {
        if (kind !== 'auth_failed') return false;
        const detail = e.detail;
        if (detail !== null && detail.startsWith('Role "') && /^Role "[\s\S]*" does not exist\./.test(detail)) return true;
        const message = e.message;
        return message !== null && message.startsWith('role "') && message.endsWith('" does not exist');
      }
      case 'guard_refusal': return kind === 'guard_deny' && (e.guard === null || e.guard.problem === null);
      case 'ddl': return kind === 'ddl' || (kind === 'audit' && e.audit!.class === 'DDL');
      case 'unbounded_change': return kind === 'audit' && e.audit!.class === 'WRITE' && isUnboundedChange(this.statement(), e.audit!.command);
      case 'copy_program': return kind === 'audit' && e.audit!.command === 'COPY' && isCopyProgram(this.statement());
      case 'event_trigger_disabled':
        if (kind === 'tamper') return e.tamper!.findings.some((f) => f.state === 'DISABLED' && /event trigger/i.test(f.object));
        return kind === 'audit' && e.audit!.command.endsWith('EVENT TRIGGER') && disablesEventTrigger(this.statement());
      case 'tamper': return kind === 'tamper' && !e.tamper!.resolved;
    }
  }

  /** Role attributes and memberships the statement gives (CREATE/ALTER ROLE, GRANT role). */
  grants(): readonly string[] {
    if (this.grantList === undefined) {
      const audit = this.kind === 'audit' ? this.event.audit! : null;
      this.grantList = audit !== null && (audit.class === 'ROLE' || ROLE_COMMANDS.has(audit.command)) ? grantedPrivileges(this.statement()) : NONE;
    }
    return this.grantList;
  }

  /** Settings the record changes (lower case; `*` for all). */
  settings(): readonly string[] {
    if (this.settingList === undefined) {
      const e = this.event;
      let list = NONE;
      if (this.kind === 'audit') {
        const text = this.statement();
        if (text !== null && (SETTING_COMMANDS.has(e.audit!.command) || /set_config|;\s*(?:set|reset|alter)\b/i.test(text))) list = changedSettings(text);
      } else if (this.kind === 'log' && e.context === null && e.message !== null) {
        // The server's own lines: a reload that changed a setting, and log_statement's copy of a statement.
        const changed = e.user === null ? PARAMETER_CHANGED.exec(e.message) : null;
        if (changed) list = [changed[1]!.toLowerCase()];
        else if (LOGGED_STATEMENT.test(e.message)) list = changedSettings(e.message.slice(e.message.indexOf(': ') + 2));
      }
      this.settingList = list;
    }
    return this.settingList;
  }

  /** Functions the statement calls, and the function a pgAudit FUNCTION record names. */
  functions(): readonly string[] {
    if (this.functionList === undefined) {
      let list = NONE;
      const mention = this.context.functionMention;
      if (mention !== null && (this.kind === 'audit' || this.kind === 'ddl')) {
        list = calledFunctions(this.statement(), mention);
        const audit = this.event.audit;
        if (audit !== null && audit.class === 'FUNCTION' && audit.object_name !== null) {
          const name = audit.object_name;
          list = [...list, name.slice(name.lastIndexOf('.') + 1).toLowerCase()];
        }
      }
      this.functionList = list;
    }
    return this.functionList;
  }

  /** Languages of functions the statement creates or of the DO block it runs. */
  languages(): readonly string[] {
    if (this.languageList === undefined) {
      const command = this.kind === 'audit' ? this.event.audit!.command : this.kind === 'ddl' ? this.event.ddl!.command_tag : null;
      this.languageList = command !== null && CODE_COMMANDS.has(command) ? usedLanguages(this.statement()) : NONE;
    }
    return this.languageList;
  }

  roleIs(role: RoleClass): boolean {
    const user = this.event.user;
    if (user === null) return false;
    switch (role) {
      case 'application': return this.context.applicationRole(user);
      case 'pgwarden': return PGWARDEN_ROLES.has(user);
      default: {
        const facts = this.context.facts.role(this.event.server, user);
        if (facts === null) return false;
        if (role === 'privileged') return facts.superuser || facts.createrole || facts.bypassrls;
        return facts[role];
      }
    }
  }

  lastLogin(): number | null {
    const user = this.event.user;
    return user === null ? null : this.context.facts.lastLogin(this.event.server, user, Number.isNaN(this.time) ? Infinity : this.time);
  }
}

const SIGNAL_BITS: Record<Signal, number> = {
  login: 0, login_failed: 1, unknown_role: 2, guard_refusal: 3, ddl: 4, unbounded_change: 5, copy_program: 6, event_trigger_disabled: 7, tamper: 8,
};
