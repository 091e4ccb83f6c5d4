// The detection part's vocabulary: what a rule is once compiled, what an incident and an alert
// are, and the facts interface through which history-based rules learn about roles and logins.
import type { EventSource, PgwardenEvent } from '../core/event.ts';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Fields a rule can group by, count distinct values of, or key a first-seen set on. */
export const FIELDS = ['server', 'user', 'role', 'database', 'application', 'client_addr', 'client_network',
  'session_id', 'pid', 'object', 'command', 'kind', 'sqlstate'] as const;
export type Field = (typeof FIELDS)[number];

/** Classes of the session user, decided through the facts (DetectFacts.role) and the config. */
export const ROLE_CLASSES = ['privileged', 'superuser', 'createrole', 'bypassrls', 'replication', 'application', 'pgwarden'] as const;
export type RoleClass = (typeof ROLE_CLASSES)[number];

/** What pgwarden recognises in an event, from fields a client cannot write (signals.ts). */
export const SIGNALS = ['login', 'login_failed', 'unknown_role', 'guard_refusal', 'ddl', 'unbounded_change',
  'copy_program', 'event_trigger_disabled', 'tamper'] as const;
export type Signal = (typeof SIGNALS)[number];

export const ACTIONS = ['terminate', 'lock_role', 'block_client'] as const;
export type ActionType = (typeof ACTIONS)[number];

export const RULE_TYPES = ['match', 'threshold', 'first_seen', 'sequence'] as const;
export type RuleType = (typeof RULE_TYPES)[number];

/** A match once compiled from config: the same keys, durations in ms. */
export interface MatchSpec {
  kinds?: readonly string[];
  signals?: readonly Signal[];
  users?: readonly string[];
  roles?: readonly RoleClass[];
  databases?: readonly string[];
  applications?: readonly string[];
  clients?: readonly string[];
  objects?: readonly string[];
  object_types?: readonly string[];
  commands?: readonly string[];
  classes?: readonly string[];
  sqlstates?: readonly string[];
  severities?: readonly string[];
  statements?: readonly string[];
  messages?: readonly string[];
  grants?: readonly string[];
  settings?: readonly string[];
  functions?: readonly string[];
  languages?: readonly string[];
  min_rows?: number;
  idle_for_ms?: number;
  when?: 'business_hours' | 'off_hours';
}

export interface BusinessHours { days: readonly string[]; hours: readonly string[]; zone: string }

export type ActionSpec =
  | { type: 'terminate' }
  | { type: 'lock_role'; duration_ms: number }
  | { type: 'block_client'; duration_ms: number; ipv4_prefix: number; ipv6_prefix: number };

/** Compliance controls a rule supports, by framework. */
export interface Compliance { pci_dss: readonly string[]; hipaa: readonly string[]; gdpr: readonly string[]; nist_800_53: readonly string[] }

/** A rule ready for the engine: built-in rules and custom rules compile to this same shape. */
export interface RuleSpec {
  id: string;
  builtin: boolean;
  description: string;
  severity: Severity;
  enabled: boolean;
  type: RuleType;
  /** any of these (match, threshold, first_seen); for a sequence, the steps' matches */
  match: readonly MatchSpec[];
  ignore: readonly MatchSpec[];
  group_by: readonly Field[];
  /** threshold */
  threshold: number;
  window_ms: number;
  distinct: Field | null;
  /** first_seen: the combination learned from every matching event, and what a new one must also match to alert */
  key: readonly Field[];
  alert_if: readonly MatchSpec[];
  /** sequence */
  steps: readonly { match: MatchSpec; count: number }[];
  within_ms: number;
  throttle_ms: number;
  close_after_ms: number;
  business_hours: BusinessHours;
  actions: readonly ActionSpec[];
  /** null: every alert sink */
  sinks: readonly string[] | null;
  mitre: readonly string[];
  compliance: Compliance;
  tags: readonly string[];
  /** Why the rule cannot fire as configured (e.g. no sensitive objects), or null. */
  inactive: string | null;
  /** The parameters as configured, for `detect rules` (thresholds, lists). */
  settings: Record<string, unknown>;
  /** One line about an incident of this rule. */
  summary(incident: IncidentView): string;
}

/** An event an incident holds on to: enough to find it again in its input. */
export type EventRef = Pick<EventSource, 'input' | 'position'>;

export interface SessionRef { pid: number; session_id: string | null; user: string | null; database: string | null }

/** An incident as the outside sees it (alerts, notices, snapshots of open incidents). */
export interface IncidentView {
  /** stable: the same records give the same id, in replay and in collect */
  id: string;
  rule: string;
  severity: Severity;
  server: string | null;
  /** the values the rule groups by; `overflow: true` when the rule's state limit merged groups */
  group: Record<string, string | number | boolean | null>;
  state: 'open' | 'closed';
  first_ts: string;
  last_ts: string;
  first_ms: number;
  last_ms: number;
  count: number;
  /** distinct values of the rule's `distinct` field, up to 100 */
  distinct: string[];
  /** identity of the first event (or of the group) */
  user: string | null;
  database: string | null;
  client_addr: string | null;
  application: string | null;
  /** the first and the latest events (events_per_incident in all) */
  events: EventRef[];
  sessions: SessionRef[];
  /** notices sent for this incident so far (opened + updates) */
  notices: number;
}

export type NoticeKind = 'opened' | 'updated' | 'closed';

/** What the engine tells its caller: an incident opened, grew (throttled), or closed. */
export interface Notice {
  kind: NoticeKind;
  /** `<incident id>:<n>`: unique per notice, the same when the same records are processed again (delivery ids) */
  id: string;
  incident: IncidentView;
}

/** What is known about a role on a monitored server. */
export interface RoleFacts {
  superuser: boolean;
  createrole: boolean;
  bypassrls: boolean;
  replication: boolean;
}

/**
 * The facts history-based rules need. The engine calls these synchronously for every event that
 * asks, so an implementation answers from memory: phase B backs it with the repository and the
 * monitored server's pg_roles (refreshed in the background); replay learns them from the replayed
 * records (ReplayFacts in facts.ts).
 */
export interface DetectFacts {
  /** What is known about the role, or null when nothing is. */
  role(server: string | null, name: string): RoleFacts | null;
  /** The time (ms) of the role's last login before now (`before`, the login asked about), or null when none is known. */
  lastLogin(server: string | null, name: string, before?: number): number | null;
  /** Since when (ms) the server's records are known: learning periods count from here. */
  knownSince(server: string | null): number | null;
  /**
   * Sees each event after the rules did (so a rule reads the facts as they were before it), with
   * what signals.ts recognised: a trusted login, a login as a role that does not exist, and the
   * attributes and roles a pgAudit ROLE record grants.
   */
  observe(event: PgwardenEvent, timeMs: number, login: boolean, unknownRole: boolean, granted: readonly string[] | null): void;
  /** The learned facts as plain data, for a checkpoint; restore() takes it back. */
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}
