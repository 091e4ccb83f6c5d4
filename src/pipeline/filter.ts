// Per-sink filters: `include` and `exclude` lists over kind, audit class, command, user,
// database and application, and a Guardium-style `event_filter` of words looked up in the
// statement and message. Pure; the graph applies it to every sink before delivery.
//
//   include: an event must match every list given (any pattern of a list; `*` wildcards,
//            case-insensitive); a field the event does not have never matches.
//   include_any: alternatives, each like include; an event must match at least one of them.
//   exclude: an event is dropped when it matches every list given.
//   event_filter: space-separated words, case-insensitive, matched as whole words in the
//            audit statement, the query text, the DDL statement and the message:
//            `?word` — at least one of the ?-words must occur; `-word` — must not occur;
//            `word` or `+word` — must occur.
import { EVENT_KINDS, type PgwardenEvent } from '../core/event.ts';
import type { MatchConfig, SinkCommonConfig } from './config-parts.ts';
import { compileMatch } from './match.ts';

export interface FilterLists {
  kinds?: string[];
  classes?: string[];
  commands?: string[];
  users?: string[];
  databases?: string[];
  applications?: string[];
}

export interface FilterConfig {
  include?: FilterLists;
  include_any?: FilterLists[];
  exclude?: FilterLists;
  event_filter?: string;
}

type Test = (event: PgwardenEvent) => boolean;

function pattern(patterns: string[]): (value: string | null | undefined) => boolean {
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'is'));
  return (value) => value !== null && value !== undefined && regexes.some((r) => r.test(value));
}

/** The fields a list looks at, for one event. */
const FIELDS: Record<keyof FilterLists, (e: PgwardenEvent) => (string | null | undefined)[]> = {
  kinds: (e) => [e.kind],
  classes: (e) => [e.audit?.class],
  commands: (e) => [e.audit?.command, e.ddl?.command_tag],
  // the session user, or the role a DDL statement ran as
  users: (e) => [e.user, e.ddl?.current_user],
  databases: (e) => [e.database],
  applications: (e) => [e.application],
};

function listTests(lists: FilterLists | undefined): Test[] {
  if (!lists) return [];
  const tests: Test[] = [];
  for (const key of Object.keys(FIELDS) as (keyof FilterLists)[]) {
    const patterns = lists[key];
    if (!patterns || patterns.length === 0) continue;
    const matches = pattern(patterns);
    const fields = FIELDS[key];
    tests.push((e) => fields(e).some((v) => matches(v)));
  }
  return tests;
}

export interface EventFilterTerms {
  any: string[];
  all: string[];
  none: string[];
}

export function parseEventFilter(text: string): EventFilterTerms {
  const terms: EventFilterTerms = { any: [], all: [], none: [] };
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const op = word[0];
    const rest = word.slice(1);
    if (op === '?' && rest) terms.any.push(rest.toLowerCase());
    else if (op === '-' && rest) terms.none.push(rest.toLowerCase());
    else if (op === '+' && rest) terms.all.push(rest.toLowerCase());
    else terms.all.push(word.toLowerCase());
  }
  return terms;
}

function wordRegex(word: string): RegExp {
  // whole words: not inside a longer identifier-like run
  return new RegExp(`(?<![A-Za-z0-9_$])${word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_$])`, 'i');
}

/** The text event_filter looks in. */
export function searchableText(e: PgwardenEvent): string {
  return [e.audit?.statement, e.query, e.ddl?.statement, e.message].filter((t): t is string => typeof t === 'string').join('\n');
}

function eventFilterTest(text: string | undefined): Test | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const terms = parseEventFilter(text);
  const any = terms.any.map(wordRegex);
  const all = terms.all.map(wordRegex);
  const none = terms.none.map(wordRegex);
  return (e) => {
    const hay = searchableText(e);
    return (any.length === 0 || any.some((r) => r.test(hay))) && all.every((r) => r.test(hay)) && !none.some((r) => r.test(hay));
  };
}

/** A predicate for the sink's filter; undefined config lets every event through. */
export function compileFilter(config: FilterConfig | undefined): Test {
  if (!config) return () => true;
  const include = listTests(config.include);
  const alternatives = config.include_any?.map(listTests);
  const exclude = listTests(config.exclude);
  const words = eventFilterTest(config.event_filter);
  return (e) => include.every((t) => t(e))
    && (alternatives === undefined || alternatives.some((tests) => tests.every((t) => t(e))))
    && !(exclude.length > 0 && exclude.every((t) => t(e)))
    && (words === undefined || words(e));
}

