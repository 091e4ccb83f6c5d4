// pgwarden detect responses list | history | lift ID | lift-expired | run ACTION — the responses
// that act (docs/detect.md, "Responses"): what is locked or blocked now, lifting it, lifting
// what expired (for cron), and one response by hand (or its dry run).
import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import ipaddr from 'ipaddr.js';
import { classifyError } from '../core/errors.ts';
import { PgwardenError } from '../core/errors.ts';
import { Responder, type ActiveResponse, type ResponseRecord } from '../detect/index.ts';
import { MAX_RESPONSE_MS } from '../detect/responses.ts';
import { durationMs } from '../detect/schema.ts';
import { formatOption, loadConfigModule, parseInteger, print, targetOf, withConnection } from './common.ts';
import { render, type Column, type Format } from './output.ts';

const RECORD_COLUMNS: Column<ResponseRecord>[] = [
  { header: 'id', value: (r) => String(r.id) },
  { header: 'ts', value: (r) => r.ts },
  { header: 'database', value: (r) => r.database },
  { header: 'action', value: (r) => r.action },
  { header: 'outcome', value: (r) => r.outcome },
  { header: 'target', value: (r) => r.role ?? r.network ?? (r.pid === null ? '' : `pid ${r.pid}`) },
  { header: 'until', value: (r) => r.until ?? '' },
  { header: 'reason', value: (r) => r.reason },
];

const ACTIVE_COLUMNS: Column<ActiveResponse>[] = [
  { header: 'kind', value: (a) => a.kind },
  { header: 'id', value: (a) => a.id },
  { header: 'target', value: (a) => a.role ?? a.network ?? '' },
  { header: 'database', value: (a) => a.database },
  { header: 'since', value: (a) => a.since },
  { header: 'until', value: (a) => a.expired ? `${a.until} (expired, not lifted yet)` : a.until },
];

const FORMATS: Format[] = ['table', 'csv', 'json'];

/** Runs against the target; a PostgreSQL error becomes a one-line PGW_ERR_* (42501 for a login without pgwarden_watcher). */
async function run<T>(command: Command, work: (responder: Responder) => Promise<T>, dryRun = false): Promise<T> {
  await loadConfigModule();
  const target = targetOf(command);
  try {
    return await work(new Responder(target, { dryRun }));
  } catch (error) {
    throw classifyError(error, target.label);
  }
}

function parseDuration(text: string): number {
  if (!/^\d+(s|m|h|d)$/.test(text) || durationMs(text) <= 0 || durationMs(text) > MAX_RESPONSE_MS) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--duration "${text}" is not a duration from 1s to 30d such as 30s, 30m, 2h or 1d`);
  }
  return durationMs(text);
}

/** A backend pid: 1 to 2147483647 (PostgreSQL's integer). */
function parsePid(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) < 1 || Number(text) > 2_147_483_647) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--pid "${text}" is not a process id from 1 to 2147483647`);
  }
  return Number(text);
}

