// One check = one unit: what it measures, its SQL per minimum server version, how its
// values turn into levels. Every check's SQL function returns the same five columns
// (CHECK_COLUMNS); the runner adds name, level, category, remediation and finding_key.
import type { Target } from '../core/db.ts';

export type Category = 'health' | 'security';
export type Unit = 'boolean' | 'count' | 'percent' | 'seconds' | 'bytes' | 'bytes_per_hour' | 'per_second';
export type Level = 'ok' | 'warning' | 'critical' | 'unknown' | 'skipped';

export interface SqlVariant {
  /** Lowest server_version_num this body works on (e.g. 170000). */
  minVersion: number;
  language: 'sql' | 'plpgsql';
  /**
   * The function body. It sees one parameter, `params jsonb` (the check's settings, e.g.
   * window_minutes), and must return rows of (item text, value float8, detail text,
   * skipped text, metadata jsonb). Every name is schema-qualified: search_path is pinned.
   */
  body: string;
}

export interface Thresholds {
  warning: number | null;
  critical: number | null;
  /** 'above': value >= threshold is bad; 'below': value <= threshold is bad. */
  direction: 'above' | 'below';
}

export interface CheckDefinition {
  /** snake_case; the SQL function is pgwarden_monitor.check_<name>. */
  name: string;
  category: Category;
  /** cluster: the same answer from any database; database: about the database it runs in. */
  scope: 'cluster' | 'database';
  /** One line for --help, HELP lines and the docs index. */
  description: string;
  unit: Unit;
  thresholds: Thresholds;
  /** Summary when the check returns no row (e.g. "no standby is connected"). */
  emptyDetail?: string;
  /** Level of a row whose value is NULL (default ok: nothing to judge yet). */
  nullLevel?: Exclude<Level, 'skipped'>;
  /** Default settings passed to the function as params (overridable in pgwarden.yaml). */
  params?: Record<string, number>;
  sql: readonly SqlVariant[];
  /**
   * A check that must not trust the server-side functions (it verifies them): it runs as a
   * plain read of public catalogs from the client, has no SQL function and no `sql` variants,
   * and returns rows of the same contract.
   */
  local?: (client: LocalClient, context: LocalContext) => Promise<RawCheckRow[]>;
  /**
   * Called when the run starts, before the server connections are open: a local check that asks
   * another endpoint (pgBouncer's console) starts asking here, so that its connection and login
   * overlap the server's checks instead of waiting for a free connection at the end of the queue.
   */
  warm?: (context: LocalContext) => void;
  /** Defined in pgwarden.yaml (monitor.custom_checks), not by pgwarden. */
  custom?: boolean;
  /** Custom checks: tables the owner role is granted SELECT on by `monitor install`. */
  reads?: readonly string[];
}

/** What a local check gets besides the connection. */
export interface LocalContext {
  /** Every check of this run's pgwarden, custom checks included (the integrity check compares them). */
  checks: readonly CheckDefinition[];
  /** The pgBouncer admin console of this server, when one is configured. */
  pgbouncer?: Target;
  timeoutMs: number;
}

/** A row as a check function returns it (the five contract columns). */
export interface RawCheckRow { item: string | null; value: number | null; detail: string | null; skipped: string | null; metadata: Record<string, unknown> | null }

/** What a local check may do with the connection: run a query. */
export interface LocalClient {
  query<R extends Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/** The result columns every check function returns, in order (a test proves they all do). */
export const CHECK_COLUMNS = 'item text, value double precision, detail text, skipped text, metadata jsonb';

export interface CheckRow {
  item: string;
  value: number | null;
  detail: string | null;
  level: Level;
  metadata: Record<string, unknown>;
  /** `<check>:<item>`: stable, to suppress and deduplicate findings. */
  finding_key: string;
}

export interface CheckResult {
  name: string;
  category: Category;
  unit: Unit;
  level: Level;
  /** What the level means in one line: the worst rows, the skip reason or the error. */
  summary: string;
  rows: CheckRow[];
  thresholds: Thresholds;
  duration_ms: number;
  /** Set when the check could not run (timeout, server error): level is then unknown. */
  error: string | null;
  remediation: string;
}

export interface ServerResult {
  server: string;
  /** The database the checks ran in. */
  database: string | null;
  level: Level;
  /** Set when the server could not be checked at all (connection, not installed). */
  error: string | null;
  checks: CheckResult[];
  duration_ms: number;
}

const ORDER: Record<Level, number> = { skipped: 0, ok: 1, warning: 2, unknown: 3, critical: 4 };

/** The worse of two levels: critical > unknown > warning > ok > skipped. */
export function worse(a: Level, b: Level): Level {
  return ORDER[a] >= ORDER[b] ? a : b;
}

/** Nagios/Icinga/check_mk state numbers. */
export const STATE_CODE: Record<Level, number> = { ok: 0, skipped: 0, warning: 1, critical: 2, unknown: 3 };
