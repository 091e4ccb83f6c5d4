// The checks `pgwarden serve` runs itself: every serve.monitor.interval_seconds against the
// servers serve.monitor.servers names, each result stored in the repository (the dashboard's
// monitoring page) and shown in /metrics.
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { resolveTarget } from '../core/db.ts';
import { checkServers, type ServerResult, type ServerTarget } from '../monitor/index.ts';
import { storeResults } from './queries/monitoring.ts';

export interface MonitorLoop {
  /** resolves after the first round (tests and the demo wait for it) */
  firstRound: Promise<void>;
  stop(): Promise<void>;
}

export function monitorTargets(config: Config): ServerTarget[] {
  const names = config.serve.monitor.servers.includes('*') ? Object.keys(config.servers) : config.serve.monitor.servers;
  return names.map((name) => ({ name, target: resolveTarget({ server: name }, config) }));
}

export function startMonitorLoop(config: Config, pool: pg.Pool, log: Logger, onResults: (results: ServerResult[]) => void): MonitorLoop {
  const targets = monitorTargets(config);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    const checkedAt = new Date();
    const results = await checkServers(targets, {
      timeoutMs: config.monitor.timeout_ms, concurrency: config.monitor.concurrency, settings: config.monitor.checks,
    });
    const client = await pool.connect();
    try {
      for (const result of results) await storeResults(client, result, checkedAt, config.serve.monitor.history_days);
    } finally {
      client.release();
    }
    onResults(results);
    for (const result of results) {
      if (result.error) log.warn({ server: result.server, err: result.error }, 'monitoring: server not checked');
    }
  };
  const loop = () => {
    running = round().catch((error: Error) => log.warn({ err: error.message }, 'monitoring round failed; trying again at the next interval'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, config.serve.monitor.interval_seconds * 1000);
      });
    return running;
  };
  const firstRound = targets.length > 0 ? loop() : Promise.resolve();
  return {
    firstRound,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
