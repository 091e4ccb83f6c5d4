// pgwarden collect: the collecting daemon. Runs the pipeline graph of pgwarden.yaml (log files
// and other sources, each sink with its filter and redaction) until SIGINT or SIGTERM; on a
// signal it lets the batch in flight finish and its checkpoint be written, then exits.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../core/config.ts';
import { PgwardenError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { sourcePrefixWarnings } from '../logs/index.ts';
import { CollectStatus, collectProblem, createSink, createSources, readStatus, runGraph, statusFile, type CollectStatusFile, type Sink, type Source } from '../pipeline/index.ts';
import type { Logger } from 'pino';
import type { Config } from '../core/config.ts';
import { compileRules } from '../detect/compile.ts';
import { durationMs } from '../detect/schema.ts';
import { defaultStateDir } from '../pipeline/checkpoint.ts';
import { CollectResponder } from '../pipeline/detect-responder.ts';
import { DetectStage } from '../pipeline/detect-stage.ts';
import { StateLocks } from '../pipeline/state-lock.ts';
import { historyQuery, rolesQuery, type HistoryQuery, type RolesQuery } from '../detect/history.ts';
import { resolveTarget, withClient, type Target } from '../core/db.ts';
import { repositorySinkTarget } from '../pipeline/sinks/repository/repository.ts';
import type { RepositorySinkConfig } from '../pipeline/sinks/repository/config.ts';
import { repositoryTarget } from '../repository/target.ts';
import { formatOption, loadCommandConfig, print } from './common.ts';
import { render, type Format } from './output.ts';

/** The detection stage, and the responder when a rule has actions (they act on the servers: the sources name). */
function detectStage(cfg: Config, sinks: Sink[], log: Logger): { stage: DetectStage; responder: CollectResponder | null } {
  const rules = new Map(compileRules(cfg.detect).map((r) => [r.id, r]));
  const active = [...rules.values()].filter((r) => r.enabled && r.inactive === null);
  const acting = active.some((r) => r.actions.length > 0);
  const servers = [...new Set(Object.values(cfg.pipeline.sources).map((s) => (s as { server?: string }).server).filter((s): s is string => s !== undefined))];
  const responder = acting ? new CollectResponder(cfg, servers, rules, log, durationMs(cfg.detect.responses.lift_interval)) : null;
  // the login history, for rules that ask about the past (dormant_role_login), from the repository collect writes to
  const asksHistory = active.some((r) => [...r.match, ...r.steps.map((s) => s.match)].some((m) => m.idle_for_ms !== undefined));
  const history = asksHistory ? historyTarget(cfg) : null;
  if (history) log.info({ repository: history.label }, 'detection reads the login history from the repository');
  // the privileged roles of each source's server that is under servers: (pg_roles, with the server's own login)
  const known = servers.filter((s) => cfg.servers[s] !== undefined);
  if (known.length > 0) log.info({ servers: known }, 'detection reads the privileged roles from the servers');
  return {
    stage: new DetectStage({
      config: cfg, sinks, log, responder: responder?.sink(), history: history ? repositoryHistory(history) : undefined,
      roles: known.length > 0 ? serverRoles(cfg, new Set(known)) : undefined,
    }),
    responder,
  };
}

/** A server's privileged roles on a connection of its own per read (a server's first records, then every 10 minutes); none for a server not under servers:. */
function serverRoles(cfg: Config, known: Set<string>): RolesQuery {
  return async (server) => (known.has(server)
    ? withClient(resolveTarget({ server }, cfg), (client) => rolesQuery((text, values) => client.query(text, values))())
    : []);
}

/** The repository of the first repository sink, else the top-level repository:, else none. */
function historyTarget(cfg: Config): Target | null {
  const sink = Object.entries(cfg.pipeline.sinks).find(([, s]) => s.type === 'repository');
  if (sink) return repositorySinkTarget(sink[0], sink[1] as RepositorySinkConfig, cfg);
  return cfg.repository?.url ? repositoryTarget(undefined, cfg) : null;
}

/** The history query on a connection of its own per read (reads are rare: a server's first records, then every 10 minutes). */
function repositoryHistory(target: Target): HistoryQuery {
  return (server, before, limit) => withClient(target, (client) => historyQuery((text, values) => client.query(text, values))(server, before, limit));
}

export function registerCollectCommand(program: Command): void {
  const collect = program.command('collect');
  collect
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
      // listening from the start, before the config is even read: a signal while sources and sinks
      // start stops collect once they have (an early SIGTERM must not kill it mid-checkpoint)
      const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const cfg = loadCommandConfig(command);
      const log = createLogger('collect');
      const sourceEntries = Object.entries(cfg.pipeline.sources);
      const sinkEntries = Object.entries(cfg.pipeline.sinks);
      if (sourceEntries.length === 0) {
        throw new PgwardenError('PGW_ERR_CONFIG', 'pipeline.sources: no source is configured, so there is nothing to collect (add a source such as { type: logfile, path: /var/log/postgresql, server: db1 }; see docs/pipeline.md)');
      }
      if (sinkEntries.length === 0) {
        throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks: no sink is configured, so the events of ${sourceEntries.map(([n]) => n).join(', ')} would go nowhere (add a sink such as { type: jsonl, path: events.jsonl }; see docs/pipeline.md)`);
      }
      // Before any source or sink is made: they read and write their checkpoints there.
      const locks = new StateLocks(stateDirs(cfg));
      const status = new CollectStatus(statusFile(cfg.pipeline, configPath(command)), cfg.pipeline.status.stuck_seconds);
      await status.claim();
      const sinks: Sink[] = [];
      for (const [name, sink] of sinkEntries) sinks.push(await createSink(name, sink, cfg, log));
      const sources: Source[] = [];
      for (const [name, source] of sourceEntries) sources.push(...await createSources(name, source, cfg, log));
      // detect.in_collect: the rules as one more consumer of every source, and alerts out of the alert sinks
      const detect = cfg.detect.in_collect ? detectStage(cfg, sinks, log) : null;
      if (detect) log.info({ state: detect.stage.path, alert_sinks: detect.stage.sinkNames, responses_dry_run: cfg.detect.responses.dry_run }, 'detection runs in collect');
      await detect?.stage.ready();
      const running = await runGraph({ sources, sinks: detect ? [...sinks, detect.stage.sink()] : sinks }, cfg.pipeline, log, status);
      detect?.stage.start();
      detect?.responder?.start();
      // written once the lanes run: a collect that failed at start leaves no status behind
      await status.start().catch(async (error: unknown) => {
        await running.stop();
        throw error;
      });
      log.info({ sources: sources.map((s) => s.name), sinks: sinks.map((s) => s.name) }, 'collecting');
      for (const [name, source] of sourceEntries) for (const warning of sourcePrefixWarnings(source as { prefix?: string })) log.warn({ source: name }, warning);
      const signal = await stopSignal;
      log.info({ signal }, 'stopping after the batch in flight');
      // The sources drain and the lanes finish first, the alert loops still sending (alerts of the
      // records drained go out now, not at the next start); then the loops stop, then the sinks close.
      await running.stop(async () => {
        await detect?.responder?.stop();
        await detect?.stage.stop();
      });
      await status.stop();
      locks.release();
      const parseErrors = sources.reduce((n, s) => n + (s.parseErrors ?? 0), 0);
      log.info({ parse_errors: parseErrors }, 'stopped');
    });

  collect.command('status')
    .description('what a running collect is doing, per source and sink: delivered, events/s, position, lag, last error, stuck or not')
    .addOption(formatOption(['table', 'json']))
    .addHelpText('after', `
Reads the status file that collect with the same config rewrites every 2 s (pipeline.status.file,
default collect-status-<hash of the config file's path>.json in the first source's state_dir,
or ~/.local/state/pgwarden). Exit codes: 0 every lane moves; 7 a lane is stuck (waiting
longer than pipeline.status.stuck_seconds, default 300, without a delivery), events were set
aside since collect started (refused by the repository for their data: see
pgwarden_repo.rejected_batches, docs/repository.md), or collect is not running (stopped, gone,
or not updating); 6 collect never ran with this config.`)
    .action(async (options: { format: Format }, command: Command) => {
      const cfg = loadCommandConfig(command);
      const file = statusFile(cfg.pipeline, configPath(command));
      const status = await readStatus(file);
      const problem = collectProblem(status);
      if (options.format === 'json') print(JSON.stringify({ ...status, problem }, null, 2));
      else print(statusTable(status));
      if (problem) throw new PgwardenError('PGW_ERR_STUCK', problem);
    });
}

/** Every directory this collect keeps state in: the checkpoints of the sources that have them, and detect.json. */
function stateDirs(cfg: Config): string[] {
  const sources = Object.values(cfg.pipeline.sources) as { type: string; state_dir?: string }[];
  const dirs = sources.filter((s) => CHECKPOINTED.has(s.type)).map((s) => s.state_dir ?? defaultStateDir());
  if (cfg.detect.in_collect) dirs.push(cfg.detect.state_dir ?? sources.map((s) => s.state_dir).find((d) => d !== undefined) ?? defaultStateDir());
  return dirs.map((d) => resolve(d));
}

/** The source types that keep a checkpoint file in their state_dir. */
const CHECKPOINTED = new Set(['logfile', 'cloudwatch', 'guard']);

/** The config file the command reads, as loadConfig finds it (it names the default status file). */
function configPath(command: Command): string {
  return (command.optsWithGlobals() as { config?: string }).config ?? (process.env.PGWARDEN_CONFIG || DEFAULT_CONFIG_FILE);
}

function statusTable(status: CollectStatusFile): string {
  const age = (at: string | null) => (at ? `${Math.max(0, Math.round((Date.now() - Date.parse(at)) / 1000))} s ago` : '-');
  const table = render(status.lanes, [
    { header: 'source', value: (l) => l.source },
    { header: 'sink', value: (l) => l.sink },
    { header: 'state', value: (l) => (l.stuck ? 'STUCK' : (l.set_aside ?? 0) > 0 ? 'SET ASIDE' : l.waiting_since ? 'catching up' : 'ok') },
    { header: 'delivered', value: (l) => l.delivered },
    { header: 'set_aside', value: (l) => l.set_aside ?? 0 },
    { header: 'events/s', value: (l) => l.events_per_second },
    { header: 'lag_s', value: (l) => l.lag_seconds },
    { header: 'position', value: (l) => (l.position ? `${l.position.input}@${l.position.position}` : '-') },
    { header: 'last_delivery', value: (l) => age(l.last_delivery_at) },
    { header: 'last_error', value: (l) => (l.last_error ? `${age(l.last_error.at)} ${l.last_error.stage}: ${l.last_error.message}` : null), maxWidth: 80 },
  ], 'table');
  return `pgwarden collect pid ${status.pid}, started ${status.started_at}, status of ${status.updated_at}${status.stopped_at ? `, stopped ${status.stopped_at}` : ''}\n${table}`
    + (status.sources ?? []).map((s) => `\n${sourceLine(s.source, s.counters)}`).join('');
}

/** A source's counters, one line: the syslog source's as received, lost, UDP loss seen and connections first. */
function sourceLine(name: string, counters: Record<string, number | boolean | null>): string {
  const c = counters;
  if ('messages' in c && 'lost_sender' in c) {
    return `source ${name}: received ${String(c.messages)} messages (${String(c.events)} events), lost_sender ${String(c.lost_sender)}, ` +
      `UDP loss seen ${String(c.udp_loss_seen)} (buffer full ${String(c.udp_dropped_full)}, sequence gaps ${String(c.sequence_missing)}, kernel ${c.udp_kernel_drops === null ? '-' : String(c.udp_kernel_drops)}), ` +
      `connections ${String(c.connections)} (${String(c.connections_open)} open), refused ${String(Number(c.refused_address) + Number(c.refused_limit))}, buffered ${String(c.buffered)}${c.paused ? ', PAUSED (buffer full)' : ''}`;
  }
  return `source ${name}: ${Object.entries(c).map(([k, v]) => `${k} ${String(v)}`).join(', ')}`;
}