/**
 * Which events a sink entry receives: its `filter`, and the older `match`/`ignore` where a config
 * still has them (their rules, unchanged, in match.ts; see configNotices for the warning).
 */
export function compileRouting(config: SinkCommonConfig | undefined): Test {
  if (!config) return () => true;
  const filter = config.filter ? compileFilter(config.filter) : undefined;
  const match = config.match || config.ignore ? compileMatch(config.match, config.ignore) : undefined;
  if (filter && match) return (e) => match(e) && filter(e);
  return filter ?? match ?? (() => true);
}

/**
 * The `filter` that routes as `match`/`ignore` do (match.ts), or null when it cannot be one
 * filter beside what the entry's own filter already has. A commands list there tests only DDL
 * events: in `match` the other kinds pass it (tamper alerts), in `ignore` they are never dropped by it.
 */
export function filterForMatch(config: SinkCommonConfig): FilterConfig | null {
  const filter: FilterConfig = { ...config.filter };
  const lists = (match: MatchConfig): FilterLists => {
    const { commands: _commands, ...rest } = match;
    return rest;
  };
  if (config.match) {
    if (config.match.commands) {
      if (filter.include_any) return null;
      const kinds: string[] = config.match.kinds ?? [...EVENT_KINDS];
      const ddl = kinds.filter((kind) => kind === 'ddl');
      const others = kinds.filter((kind) => kind !== 'ddl');
      filter.include_any = [
        ...(ddl.length > 0 ? [{ ...lists(config.match), kinds: ddl, commands: config.match.commands }] : []),
        ...(others.length > 0 ? [{ ...lists(config.match), kinds: others }] : []),
      ];
    } else {
      if (filter.include) return null;
      filter.include = lists(config.match);
    }
  }
  if (config.ignore) {
    if (filter.exclude) return null;
    if (config.ignore.commands) {
      const ddl = (config.ignore.kinds ?? ['ddl']).filter((kind) => kind === 'ddl');
      // a commands list with only tamper in kinds drops nothing, as before
      if (ddl.length > 0) filter.exclude = { ...lists(config.ignore), kinds: ddl, commands: config.ignore.commands };
    } else {
      filter.exclude = lists(config.ignore);
    }
  }
  return filter;
}

/**
 * Where the filterForMatch translation routes otherwise than match/ignore, for the warning (null:
 * nowhere). A `*` in a filter pattern also matches a line break (its regex has the `s` flag, and
 * filter keeps the routing it had); match.ts's stops at one, so a name holding a line break (a
 * role "etl\nalice") can be routed otherwise. And a `commands` list without `kinds` becomes an
 * alternative listing the other event kinds of this version: a kind added later passes match, not
 * that filter.
 */
const sameBut = (differs: string | null) => (differs ? `the same routing in one place, except that ${differs}` : 'the same routing in one place');

function translationDiffers(config: SinkCommonConfig): string | null {
  const patterns = [config.match, config.ignore].flatMap((m) => (m ? [m.users, m.databases, m.commands] : [])).flat();
  const places = [
    ...(patterns.some((p) => p?.includes('*')) ? ['in this filter a * also matches a line break in a value, a role name holding one say (in match/ignore it stops at one)'] : []),
    ...(config.match?.commands && !config.match.kinds ? ['its kinds list is this version\'s (a kind added later passes match, not this filter)'] : []),
  ];
  return places.length > 0 ? places.join(', and ') : null;
}

/**
 * One warning per sink that still routes with `match`/`ignore`, with the `filter` that means the
 * same, saying where it does not. Logged at start by the graph (collect, alerts run).
 */
export function routingWarnings(sinks: Record<string, SinkCommonConfig>): string[] {
  const warnings: string[] = [];
  for (const [name, sink] of Object.entries(sinks)) {
    if (!sink.match && !sink.ignore) continue;
    const keys = [sink.match && 'match', sink.ignore && 'ignore'].filter(Boolean).join(' and ');
    const filter = filterForMatch(sink);
    warnings.push(`pipeline.sinks.${name}: ${keys} ${sink.match && sink.ignore ? 'are' : 'is'} the older spelling of filter and will go (docs/pipeline.md#filters-and-redaction); `
      + (filter ? `${sameBut(translationDiffers(sink))}: filter: ${JSON.stringify(filter)}` : `this sink also has filter ${sink.match ? 'include lists' : 'exclude lists'}: merge them by hand`));
  }
  return warnings;
}
