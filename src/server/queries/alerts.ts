// Alerts: what in the time range needs a person's eye, newest first. Tampering with the sensors,
// connections the guard refused, bursts of failed logins (failures of one user from one client
// at most serve.alerts.window_minutes apart, at least serve.alerts.failed_logins of them),
// dropped objects, server crashes (PANIC) and fatal errors other than logins; and every check
// not OK right now.
import { SQL_TAG } from '../../core/db.ts';
import { notOwnSql } from '../../repository/own.ts';
import type { Queryable } from '../users.ts';
import type { TimeRange } from './range.ts';

export type AlertLevel = 'critical' | 'warning';

export interface AlertRow {
  ts: Date;
  level: AlertLevel;
  type: 'tamper' | 'guard_deny' | 'failed_logins' | 'drop' | 'server_error';
  server: string | null;
  user_name: string | null;
  client_addr: string | null;
  summary: string;
  count: number;
}

export interface FailingCheck { server: string; check_name: string; level: string; summary: string; checked_at: Date }

export interface Alerts {
  from: string;
  to: string;
  alerts: AlertRow[];
  checks: FailingCheck[];
  /** true when there were more alerts than listed */
  truncated: boolean;
}

export async function alerts(db: Queryable, range: TimeRange, options: { failedLogins: number; windowMinutes: number; limit: number }): Promise<Alerts> {
  const { rows } = await db.query<AlertRow>(`${SQL_TAG}
    (SELECT ts, 'critical' AS level, 'tamper' AS type, server, user_name, client_addr,
            'pgwarden sensors changed in ' || COALESCE(database_name, '?') || ': ' ||
            COALESCE((SELECT pg_catalog.string_agg(f->>'state' || ' ' || (f->>'object'), ', ')
                        FROM pg_catalog.jsonb_array_elements(tamper->'findings') f), '')
            || CASE WHEN (tamper->>'resolved')::boolean THEN ' (resolved)' ELSE '' END AS summary, 1 AS count
       FROM pgwarden_repo.events WHERE kind = 'tamper' AND ts >= $1 AND ts < $2 ORDER BY ts DESC LIMIT $5)
    UNION ALL
    (SELECT ts, 'warning', 'guard_deny', server, user_name, client_addr,
            'refused ' || COALESCE(user_name, '?') || ' with "' || COALESCE(application, '') || '": ' || COALESCE(guard->>'reason', message, ''), 1
       FROM pgwarden_repo.events WHERE kind = 'guard_deny' AND ts >= $1 AND ts < $2 ORDER BY ts DESC LIMIT $5)
    UNION ALL
    (SELECT max(ts), 'warning', 'failed_logins', server, user_name, client_addr,
            pg_catalog.count(*) || ' failed logins for ' || COALESCE(user_name, '?') || ' from ' || COALESCE(client_addr, '?')
              || ' in ' || pg_catalog.ceil(extract(epoch FROM max(ts) - min(ts)) / 60) || ' min', pg_catalog.count(*)::int
       FROM (SELECT ts, server, user_name, client_addr,
                    pg_catalog.sum(gap) OVER (PARTITION BY server, user_name, client_addr ORDER BY ts ROWS UNBOUNDED PRECEDING) AS burst
               FROM (SELECT ts, server, user_name, client_addr,
                            CASE WHEN ts - pg_catalog.lag(ts) OVER (PARTITION BY server, user_name, client_addr ORDER BY ts)
                                      <= $4::int * interval '1 minute' THEN 0 ELSE 1 END AS gap
                       FROM pgwarden_repo.events WHERE kind = 'auth_failed' AND ts >= $1 AND ts < $2) failures) bursts
      GROUP BY server, user_name, client_addr, burst
     HAVING pg_catalog.count(*) >= $3::int ORDER BY max(ts) DESC LIMIT $5)
    UNION ALL
    (SELECT ts, 'warning', 'drop', server, user_name, client_addr,
            COALESCE(ddl->>'command_tag', 'DROP') || ' ' || COALESCE(ddl->>'object_identity', '') || ' by ' || COALESCE(user_name, '?')
              || COALESCE(' (ticket ' || (ddl->>'change_ticket') || ')', ''), 1
       FROM pgwarden_repo.events WHERE kind = 'ddl' AND ts >= $1 AND ts < $2 AND ddl->>'event' = 'sql_drop'
        AND ${notOwnSql('user_name', 'server')} ORDER BY ts DESC LIMIT $5)
    UNION ALL
    (SELECT ts, CASE WHEN severity = 'PANIC' THEN 'critical' ELSE 'warning' END, 'server_error', server, user_name, client_addr,
            severity || COALESCE(' ' || sqlstate, '') || ': ' || COALESCE(message, ''), 1
       FROM pgwarden_repo.events WHERE kind = 'error' AND ts >= $1 AND ts < $2 AND severity IN ('FATAL', 'PANIC')
        AND COALESCE(sqlstate, '') NOT LIKE '28%' AND ${notOwnSql('user_name', 'server')} ORDER BY ts DESC LIMIT $5)
    ORDER BY ts DESC LIMIT $5::int + 1`,
  [range.from, range.to, options.failedLogins, options.windowMinutes, options.limit]);
  const { rows: checks } = await db.query<FailingCheck>(`${SQL_TAG}SELECT server, check_name, level, summary, checked_at
      FROM pgwarden_repo.check_results WHERE level IN ('warning', 'critical', 'unknown')
     ORDER BY CASE level WHEN 'critical' THEN 0 WHEN 'unknown' THEN 1 ELSE 2 END, server, check_name`);
  return { from: range.from.toISOString(), to: range.to.toISOString(), alerts: rows.slice(0, options.limit), checks, truncated: rows.length > options.limit };
}
