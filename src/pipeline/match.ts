// Routing: which events a sink receives. An event must match every list given in `match`,
// and is dropped when it matches every list given in `ignore` (so `ignore: {users: [etl],
// commands: ['CREATE INDEX']}` drops only etl's index builds). Patterns are case-insensitive
// with `*` as a wildcard.
import type { MatchConfig } from '../core/config.ts';
import type { PgwardenEvent } from '../core/event.ts';

function compile(patterns: string[] | undefined): ((value: string | null | undefined) => boolean) | undefined {
  if (!patterns) return undefined;
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i'));
  return (value) => value !== null && value !== undefined && regexes.some((r) => r.test(value));
}

type Test = (event: PgwardenEvent) => boolean;

function tests(config: MatchConfig | undefined, otherKinds: boolean): Test[] {
  if (!config) return [];
  const kinds = config.kinds;
  const databases = compile(config.databases);
  const users = compile(config.users);
  const commands = compile(config.commands);
  const list: Test[] = [];
  if (kinds) list.push((e) => (kinds as string[]).includes(e.kind));
  if (databases) list.push((e) => databases(e.database));
  // The session user or the role it had switched to.
  if (users) list.push((e) => users(e.user) || users(e.ddl?.current_user));
  // Only DDL events have a command tag: a `match` command list lets other kinds through
  // (otherKinds), an `ignore` one never drops them.
  if (commands) list.push((e) => (e.ddl === null ? otherKinds : commands(e.ddl.command_tag)));
  return list;
}

export function compileMatch(match: MatchConfig | undefined, ignore: MatchConfig | undefined): (event: PgwardenEvent) => boolean {
  const required = tests(match, true);
  const ignored = tests(ignore, false);
  return (event) => required.every((t) => t(event)) && !(ignored.length > 0 && ignored.every((t) => t(event)));
}
