// pgwarden detect replay FILE... — logs through the detection rules, one JSON alert per line.
// pgwarden detect replay --store [--repo URL] FILE... — and the alerts stored as incidents (issue 18).
// pgwarden detect rules — the rules in force with their settings and tags.
import { Option, type Command } from 'commander';
import { loadConfig, type Config } from '../core/config.ts';
import { canonicalInput } from '../core/input-identity.ts';
import type { ParseError } from '../core/event.ts';
import { LOG_FORMATS, compilePrefix } from '../logs/index.ts';
import { createEngine, replay, ResponsePlanner, type Alert, type ReplayFormat, type RuleSpec } from '../detect/index.ts';
import { registerResponseCommands } from './responses.ts';
import { checkReadable, parseErrorLine } from './input.ts';
import { outputClosed, writeOut } from './closed-pipe.ts';
import { render, type Column } from './output.ts';
import { repoOption, repoTarget, withRepository } from './repo-connection.ts';
import { ReplayFacts } from '../detect/facts.ts';
import { HistoryFacts, historyQuery } from '../detect/history.ts';
import { repositoryError } from '../repository/index.ts';
import { requireRepository, storeIncident } from '../repository/index.ts';

/** How many parse errors are printed one by one; the rest are only counted. */
const SHOWN_ERRORS = 20;

interface ReplayCliOptions { format: ReplayFormat; prefix?: string; server?: string; store?: boolean; repo?: string }

function configOf(command: Command): Config {
  return loadConfig((command.optsWithGlobals() as { config?: string }).config);
}

export function registerDetectCommands(program: Command): void {
  const detect = program.command('detect').description('detection rules over the events: replay logs through them, list them, operate their responses');

  const replayCommand = detect.command('replay');
  repoOption(replayCommand
    .option('--store', 'store every alert as an incident in the repository (the Alerts page of pgwarden serve); implied by --repo')
  );
  replayCommand
    .description('run logs through the detection rules in the records\' own time and print one JSON alert per line')
    .argument('<file...>', 'log files (stderr, csvlog, jsonlog; .gz too) or pgwarden\'s JSON lines (`pgwarden parse` output); - reads standard input')
    .addOption(new Option('--format <format>', 'input format (events: pgwarden\'s JSON lines)').choices(['auto', ...LOG_FORMATS, 'events']).default('auto'))
    .option('--prefix <log_line_prefix>', "the server's log_line_prefix, for stderr logs (default: recognised from the first lines)")
    .option('--server <name>', 'the server name to put in every event')
    .addHelpText('after', `
The rules and their settings come from detect: in the config (--config, docs/detect.md). Inputs
are merged by time, so their order does not matter; each alert is printed when its incident has
been quiet for the rule's close_after, and the incidents still open when the input ends are
printed last (state "open"). Responses are described, never done. Exit 0 with or without alerts.

--store (or --repo URL) also stores each alert as an incident in the repository (the login needs
pgwarden_repo_writer): the same incident replayed again is the same row, updated (docs/detect.md).

History-based rules know only the replayed records: first-seen rules learn for detect.learning
from the first record, dormant_role_login needs an earlier login in the records (with --repo or
--store: or in the repository's sessions before the first record of the server), and privileged
roles are detect.privileged_roles plus what the records' ROLE statements grant.

Examples:
  pgwarden detect replay --config pgwarden.yaml /var/log/postgresql/postgresql-15-main.csv
  pgwarden detect replay --server db1 postgresql-*.csv.gz | jq -r '.summary'
  pgwarden parse postgresql.log > events.ndjson && pgwarden detect replay events.ndjson
  pgwarden detect replay --server db1 --repo postgres://ingest@repo/pgwarden postgresql-*.csv`)
    .action(async (given: string[], options: ReplayCliOptions, command: Command) => {
      if (options.prefix !== undefined) compilePrefix(options.prefix);
      for (const file of given) checkReadable(file);
      // Each input named as parse, ingest and collect name it (its resolved absolute path): the
      // alerts' events then point at the records ingest stored, and the incident ids (which hash
      // the first record's input) are the same however the file was spelled.
      const files = given.map((file) => canonicalInput(file));
      const config = configOf(command);
      if (options.store === true || options.repo !== undefined) {
        const target = repoTarget(command);
        await withRepository(target, async (client) => {
          await requireRepository(client, false);
          const stored = { incidents: 0, inserted: 0 };
          // one store at a time, in the order the alerts come: the client runs one query at a time anyway
          // (the first failure is kept and thrown once the replay is done; the later stores are skipped)
          let chain: Promise<void> = Promise.resolve();
          let failure: unknown = null;
          // the login history of the repository (dormant_role_login), read before each server's first record
          const history = new HistoryFacts(new ReplayFacts(config.detect.privileged_roles), historyQuery((text, values) => client.query(text, values)), (server, _what, error) => {
            throw repositoryError(error, `${target.label} (the login history of ${server})`);
          });
          await replayCommandRun(files, { ...options, history }, config, (alert) => {
            chain = chain.then(async () => {
              if (failure !== null) return;
              try {
                const result = await storeIncident(client, alert);
                stored.incidents++;
                if (result.inserted) stored.inserted++;
              } catch (error) {
                failure = error;
              }
            });
          });
          await chain;
          if (failure !== null) throw failure;
          if (!outputClosed.aborted) process.stderr.write(`stored ${stored.incidents} incident${stored.incidents === 1 ? '' : 's'} (${stored.inserted} new) in ${target.label}\n`);
        });
        return;
      }
      await replayCommandRun(files, options, config);
    });

  registerResponseCommands(detect);

  detect.command('rules')
    .description('list the detection rules in force with their settings and tags')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((options: { format: 'table' | 'json' }, command: Command) => {
      const config = configOf(command);
      const rules = createEngine(config.detect).rules;
      process.stdout.write(options.format === 'json' ? JSON.stringify(rules.map(ruleJson), null, 2) + '\n' : render([...rules], RULE_COLUMNS, 'table'));
    });
}

