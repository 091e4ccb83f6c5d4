// The dashboard's /metrics exposition (what `pgwarden serve` answers, from createMetrics) read
// by promtool: prom-client's default metrics included, with requests, logins and check levels
// recorded. The check exposition of `pgwarden check` is linted in consumers.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createMetrics } from '../../src/server/metrics.ts';
import { freePort } from '../harness/postgres.ts';
import { promtool } from './consumers.ts';

describe('the dashboard /metrics exposition', () => {
  it('passes promtool check metrics', async () => {
    // No repository behind the pool: the events gauge is empty and pgwarden_repository_up 0.
    const pool = new pg.Pool({ connectionString: `postgres://nobody@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 500 });
    pool.on('error', () => undefined);
    try {
      const metrics = createMetrics(pool);
      metrics.requests.inc({ method: 'GET', route: '/api/events', status: '200' });
      metrics.duration.observe({ method: 'GET', route: '/api/events' }, 0.012);
      metrics.logins.inc({ result: 'failed' });
      metrics.recordChecks([{ server: 'db1', database: 'postgres', level: 'ok', error: null, duration_ms: 5, checks: [] }]);
      const text = await metrics.registry.metrics();
      assert.match(text, /^pgwarden_serve_nodejs_active_handles\b/m, 'the default metrics are there');
      assert.deepEqual(promtool(text), { code: 0, problems: '' });
    } finally {
      await pool.end();
    }
  });
});
