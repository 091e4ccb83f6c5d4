// The detection engine's incidents (pgwarden_repo.incidents, stored by repository/incidents.ts):
// the paged list, one incident with its events (joined from events by input, position and
// server) and its comments, and an admin's acknowledge, resolve, reopen and comment.
import { SQL_TAG } from '../../core/db.ts';
import { PgwardenError } from '../../core/errors.ts';
import { SEVERITIES } from '../../detect/types.ts';
import type { Queryable } from '../users.ts';
import type { PageRequest } from './events.ts';
import { cursorTime, scanBackwards, type Page } from './paging.ts';

export const INCIDENT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export interface IncidentRow {
  id: string; rule: string; severity: string; state: IncidentState; detect_state: string;
  first_ts: Date | null; last_ts: Date | null; count: number; server: string | null; user_name: string | null;
  database_name: string | null; client_addr: string | null; application: string | null; summary: string; tags: string[];
  responses: unknown[]; group_values: Record<string, unknown>; stored_at: Date; updated_at: Date; state_by: string | null; state_at: Date | null;
  /** events counted since an admin last set the state (0 when none, or never set) */
  since_state: number;
}

export interface IncidentFilter { rule?: string; severity?: string; state?: string; server?: string }

function oneOf(name: string, value: string | undefined, allowed: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value)) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${name} "${value.slice(0, 100)}" is not one of ${allowed.join(', ')}`);
  return value;
}

export function validateIncidentFilter(filter: IncidentFilter): IncidentFilter {
  return { ...filter, severity: oneOf('severity', filter.severity, SEVERITIES), state: oneOf('state', filter.state, INCIDENT_STATES) };
}

const COLUMNS = `i.id, i.rule, i.severity, i.state, i.detect_state, i.first_ts, i.last_ts, i.count::float8 AS count, i.server, i.user_name,
  i.database_name, i.client_addr, i.application, i.summary, i.tags, i.responses, i.group_values, i.stored_at, i.updated_at, i.state_by, i.state_at,
  GREATEST(i.count - COALESCE(i.count_at_state, i.count), 0)::float8 AS since_state`;
/** The list's time: the last event's, or when it was stored for an incident of untimed records (indexed: incidents_seen). */
const SEEN = 'COALESCE(i.last_ts, i.stored_at)';

export function incidentList(db: Queryable, filter: IncidentFilter, request: PageRequest): Promise<Page<IncidentRow>> {
  const params: unknown[] = [];
  let where = '';
  if (filter.rule) where += ` AND i.rule = $${params.push(filter.rule)}`;
  if (filter.severity) where += ` AND i.severity = $${params.push(filter.severity)}`;
  if (filter.state) where += ` AND i.state = $${params.push(filter.state)}`;
  if (filter.server) where += ` AND i.server = $${params.push(filter.server)}`;
  return scanBackwards<IncidentRow>(db, {
    select: `${SQL_TAG}SELECT ${COLUMNS}, ${cursorTime(SEEN)} AS _ts, i.id AS _k0 FROM pgwarden_repo.incidents i WHERE true${where}`,
    params,
    time: SEEN,
    keys: [['i.id', 'text']],
  }, { from: request.range.from, to: request.range.to, cursor: request.cursor, limit: request.limit, budgetMs: request.budgetMs });
}

export interface IncidentEventRow {
  source_input: string; source_position: number; server: string | null;
  /** null: the record is not in the repository (not ingested, or pruned) */
  ts: Date | null; kind: string | null; user_name: string | null; database_name: string | null; client_addr: string | null;
  severity: string | null; message: string | null; statement: string | null; session_id: string | null;
}

export interface CommentRow { id: number; ts: Date; user_name: string; action: string; body: string }

export interface IncidentDetail { incident: IncidentRow; events: IncidentEventRow[]; comments: CommentRow[] }

export async function openIncidentCount(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`${SQL_TAG}SELECT pg_catalog.count(*)::int AS n FROM pgwarden_repo.incidents WHERE state = 'open'`);
  return rows[0]!.n;
}

export async function incidentDetail(db: Queryable, id: string): Promise<IncidentDetail | null> {
  const { rows } = await db.query<IncidentRow>(`${SQL_TAG}SELECT ${COLUMNS} FROM pgwarden_repo.incidents i WHERE i.id = $1`, [id]);
  const incident = rows[0];
  if (incident === undefined) return null;
  // The events' unique key holds their time, which the incident does not keep per event: the
  // search is bounded by the incident's first and last time (a second either side for rounding),
  // then the undated events for records without one.
  const events = await db.query<IncidentEventRow>(`${SQL_TAG}SELECT ie.source_input, ie.source_position::float8 AS source_position, ie.server,
      e.ts, e.kind, e.user_name, e.database_name, e.client_addr, e.severity, e.message, e.statement, e.session_id
    FROM pgwarden_repo.incident_events ie JOIN pgwarden_repo.incidents i ON i.id = ie.incident_id
    LEFT JOIN LATERAL (
      (SELECT d.ts, d.kind, d.user_name, d.database_name, d.client_addr, d.severity, d.message, d.statement, d.session_id
         FROM pgwarden_repo.events d
        WHERE d.source_input = ie.source_input AND d.source_position = ie.source_position AND COALESCE(d.server, '') = COALESCE(ie.server, '')
          AND d.ts >= COALESCE(i.first_ts, '-infinity') - interval '1 second' AND d.ts <= COALESCE(i.last_ts, 'infinity') + interval '1 second'
        LIMIT 1)
      UNION ALL
      (SELECT u.ts, u.kind, u.user_name, u.database_name, u.client_addr, u.severity, u.message, u.statement, u.session_id
         FROM pgwarden_repo.undated_events u
        WHERE u.source_input = ie.source_input AND u.source_position = ie.source_position AND COALESCE(u.server, '') = COALESCE(ie.server, '')
        LIMIT 1)
      LIMIT 1) e ON true
    WHERE ie.incident_id = $1 ORDER BY e.ts NULLS LAST, ie.source_input, ie.source_position`, [id]);
  const comments = await db.query<CommentRow>(`${SQL_TAG}SELECT id::float8 AS id, ts, user_name, action, body
    FROM pgwarden_repo.incident_comments WHERE incident_id = $1 ORDER BY ts, id`, [id]);
  return { incident, events: events.rows, comments: comments.rows };
}

/** The longest comment kept, in characters. */
export const MAX_COMMENT = 4000;

function commentText(body: string | undefined): string {
  const text = (body ?? '').trim();
  if (text.length > MAX_COMMENT) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `the comment is ${text.length} characters long; at most ${MAX_COMMENT} are kept`);
  return text;
}

/**
 * An admin sets the incident's state (acknowledged, resolved, or open again), with an optional
 * comment, recorded with who and when. One statement: the state and its record go together.
 * Returns false when there is no such incident.
 */
export async function setIncidentState(db: Queryable, id: string, state: string, user: string, body?: string): Promise<boolean> {
  const checked = oneOf('state', state, INCIDENT_STATES)!;
  const { rows } = await db.query(`${SQL_TAG}WITH u AS (
      UPDATE pgwarden_repo.incidents SET state = $2, state_by = $3, state_at = pg_catalog.now(), count_at_state = count, updated_at = pg_catalog.now()
       WHERE id = $1 RETURNING id)
    INSERT INTO pgwarden_repo.incident_comments (incident_id, user_name, action, body) SELECT u.id, $3, $2, $4 FROM u RETURNING id`,
  [id, checked, user, commentText(body)]);
  return rows.length > 0;
}

/** An admin's comment on an incident. Returns false when there is no such incident. */
export async function addIncidentComment(db: Queryable, id: string, user: string, body: string | undefined): Promise<boolean> {
  const text = commentText(body);
  if (text === '') throw new PgwardenError('PGW_ERR_INVALID_VALUE', 'the comment is empty');
  const { rows } = await db.query(`${SQL_TAG}INSERT INTO pgwarden_repo.incident_comments (incident_id, user_name, action, body)
    SELECT id, $2, 'comment', $3 FROM pgwarden_repo.incidents WHERE id = $1 RETURNING id`, [id, user, text]);
  return rows.length > 0;
}