function parseNetwork(text: string): string {
  if (!ipaddr.isValidCIDR(text) && !ipaddr.isValid(text)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--network "${text}" is not an address or network such as 203.0.113.7 or 203.0.113.0/24`);
  }
  // A network too wide (networkTooWide) is not bad input but a refusal: the server refuses it
  // in every guarded database and records it there, so the attempt is on record (exit 1).
  return text;
}

export function registerResponseCommands(detect: Command): void {
  const responses = detect.command('responses')
    .description('the responses that act: active locks and blocks, lifting them, one by hand or as a dry run')
    .addHelpText('after', `
Responses are recorded in pgwarden.response_actions of each database they act in; locks
(lock_role, which needs \`pgwarden install --responder\`) are kept in the database the responder
was installed in; blocks are temporary guard deny rules in every guarded database, which the
login check ignores once expired. Run \`lift-expired\` from cron every minute: it lifts the locks
whose time has come even when collect is down (docs/detect.md, "Responses").

Needs a login with pgwarden_watcher (or a superuser). Exit codes: 0 done (also nothing to do,
dry run), 1 \`run\` was refused, 2 bad input, 3 connection, 4 privilege, 6 no such lock or block.`);

  withConnection(responses.command('list'))
    .description('the locks and blocks in force now')
    .addOption(formatOption(FORMATS))
    .action(async (options: { format: Format }, command: Command) => {
      const active = await run(command, (r) => r.active());
      process.stdout.write(render(active, ACTIVE_COLUMNS, options.format, (a) => a));
    });

  withConnection(responses.command('history'))
    .description('the response events (done, refused, nothing to do, dry run), newest first')
    .option('--limit <n>', 'how many', '50')
    .addOption(formatOption(FORMATS))
    .action(async (options: { format: Format; limit: string }, command: Command) => {
      const limit = parseInteger('--limit', options.limit);
      const records = await run(command, (r) => r.history(limit));
      process.stdout.write(render(records, RECORD_COLUMNS, options.format, (r) => r));
    });

  withConnection(responses.command('lift'))
    .description('lift one lock (its number) or block (its id) now, as `list` shows them')
    .argument('<id>', "a lock's id or a block's id")
    .addOption(formatOption(FORMATS))
    .action(async (id: string, options: { format: Format }, command: Command) => {
      if (id === '' || id.includes('\0')) throw new PgwardenError('PGW_ERR_INVALID_VALUE', `lock or block id ${JSON.stringify(id)}: expected an id from \`pgwarden detect responses list\``);
      const records = await run(command, (r) => r.lift(id));
      process.stdout.write(render(records, RECORD_COLUMNS, options.format, (r) => r));
    });

  withConnection(responses.command('lift-expired'))
    .description('lift every lock and remove every block whose time has come (for cron; prints what it lifted)')
    .addOption(formatOption(FORMATS))
    .action(async (options: { format: Format }, command: Command) => {
      const records = await run(command, (r) => r.liftExpired());
      if (records.length > 0 || options.format !== 'table') process.stdout.write(render(records, RECORD_COLUMNS, options.format, (r) => r));
    });

  withConnection(responses.command('run'))
    .description("carry out one response by hand (or only show it with --dry-run), with every check a rule's response gets")
    .addOption(new Option('--action <action>', 'the response').choices(['terminate', 'lock_role', 'block_client']).makeOptionMandatory())
    .option('--role <name>', "lock_role: the role; terminate: the session's role")
    .option('--pid <pid>', "terminate: the session's pid")
    .option('--session-id <id>', 'terminate: the session id as the log prints it (%c), so a reused pid is never hit')
    .option('--network <cidr>', 'block_client: an address or network')
    .option('--duration <d>', 'lock_role, block_client: how long (30s, 30m, 2h, 1d)', '30m')
    .option('--id <response-id>', 'the response id (a second run with the same id does nothing)')
    .option('--dry-run', 'check everything and record what would be done, do nothing')
    .addOption(formatOption(FORMATS))
    .action(async (options: { action: 'terminate' | 'lock_role' | 'block_client'; role?: string; pid?: string; sessionId?: string; network?: string;
      duration: string; id?: string; dryRun?: boolean; format: Format }, command: Command) => {
      const id = options.id ?? `manual:${randomUUID()}`;
      // Every argument checked before anything connects or changes (exit 2 whatever the server).
      const duration = parseDuration(options.duration);
      let act: (r: Responder) => Promise<ResponseRecord[]>;
      switch (options.action) {
        case 'terminate': {
          if (options.pid === undefined) throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--action terminate needs --pid');
          const pid = parsePid(options.pid);
          if (options.sessionId !== undefined && !/^[0-9a-f]+\.[0-9a-f]+$/.test(options.sessionId)) {
            throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--session-id "${options.sessionId}" is not a session id such as 6b033c86.154e`);
          }
          act = async (r) => [await r.terminateOne(id, pid, options.sessionId ?? null, options.role ?? null)];
          break;
        }
        case 'lock_role': {
          const role = options.role;
          if (role === undefined || role === '') throw new PgwardenError('PGW_ERR_INVALID_VALUE', '--action lock_role needs --role NAME');
          act = async (r) => [await r.lockOne(id, role, duration)];
          break;
        }
        case 'block_client': {
          const network = parseNetwork(options.network ?? '');
          act = (r) => r.blockClient(id, network, duration);
          break;
        }
      }
      // What expired first, as every responding process does (docs/detect.md, "Expiry while
      // collect is down"); a lift that fails is a warning and never stops this response.
      if (!options.dryRun) await run(command, (r) => r.ensureLifted());
      const records = await run(command, act, options.dryRun);
      process.stdout.write(render(records, RECORD_COLUMNS, options.format, (r) => r));
      if (records.some((r) => r.outcome === 'refused')) process.exitCode = 1;
      if (records.length === 0) print('no guarded database: nothing done');
    });
}
