// /metrics (Prometheus text format): the service's own requests and logins, the repository's
// events by kind (from the hourly counts, so a scrape costs milliseconds), and the state of
// every check serve runs.
import client from 'prom-client';
import type pg from 'pg';
import { SQL_TAG } from '../core/db.ts';
import type { ServerResult } from '../monitor/index.ts';

const LEVEL_VALUE: Record<string, number> = { ok: 0, warning: 1, critical: 2, unknown: 3, skipped: -1 };

export interface ServeMetrics {
  registry: client.Registry;
  requests: client.Counter<'method' | 'route' | 'status'>;
  duration: client.Histogram<'method' | 'route'>;
  logins: client.Counter<'result'>;
  recordChecks(results: ServerResult[]): void;
}

// prom-client's default metrics include three gauges named like counters
// (…_active_handles_total, …_active_requests_total, …_active_resources_total), which
// `promtool check metrics` rejects; their per-type gauges (…_active_handles{type}) stay, and
// sum() gives the totals.
function dropTotalGauges(registry: client.Registry): void {
  for (const what of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`pgwarden_serve_nodejs_active_${what}_total`);
}

export function createMetrics(pool: pg.Pool): ServeMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'pgwarden_serve_' });
  dropTotalGauges(registry);
  const requests = new client.Counter({
    name: 'pgwarden_http_requests_total', help: 'HTTP requests served, by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'pgwarden_http_request_duration_seconds', help: 'time to answer an HTTP request', labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1, 2.5, 5, 10], registers: [registry],
  });
  const logins = new client.Counter({ name: 'pgwarden_dashboard_logins_total', help: 'dashboard logins, by result', labelNames: ['result'] as const, registers: [registry] });
  const checkLevel = new client.Gauge({
    name: 'pgwarden_check_level', help: 'latest level of each check: 0 ok, 1 warning, 2 critical, 3 unknown, -1 skipped',
    labelNames: ['server', 'check', 'category'] as const, registers: [registry],
  });
  const checkRun = new client.Gauge({ name: 'pgwarden_check_last_run_timestamp_seconds', help: 'when the checks of a server last ran', labelNames: ['server'] as const, registers: [registry] });
  const up = new client.Gauge({ name: 'pgwarden_repository_up', help: '1 when the repository answered this scrape', registers: [registry] });
  new client.Gauge({
    name: 'pgwarden_repository_events', help: 'events in the repository, by kind and server (from the hourly counts)',
    labelNames: ['kind', 'server'] as const, registers: [registry],
    async collect() {
      this.reset();
      try {
        const { rows } = await pool.query<{ kind: string; server: string; events: number }>(
          `${SQL_TAG}SELECT kind, server, pg_catalog.sum(events)::float8 AS events FROM pgwarden_repo.event_counts GROUP BY 1, 2`);
        for (const row of rows) this.set({ kind: row.kind, server: row.server }, row.events);
        up.set(1);
      } catch {
        up.set(0);
      }
    },
  });
  return {
    registry, requests, duration, logins,
    recordChecks(results) {
      for (const result of results) {
        checkRun.set({ server: result.server }, Date.now() / 1000);
        for (const check of result.checks) checkLevel.set({ server: result.server, check: check.name, category: check.category }, LEVEL_VALUE[check.level] ?? 3);
      }
    },
  };
}
