// pgwarden repo migrate|own-roles|prune, pgwarden ingest (the repository's reports are in report.ts).
import { realpathSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { resolveTarget, withClient as withAnyClient, type Target } from '../core/db.ts';
import { pgwardenMembers, recordOwnLogins } from '../repository/own.ts';
import { canonicalInput, type Relocation } from '../core/input-identity.ts';
import { PgwardenError } from '../core/errors.ts';
import type { EventKind, ParseError } from '../core/event.ts';
import { OPAQUE_PREFIX, LOG_FORMATS, compilePrefix, prefixNotes, type LogFormat } from '../logs/index.ts';
import { defaultJobs, parseInPieces, ParsePool, type Decided, type ParsedPiece } from '../pipeline/index.ts';
import {
  RepositoryWriter, migrateRepository, parseDuration, prune, requireRepository, type EncodedBatch, type WriteResult,
} from '../repository/index.ts';
import { loadCommandConfig, parseInteger, print, repeatable } from './common.ts';
import { readInput } from '../core/read-input.ts';
import { checkReadable, parseErrorLine, parseJobs } from './input.ts';
import { render } from './output.ts';
import { repoOption, repoTarget, withRepository } from './repo-connection.ts';

const SHOWN_ERRORS = 20;

export function registerRepositoryCommands(program: Command): void {
  const repo = program.command('repo').description('the central event repository (docs/repository.md)');

  repoOption(repo.command('migrate'))
    .description('create or upgrade the repository schema (pgwarden_repo) and its roles pgwarden_repo_writer / pgwarden_repo_reader')
    .option('--writer-login <role>', 'grant pgwarden_repo_writer to this login (and set its pgaudit.log to none); repeatable', repeatable)
    .option('--server-login <role>', 'grant pgwarden_repo_server (what `pgwarden serve` needs) to this login; repeatable', repeatable)
    .action(async (options: { writerLogin?: string[]; serverLogin?: string[] }, command: Command) => {
      const result = await withRepository(repoTarget(command), (client) => migrateRepository(client, { writerLogins: options.writerLogin, serverLogins: options.serverLogin }));
      print(result.applied.length > 0
        ? `repository schema ${result.fromVersion} -> ${result.toVersion}: applied ${result.applied.join(', ')}`
        : `repository schema is up to date (version ${result.toVersion})`);
      print(result.pgauditQuiet
        ? `pgaudit.log = 'none' set for pgwarden_repo_writer${[...result.writerLogins, ...result.serverLogins].length ? ` and ${[...result.writerLogins, ...result.serverLogins].join(', ')}` : ''}`
        : 'pgAudit is not loaded on the repository server: no pgaudit.log setting needed');
    });

  repoOption(repo.command('own-roles'))
    .description("pgwarden's own roles and logins, whose rows reports, the dashboard and alerts hide by default")
    .option('--sync <server>', 'record the logins granted pgwarden roles on this server (a name under servers:); repeatable', repeatable)
    .addHelpText('after', `
The roles pgwarden creates hold on every server ('*'), and so do the logins named to repo
migrate --writer-login/--server-login. --sync NAME reads the logins that hold a pgwarden role's
privileges on the audited server NAME (servers: in pgwarden.yaml; INHERIT or SET grants, not
ADMIN alone, not pgwarden_repo_reader's members, no superuser or CREATEROLE login) and records
them under that server name, so that its events of those logins are hidden by default
(--include-own / own=1 shows them). Decided by role, never by application_name. See docs/repository.md.`)
    .action(async (options: { sync?: string[] }, command: Command) => {
      const cfg = loadCommandConfig(command);
      const synced: { server: string; roles: string[] }[] = [];
      for (const server of options.sync ?? []) {
        if (!cfg.servers[server]) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--sync "${server}" is not one of servers (${Object.keys(cfg.servers).join(', ') || 'none defined'})`);
        const members = await withAnyClient(resolveTarget({ server }, cfg), pgwardenMembers);
        synced.push({ server, roles: members.map((m) => m.role) });
      }
      const rows = await withRepository(repoTarget(command), async (client) => {
        await requireRepository(client, false);
        for (const { server, roles } of synced) {
          await client.query('BEGIN');
          await client.query(`DELETE FROM pgwarden_repo.own_roles WHERE server = $1`, [server]);
          await recordOwnLogins(client, roles, server, 'repo own-roles --sync');
          await client.query('COMMIT');
        }
        return (await client.query<{ server: string; role_name: string; via: string }>(
          'SELECT server, role_name, via FROM pgwarden_repo.own_roles ORDER BY server, role_name')).rows;
      });
      process.stdout.write(render(rows, [{ header: 'server', value: (r) => r.server }, { header: 'role', value: (r) => r.role_name }, { header: 'via', value: (r) => r.via }], 'table'));
    });

  repoOption(repo.command('prune'))
    .description('drop whole day partitions of events older than a duration')
    .requiredOption('--older-than <duration>', 'e.g. 90d, 12h, 2w')
    .option('--dry-run', 'print the partitions that would be dropped, drop nothing')
    .action(async (options: { olderThan: string; dryRun?: boolean }, command: Command) => {
      const cutoff = new Date(Date.now() - parseDuration('--older-than', options.olderThan));
      const result = await withRepository(repoTarget(command), async (client) => {
        await requireRepository(client, false);
        return prune(client, cutoff, options.dryRun ?? false);
      });
      for (const name of result.partitions) print(`${options.dryRun ? 'would drop' : 'dropped'} pgwarden_repo.${name}`);
      print(`${result.partitions.length} partition${result.partitions.length === 1 ? '' : 's'} ${options.dryRun ? 'would be ' : ''}dropped (events before ${result.cutoff.toISOString()})` +
        (options.dryRun ? '' : `, ${result.sessions} session${result.sessions === 1 ? '' : 's'} and ${result.undated} undated event${result.undated === 1 ? '' : 's'} deleted`));
    });

  repoOption(program.command('ingest'))
    .description('parse server logs and load their events into the repository, once (re-running inserts nothing twice)')
    .argument('<file...>', 'log files; - reads standard input')
    .addOption(new Option('--format <format>', 'log format').choices(['auto', ...LOG_FORMATS]).default('auto'))
    .option('--prefix <log_line_prefix>', "the server's log_line_prefix, for stderr logs (default: recognised)")
    .option('--server <name>', 'the server name to put in every event')
    .option('--writers <n>', 'connections writing batches in parallel', '2')
    .option('-j, --jobs <n>', 'parsing threads (default: one per CPU, at most 4)', parseJobs, defaultJobs())
    .option('--relocated <old=new>', 'files now under directory NEW were ingested under OLD: store them under their old names (repeatable)', repeatable)
    .addHelpText('after', `
Events are deduplicated on (time, server, file, byte offset): ingesting the same file again, or a
file that grew, inserts only what is new. A file is named by its resolved absolute path (symbolic
links and ./ resolved), however it is spelled; - (standard input) is named "-". A log directory
moved since: --relocated /var/log/old=/srv/logs/new keeps the names its files were stored under.
Exit codes: 0 done (parse errors are counted, not fatal), 2 bad input,
3 cannot connect, 5 repository schema newer than this pgwarden, 8 server error.`)
    .action(async (files: string[], options: IngestOptions, command: Command) => {
      if (options.prefix !== undefined) compilePrefix(options.prefix);
      const writers = Math.min(parseInteger('--writers', options.writers), 16);
      for (const file of files) checkReadable(file);
      const relocations = (options.relocated ?? []).map(parseRelocation);
      const summary = await ingest(files, { ...options, writers, relocations }, repoTarget(command));
      process.stderr.write(summary);
    });
}

/**
 * Stored without time, user or database, the events of a stderr log whose prefix was not
 * recognised would be of little use and, ingested again with --prefix, stored a second time
 * (their time is part of the key): refuse before they are sent.
 */
function refuseUnknownPrefix(decided: Decided, file: string, prefix: string | undefined): void {
  if (decided.format === 'stderr' && prefix === undefined && decided.prefix === OPAQUE_PREFIX) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `${file}: stderr log with a log_line_prefix pgwarden does not recognise; pass --prefix with the server's log_line_prefix (SHOW log_line_prefix)`);
  }
}

interface IngestOptions { format: LogFormat | 'auto'; prefix?: string; server?: string; writers: string; jobs: number; relocated?: string[] }

/** --relocated OLD=NEW: NEW resolved (it exists now), OLD kept as written (it may be gone, or a relative spelling of earlier rows). */
function parseRelocation(value: string): Relocation {
  const at = value.indexOf('=');
  if (at <= 0 || at === value.length - 1) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--relocated "${value}" is not OLD=NEW (the directory the files were ingested from, = where they are now)`);
  }
  const to = value.slice(at + 1);
  try {
    return { from: value.slice(0, at).replace(/\/+$/, ''), to: realpathSync(to) };
  } catch (error) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--relocated "${value}": ${to}: ${(error as Error).message}`);
  }
}




async function ingest(files: string[], options: Omit<IngestOptions, 'writers' | 'jobs'> & { writers: number; jobs: number; relocations: Relocation[] }, repository: Target): Promise<string> {
  // The log is cut into pieces that parsing threads turn into COPY rows; each piece is one
  // batch (one transaction), sent to `writers` connections in turn.
  const writers = Array.from({ length: options.writers }, () => new RepositoryWriter(repository, { applicationName: 'pgwarden/ingest' }));
  const slots: Promise<void>[] = writers.map(() => Promise.resolve());
  const pool = options.jobs > 1 ? new ParsePool(options.jobs) : null;
  let sent = 0;
  const counts = new Map<EventKind, number>();
  const totals: WriteResult = { received: 0, inserted: 0, duplicates: 0, undated: 0 };
  let errors = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  const totalBytes = files.reduce((sum, f) => sum + (f === '-' ? 0 : statSync(f).size), 0);
  // On a terminal: how far, how fast (MB and events per second since the start) and how long still.
  const bar = process.stderr.isTTY && totalBytes > 0
    ? new cliProgress.SingleBar({
      stream: process.stderr, hideCursor: true, etaBuffer: 20,
      format: 'ingest [{bar}] {percentage}% | {mb}/{mb_total} MB, {mb_per_s} MB/s | {events} events, {events_per_s}/s | ETA {eta_formatted}',
    }, cliProgress.Presets.shades_classic)
    : null;
  const progress = () => {
    const seconds = Math.max(Number(process.hrtime.bigint() - started) / 1e9, 1e-3);
    return {
      mb: (bytes / 1e6).toFixed(1), mb_total: (totalBytes / 1e6).toFixed(1), mb_per_s: (bytes / 1e6 / seconds).toFixed(1),
      events: totals.received, events_per_s: Math.round(totals.received / seconds),
    };
  };
  bar?.start(totalBytes, 0, progress());

  const send = async (piece: ParsedPiece, batch: EncodedBatch) => {
    const slot = sent++ % writers.length;
    await slots[slot];
    const writing = writers[slot]!.writeEncoded(batch).then((r) => {
      pool?.recycle(piece);
      totals.received += r.received;
      totals.inserted += r.inserted;
      totals.duplicates += r.duplicates;
      totals.undated += r.undated;
      bar?.update(bytes, progress());
    });
    // Awaited when the slot comes round again, or at the end.
    writing.catch(() => undefined);
    slots[slot] = writing;
  };
  const reportError = (error: ParseError) => {
    errors++;
    if (errors <= SHOWN_ERRORS) {
      bar?.stop();
      process.stderr.write(parseErrorLine(error));
    }
  };
  const notes: string[] = []; // what the prefix of each stderr log lacks or risks (src/logs prefixNotes)
  try {
    for (const file of files) {
      const counted = readInput(file, (n) => { bytes += n; });
      const decided: Decided = { format: null, prefix: null };
      const input = canonicalInput(file, options.relocations);
      for await (const piece of parseInPieces(counted, { format: options.format, prefix: options.prefix, server: options.server ?? null, input, output: 'copy' }, pool, decided)) {
        // Decided before the first piece is parsed: nothing of this file has been sent yet.
        refuseUnknownPrefix(decided, file, options.prefix);
        for (const [kind, n] of Object.entries(piece.kinds) as [EventKind, number][]) counts.set(kind, (counts.get(kind) ?? 0) + n);
        piece.errors.forEach(reportError);
        if (piece.batch && piece.batch.count > 0) await send(piece, piece.batch);
      }
      refuseUnknownPrefix(decided, file, options.prefix);
      for (const note of prefixNotes(decided, options.prefix !== undefined)) notes.push(`${file}: ${note}`);
    }
    for (const slot of slots) await slot;
  } finally {
    await Promise.all(slots.map((slot) => slot.catch(() => undefined)));
    bar?.update(bytes, progress());
    bar?.stop();
    await Promise.all(writers.map((writer) => writer.close()));
    await pool?.close();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const events = [...counts.values()].reduce((a, b) => a + b, 0);
  if (events === 0 && errors > 0) {
    throw new PgwardenError('PGW_ERR_INPUT', `no event could be read from ${files.join(', ')} (${errors} parse errors): is --format right for these files?`);
  }
  const byKind = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ');
  const migrated = writers.map((w) => w.migrated).find((m) => m !== null);
  return [
    ...notes,
    ...(migrated ? [`note: ${migrated.fromVersion === 0 ? 'created the pgwarden repository' : 'upgraded the pgwarden repository'} in ${repository.label.replace(/^repository /, '')} ` +
      `(schema version ${migrated.toVersion}: ${migrated.applied.join(', ')}); \`pgwarden repo migrate --writer-login NAME\` sets up a writer login (docs/repository.md)`] : []),
    `ingested ${files.length} input${files.length === 1 ? '' : 's'}, ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s ` +
      `(${Math.round(events / Math.max(seconds, 1e-9))} events/s): ${events} event${events === 1 ? '' : 's'}${byKind ? ` (${byKind})` : ''}`,
    `inserted ${totals.inserted}, duplicates ${totals.duplicates}, undated ${totals.undated}, parse errors ${errors}` +
      (errors > SHOWN_ERRORS ? ` (the first ${SHOWN_ERRORS} shown above)` : ''),
  ].join('\n') + '\n';
}
