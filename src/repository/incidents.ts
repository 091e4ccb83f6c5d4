// The detection engine's incidents in the repository (issue 18, migration 0008): storeIncident()
// upserts an alert (detect/alert.ts) by its id, which the engine makes from the rule, the server,
// the group and the first event, so the same incident stored again — collect after a restart,
// `detect replay --repo` over the same logs, two writers at once — is the same row, holding the
// highest count, the earliest first time and the latest last time either brought. The operators'
// state (open, acknowledged, resolved: the dashboard's) is never touched here.
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import type { Alert } from '../detect/alert.ts';
import { pgText } from './encode.ts';

/** A client, a pool client or a pool: storeIncident sends one statement. */
export type IncidentDb = Pick<pg.ClientBase, 'query'>;

export interface StoredIncident {
  id: string;
  /** true when this call created the row, false when it updated one already there */
  inserted: boolean;
  /** the events behind it that this call added (those already linked are skipped) */
  eventsAdded: number;
}

// One statement, so a pool needs no transaction and two writers cannot interleave between the
// incident and its events: ON CONFLICT serialises them on the id. The engine's fields of a later
// alert (count, summary, detect_state) win only when its count is at least the stored one, so an
// older alert arriving late does not undo a newer one. The events linked are the latest alert's
// (its first and latest records, events_per_incident of them): the links an earlier store made
// and this alert no longer carries go, so an incident stored at every run of a replay over a
// growing log keeps 50 links, not 25 more per run; an older alert links nothing. (latest: the
// count after the update is this alert's, so it was at least the stored one.) The events are
// sorted so that two writers linking the same events lock them in the same order (no deadlock);
// two racing on one incident each wait on its row, and at worst leave a link the next store drops.
const UPSERT = `${SQL_TAG}WITH i AS (
  INSERT INTO pgwarden_repo.incidents AS t (id, rule, severity, detect_state, first_ts, last_ts, count, server, user_name,
    database_name, client_addr, application, group_values, summary, tags, responses)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
  ON CONFLICT (id) DO UPDATE SET
    first_ts = LEAST(t.first_ts, excluded.first_ts),
    last_ts = GREATEST(t.last_ts, excluded.last_ts),
    count = GREATEST(t.count, excluded.count),
    severity = CASE WHEN excluded.count >= t.count THEN excluded.severity ELSE t.severity END,
    -- closed is final (the engine makes a new incident, a new id, of what comes after the quiet): the
    -- same events seen open again (a replay of the first logs only, a late notice) are older news
    detect_state = CASE WHEN excluded.count > t.count OR (excluded.count = t.count AND t.detect_state <> 'closed') THEN excluded.detect_state ELSE t.detect_state END,
    summary = CASE WHEN excluded.count >= t.count THEN excluded.summary ELSE t.summary END,
    tags = CASE WHEN excluded.count >= t.count THEN excluded.tags ELSE t.tags END,
    responses = CASE WHEN excluded.count >= t.count THEN excluded.responses ELSE t.responses END,
    updated_at = pg_catalog.now()
  RETURNING t.id, (t.xmax = 0) AS inserted, (t.count = $7) AS latest
), d AS (
  DELETE FROM pgwarden_repo.incident_events ie USING i
   WHERE i.latest AND ie.incident_id = i.id AND NOT EXISTS (SELECT FROM
     ROWS FROM (pg_catalog.unnest($17::text[]), pg_catalog.unnest($18::bigint[])) AS x(input, position)
     WHERE x.input = ie.source_input AND x.position = ie.source_position)
), e AS (
  INSERT INTO pgwarden_repo.incident_events (incident_id, server, source_input, source_position)
  SELECT i.id, $8, x.input, x.position FROM i,
    ROWS FROM (pg_catalog.unnest($17::text[]), pg_catalog.unnest($18::bigint[])) AS x(input, position)
  WHERE i.latest ORDER BY x.input, x.position
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT i.id, i.inserted, (SELECT pg_catalog.count(*) FROM e)::int AS events_added FROM i`;

/**
 * Stores one alert as an incident (idempotent: the same alert id is one row). For collect and
 * `detect replay --repo`; `db` may be a pool. The login needs pgwarden_repo_writer (or more).
 */
export async function storeIncident(db: IncidentDb, alert: Alert): Promise<StoredIncident> {
  const events = [...alert.events].sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : a.position - b.position));
  // Client-chosen strings (an application name, a role name in the group or the summary) may hold
  // a NUL, which neither text nor jsonb can: U+FFFD, as the events' writer stores them (encode.ts),
  // so that the incident's server and inputs still match its events'.
  const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? pgText(v) : v));
  const { rows } = await db.query<{ id: string; inserted: boolean; events_added: number }>(UPSERT, [
    pgText(alert.id), pgText(alert.rule), alert.severity, alert.state, alert.first_ts, alert.last_ts, alert.count, pgText(alert.server),
    pgText(alert.user), pgText(alert.database), pgText(alert.client_addr), pgText(alert.application), json(alert.group ?? {}), pgText(alert.summary),
    alert.tags.map(pgText), json(alert.responses ?? []), events.map((e) => pgText(e.input)), events.map((e) => e.position),
  ]);
  const row = rows[0]!;
  return { id: row.id, inserted: row.inserted, eventsAdded: row.events_added };
}