/** The replay itself: alerts printed as JSON lines (and handed to `onAlert`), the summary on standard error. */
async function replayCommandRun(files: string[], options: ReplayCliOptions & { history?: HistoryFacts }, config: Config, onAlert?: (alert: Alert) => void): Promise<void> {
  const engine = createEngine(config.detect, options.history);
  const planner = new ResponsePlanner({
    facts: engine.facts, breakGlassRoles: config.guard.break_glass_roles,
    protectedRoles: config.detect.responses.protected_roles, protectedNetworks: config.detect.responses.protected_networks,
  });
  const byRule = new Map<string, number>();
  let shown = 0;
  const started = process.hrtime.bigint();
  const pending: Promise<void>[] = [];
  const emit = (alert: Alert) => {
    byRule.set(alert.rule, (byRule.get(alert.rule) ?? 0) + 1);
    onAlert?.(alert);
    const drained = writeOut(`${JSON.stringify(alert)}\n`);
    if (drained) pending.push(drained);
  };
  const onError = (error: ParseError) => {
    if (++shown <= SHOWN_ERRORS) process.stderr.write(parseErrorLine(error));
  };
  const stats = await replay(files, { ...options, stop: outputClosed }, engine, planner, emit, onError);
  await Promise.all(pending);
  // the reader has gone (| head -1): what it wanted was printed, and nothing more is said
  if (outputClosed.aborted) return;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const engineStats = engine.stats();
  const lines = [
    `replayed ${stats.inputs} input${stats.inputs === 1 ? '' : 's'}, ${(stats.bytes / 1e6).toFixed(1)} MB, ${stats.events} events in ${seconds.toFixed(2)} s `
      + `(${Math.round(stats.events / Math.max(seconds, 1e-9))} events/s): ${stats.alerts} alert${stats.alerts === 1 ? '' : 's'}`
      + (byRule.size > 0 ? ` (${[...byRule].map(([rule, n]) => `${rule} ${n}`).join(', ')})` : ''),
  ];
  if (stats.parseErrors > 0) lines.push(`${stats.parseErrors} parse error${stats.parseErrors === 1 ? '' : 's'}${stats.parseErrors > SHOWN_ERRORS ? ` (the first ${SHOWN_ERRORS} shown above)` : ''}`);
  if (engineStats.untrusted > 0) lines.push(`${engineStats.untrusted} record${engineStats.untrusted === 1 ? '' : 's'} a client could have written (RAISE …) not taken for the login, refusal or audit record ${engineStats.untrusted === 1 ? 'it claims' : 'they claim'} to be`);
  if (engineStats.untimed > 0) lines.push(`${engineStats.untimed} record${engineStats.untimed === 1 ? '' : 's'} without a time (is %m or %t in the log_line_prefix?): only rules without windows saw them`);
  const inactive = engine.rules.filter((r) => r.enabled && r.inactive !== null);
  if (inactive.length > 0) lines.push(`inactive: ${inactive.map((r) => `${r.id} (${r.inactive})`).join(', ')}`);
  process.stderr.write(lines.join('\n') + '\n');
}

function settingsText(rule: RuleSpec): string {
  return Object.entries(rule.settings).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ');
}

const RULE_COLUMNS: Column<RuleSpec>[] = [
  { header: 'rule', value: (r) => r.id },
  { header: 'type', value: (r) => r.type },
  { header: 'state', value: (r) => (!r.enabled ? 'disabled' : r.inactive !== null ? `inactive: ${r.inactive}` : 'enabled') },
  { header: 'severity', value: (r) => r.severity },
  { header: 'settings', value: (r) => settingsText(r) },
  { header: 'actions', value: (r) => r.actions.map((a) => a.type) },
  { header: 'attack', value: (r) => r.mitre },
];

function ruleJson(rule: RuleSpec): object {
  return {
    rule: rule.id, builtin: rule.builtin, description: rule.description, type: rule.type, enabled: rule.enabled, inactive: rule.inactive,
    severity: rule.severity, settings: rule.settings, group_by: rule.group_by, throttle_ms: rule.throttle_ms, close_after_ms: rule.close_after_ms,
    actions: rule.actions, sinks: rule.sinks, mitre: rule.mitre, compliance: rule.compliance, tags: rule.tags,
  };
}
