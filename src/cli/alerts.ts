// pgwarden alerts run: the long-running process that delivers DDL and tamper alerts.
import type { Command } from 'commander';
import type { DdlSourceConfig } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { createSink, createSources, runGraph, type Sink, type Source } from '../pipeline/index.ts';
import { SQL_TAG } from '../core/db.ts';
import { loadCommandConfig, onEachDatabase, print, targetOf, withConnection } from './common.ts';

export function registerAlertsCommands(program: Command): void {
  const alerts = program.command('alerts').description('real-time alerts: DDL changes and tampering, by email and webhook');
  withConnection(alerts.command('run'))
    .description('deliver alerts until stopped (SIGINT/SIGTERM); sources and sinks come from pipeline: in pgwarden.yaml')
    .option('--all-databases', 'with --db/--server: follow every database where pgwarden is installed')
    .addHelpText('after', `
The config file is --config FILE (a global option), $PGWARDEN_CONFIG or ./pgwarden.yaml.
With --db or --server, that server's DDL log is the only source (the config's pipeline.sources
are ignored); the sinks always come from the config file. One process delivers to a sink at a
time: a second one stands by and takes over when the first stops. See docs/alerts.md.

Example pgwarden.yaml:
  pipeline:
    sinks:
      dba-mail: { type: email, host: smtp.example.com, user: pgwarden, password_env: SMTP_PASSWORD,
                  from: pgwarden@example.com, to: [dba@example.com] }
      chatops:  { type: webhook, url: 'https://hooks.slack.com/services/...',
                  filter: { include_any: [{ kinds: [ddl], commands: ['DROP *'] }, { kinds: [tamper] }] } }`)
    .action(async (options: { allDatabases?: boolean; db?: string; server?: string }, command: Command) => {
      const cfg = loadCommandConfig(command);
      const log = createLogger('alerts');
      const sinkEntries = Object.entries(cfg.pipeline.sinks);
      if (sinkEntries.length === 0) {
        throw new PgwardenError('PGW_ERR_CONFIG', 'pipeline.sinks: no sink is configured, so there is nowhere to deliver alerts (see docs/alerts.md)');
      }
      const sources: Source[] = [];
      const configured = Object.keys(cfg.pipeline.sources).length > 0;
      if (options.allDatabases && configured && !options.db && !options.server) {
        throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--all-databases applies to --db or --server; with pipeline.sources in the config, set databases: [\'*\'] there');
      }
      if (options.db || options.server || Object.keys(cfg.pipeline.sources).length === 0) {
        const implicit: DdlSourceConfig = {
          type: 'ddl', server: options.server, databases: options.allDatabases ? ['*'] : undefined, tamper_check_seconds: 30, poll_seconds: 30,
        };
        sources.push(...await createSources('ddl', implicit, cfg, log, targetOf(command)));
      } else {
        for (const [name, source] of Object.entries(cfg.pipeline.sources)) sources.push(...await createSources(name, source, cfg, log));
      }
      const sinks: Sink[] = [];
      for (const [name, sink] of sinkEntries) sinks.push(await createSink(name, sink, cfg, log));
      const running = await runGraph({ sources, sinks }, cfg.pipeline, log);
      log.info({ sources: sources.map((s) => s.name), sinks: sinks.map((s) => s.name) }, 'delivering alerts');
      await new Promise<void>((resolve) => {
        const stop = () => {
          log.info('stopping');
          void running.stop().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });

  withConnection(alerts.command('forget'))
    .description('retire an alert sink: delete its delivery bookkeeping (where it stands, what it delivered)')
    .argument('<sink>', 'the sink name, as `pgwarden status` shows it')
    .option('--all-databases', 'in every database that has pgwarden')
    .action(async (sink: string, options: { allDatabases?: boolean }, command: Command) => {
      const removed = await onEachDatabase(targetOf(command), Boolean(options.allDatabases), async (client) => {
        const { rows } = await client.query<{ database: string; deleted: number }>(
          `${SQL_TAG}WITH gone AS (DELETE FROM pgwarden.alert_sinks WHERE sink = $1 RETURNING 1)
           SELECT pg_catalog.current_database() AS database, (SELECT pg_catalog.count(*) FROM gone)::int AS deleted`, [sink]);
        return rows[0]!;
      }, { onlyInstalled: true });
      const found = removed.filter((r) => r.deleted > 0);
      if (found.length === 0) throw new PgwardenError('PGW_ERR_NOT_FOUND', `there is no alert sink "${sink}" here`);
      for (const r of found) print(`${r.database}: forgot alert sink ${sink}`);
    });
}
