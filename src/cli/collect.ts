// pgwarden collect: the collecting daemon. Runs the pipeline graph of pgwarden.yaml (log files
// and other sources, each sink with its filter and redaction) until SIGINT or SIGTERM; on a
// signal it lets the batch in flight finish and its checkpoint be written, then exits.
import type { Command } from 'commander';
import { PgwardenError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { createSink, createSources, runGraph, type Source } from '../pipeline/index.ts';
import { config } from './common.ts';

export function registerCollectCommand(program: Command): void {
  program.command('collect')
    .description('collect logs: follow the pipeline.sources of pgwarden.yaml and deliver to its sinks until SIGINT/SIGTERM')
    .addHelpText('after', `
The config file is --config FILE (a global option), $PGWARDEN_CONFIG or ./pgwarden.yaml.
Checkpoints are kept per source and sink in state_dir: a restarted collect goes on where the
last one stopped. See docs/pipeline.md.

Example pgwarden.yaml:
  pipeline:
    sources:
      pglog: { type: logfile, path: /var/log/postgresql, pattern: 'postgresql-*.log', server: db1 }
    sinks:
      archive: { type: jsonl, path: /var/lib/pgwarden/audit.jsonl, redact: { parameters: true } }
      siem:    { type: syslog, host: 10.0.0.5, port: 6514, protocol: tcp,
                 filter: { include: { kinds: [audit] }, event_filter: '?delete ?update' } }

Other sources: cloudwatch (Amazon RDS/Aurora logs, { type: cloudwatch, log_group: /aws/rds/instance/db1/postgresql }),
sqs ({ type: sqs, queue_url: https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE }) and nats (a repository writer
of a fleet); sink nats publishes to NATS JetStream. See docs/pipeline.md and docs/fleet.md.`)
    .action(async (_options: unknown, command: Command) => {
      const cfg = config(command);
      const log = createLogger('collect');
      const sourceEntries = Object.entries(cfg.pipeline.sources);
      const sinkEntries = Object.entries(cfg.pipeline.sinks);
      if (sourceEntries.length === 0) {
        throw new PgwardenError('PGW_ERR_CONFIG', 'pipeline.sources: no source is configured, so there is nothing to collect (add a source such as { type: logfile, path: /var/log/postgresql, server: db1 }; see docs/pipeline.md)');
      }
      if (sinkEntries.length === 0) {
        throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks: no sink is configured, so the events of ${sourceEntries.map(([n]) => n).join(', ')} would go nowhere (add a sink such as { type: jsonl, path: events.jsonl }; see docs/pipeline.md)`);
      }
      // listening from the start: a signal while sources and sinks start stops collect once they have
      const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const sinks = sinkEntries.map(([name, sink]) => createSink(name, sink, cfg, log));
      const sources: Source[] = [];
      for (const [name, source] of sourceEntries) sources.push(...await createSources(name, source, cfg, log));
      const running = await runGraph({ sources, sinks }, cfg.pipeline, log);
      log.info({ sources: sources.map((s) => s.name), sinks: sinks.map((s) => s.name) }, 'collecting');
      const signal = await stopSignal;
      log.info({ signal }, 'stopping after the batch in flight');
      await running.stop();
      const parseErrors = sources.reduce((n, s) => n + ((s as { parseErrors?: number }).parseErrors ?? 0), 0);
      log.info({ parse_errors: parseErrors }, 'stopped');
    });
}
