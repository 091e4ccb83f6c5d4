// pgwarden serve (the HTTP API and dashboard), pgwarden serve user … and pgwarden serve token ….
// Passwords come from standard input, a prompt that does not echo, or an environment variable
// named by --password-env: never from the command line.
import { Option, type Command } from 'commander';
import type pg from 'pg';
import { withClient } from '../core/db.ts';
import { PgwardenError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { parseDuration, repositoryError, repositoryTarget, requireRepository } from '../repository/index.ts';
import {
  ROLES, addToken, addUser, listTokens, listUsers, removeUser, revokeToken, setDisabled, setPassword, setRole, startServe,
  validateRole, validatePassword, type Role,
} from '../server/index.ts';
import { formatOption, loadCommandConfig, print } from './common.ts';
import { render, type Format } from './output.ts';

const REPO_HELP = 'postgres:// URL of the repository (default: $PGWARDEN_REPO, else repository: in pgwarden.yaml); password in PGPASSWORD or a pgpass file';

async function onRepository<T>(command: Command, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const target = repositoryTarget((command.optsWithGlobals() as { repo?: string }).repo, loadCommandConfig(command));
  try {
    return await withClient(target, async (client) => {
      await requireRepository(client, false);
      return work(client);
    });
  } catch (error) {
    throw repositoryError(error, target.label);
  }
}

/** Reads a line from a terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (char === '\u0003') {
          finish();
          reject(new PgwardenError('PGW_ERR_INVALID_VALUE', 'cancelled'));
          return;
        }
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += (chunk as Buffer).toString('utf8');
  return text.split(/\r?\n/)[0]!;
}

/** The new password: --password-env VAR, else a prompt (twice) on a terminal, else the first line of standard input. */
async function newPassword(options: { passwordEnv?: string }): Promise<string> {
  if (options.passwordEnv) {
    const value = process.env[options.passwordEnv];
    if (value === undefined || value === '') throw new PgwardenError('PGW_ERR_INVALID_VALUE', `--password-env: environment variable ${options.passwordEnv} is not set`);
    return validatePassword(value);
  }
  if (process.stdin.isTTY) {
    const first = validatePassword(await promptHidden('New password: '));
    if (await promptHidden('Again: ') !== first) throw new PgwardenError('PGW_ERR_INVALID_VALUE', 'the two passwords differ; nothing was changed');
    return first;
  }
  return validatePassword(await readStdin());
}

const passwordOption = () => new Option('--password-env <VAR>', 'take the password from this environment variable (default: a prompt, or the first line of standard input)');

export function registerServeCommands(program: Command): void {
  const serve = program.command('serve')
    .description('the HTTP API and web dashboard over the repository (docs/server.md)')
    .option('--repo <url>', REPO_HELP)
    .option('--listen <host:port>', 'address to listen on (default: serve.listen in pgwarden.yaml, else 127.0.0.1:8080)')
    .addHelpText('after', `
Users and API tokens (stored hashed in the repository):
  pgwarden serve user add alice --role admin          # password from a prompt or standard input
  pgwarden serve token add --user prometheus --name scraper --expires 365d
Configuration: the serve: section of pgwarden.yaml (listen, tls, trust_proxy, monitor.servers, ...).
Stops cleanly on SIGINT or SIGTERM.`)
    .action(async (options: { listen?: string }, command: Command) => {
      const cfg = loadCommandConfig(command);
      const log = createLogger('serve');
      const target = repositoryTarget((command.opts() as { repo?: string }).repo, cfg);
      const running = await startServe({ config: cfg, repository: target, log, listen: options.listen });
      print(`pgwarden dashboard on ${running.url} (${target.label}); Ctrl-C stops it`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          log.info({ signal }, 'stopping');
          void running.close().then(resolve);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });

  const user = serve.command('user').description('dashboard users: add, list, password, role, disable, enable, remove');
  user.command('add')
    .description('add a user (password: a prompt, standard input, or --password-env)')
    .argument('<name>', 'user name: letters, digits, _ . @ -')
    .addOption(new Option('--role <role>', 'viewer (reads everything) or admin (also the access log and user list)').choices(ROLES as unknown as string[]).default('viewer'))
    .addOption(passwordOption())
    .action(async (name: string, options: { role: Role; passwordEnv?: string }, command: Command) => {
      const password = await newPassword(options);
      await onRepository(command, (client) => addUser(client, name, validateRole(options.role), password));
      print(`user ${name} added (role ${options.role})`);
    });
  user.command('list')
    .description('list users')
    .addOption(formatOption(['table', 'csv', 'json']))
    .action(async (options: { format: Format }, command: Command) => {
      const users = await onRepository(command, listUsers);
      print(render(users, ['name', 'role', 'disabled', 'created_at', 'password_changed_at', 'last_login_at']
        .map((key) => ({ header: key, value: (u: typeof users[number]) => u[key as keyof typeof u] })), options.format));
    });
  user.command('password')
    .description("set a user's password (ends their browser sessions)")
    .argument('<name>')
    .addOption(passwordOption())
    .action(async (name: string, options: { passwordEnv?: string }, command: Command) => {
      const password = await newPassword(options);
      await onRepository(command, (client) => setPassword(client, name, password));
      print(`password of ${name} changed; their sessions ended`);
    });
  user.command('role')
    .description("change a user's role")
    .argument('<name>')
    .argument('<role>', ROLES.join(' or '))
    .action(async (name: string, role: string, _options: unknown, command: Command) => {
      await onRepository(command, (client) => setRole(client, name, validateRole(role)));
      print(`${name} is now ${role}`);
    });
  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user.command(verb)
      .description(disabled ? 'stop a user from logging in (ends their sessions; their tokens stop working)' : 'let a disabled user log in again')
      .argument('<name>')
      .action(async (name: string, _options: unknown, command: Command) => {
        await onRepository(command, (client) => setDisabled(client, name, disabled));
        print(`${name} ${disabled ? 'disabled' : 'enabled'}`);
      });
  }
  user.command('remove')
    .description('remove a user with their tokens and sessions (their past use stays in the access log)')
    .argument('<name>')
    .action(async (name: string, _options: unknown, command: Command) => {
      await onRepository(command, (client) => removeUser(client, name));
      print(`user ${name} removed`);
    });

  const token = serve.command('token').description('API tokens (Authorization: Bearer …): add, list, revoke');
  token.command('add')
    .description('create an API token for a user; it is printed once and stored hashed')
    .requiredOption('--user <name>', 'the user the token acts as (its role applies)')
    .requiredOption('--name <label>', 'what the token is for, e.g. prometheus')
    .option('--expires <duration>', 'valid for this long (12h, 90d, 52w); default: until revoked')
    .action(async (options: { user: string; name: string; expires?: string }, command: Command) => {
      const expiresAt = options.expires === undefined ? null : new Date(Date.now() + parseDuration('--expires', options.expires));
      const created = await onRepository(command, (client) => addToken(client, options.user, options.name, expiresAt));
      process.stderr.write(`token ${created.id} for ${options.user}${expiresAt ? `, valid until ${expiresAt.toISOString()}` : ''}; it is shown once, store it now:\n`);
      print(created.token);
    });
  token.command('list')
    .description('list API tokens (never their secrets)')
    .option('--user <name>', 'only this user\'s')
    .addOption(formatOption(['table', 'csv', 'json']))
    .action(async (options: { user?: string; format: Format }, command: Command) => {
      const tokens = await onRepository(command, (client) => listTokens(client, options.user));
      print(render(tokens, ['id', 'user_name', 'name', 'created_at', 'expires_at', 'last_used_at']
        .map((key) => ({ header: key, value: (t: typeof tokens[number]) => t[key as keyof typeof t] })), options.format));
    });
  token.command('revoke')
    .description('revoke an API token at once')
    .argument('<id>', 'the token id (pgwarden serve token list)')
    .action(async (id: string, _options: unknown, command: Command) => {
      await onRepository(command, (client) => revokeToken(client, id));
      print(`token ${id} revoked`);
    });
  // Each management command names the repository itself (pgwarden serve user add NAME --repo URL).
  for (const leaf of [...user.commands, ...token.commands]) leaf.option('--repo <url>', REPO_HELP);
}
