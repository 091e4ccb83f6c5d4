// Per-sink filters: include/exclude lists and the Guardium-style event_filter words.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvent, type PgwardenEvent } from '../../src/core/event.ts';
import type { MatchConfig } from '../../src/pipeline/config-parts.ts';
import { compileFilter, compileRouting, filterForMatch, parseEventFilter, routingWarnings, type FilterConfig } from '../../src/pipeline/filter.ts';

function audit(command: string, cls: string, statement: string, user = 'alice', database = 'shop', application = 'psql'): PgwardenEvent {
  const e = newEvent('audit', 'db1', { input: 'x.log', position: 0, line: 1 });
  Object.assign(e, { user, database, application });
  e.audit = {
    type: 'SESSION', statement_id: 1, substatement_id: 1, class: cls, command, object_type: 'TABLE', object_name: 'public.t',
    statement, parameters: null, statement_logged: 'yes', rows: null,
  };
  return e;
}

function connection(user: string): PgwardenEvent {
  const e = newEvent('connection_authorized', 'db1', { input: 'x.log', position: 0, line: 1 });
  e.user = user;
  e.message = `connection authorized: user=${user} database=shop`;
  return e;
}

const del = audit('DELETE', 'WRITE', 'DELETE FROM orders WHERE id = 1');
const ins = audit('INSERT', 'WRITE', 'insert into orders values (1)', 'etl', 'shop', 'loader 1.0');
const sel = audit('SELECT', 'READ', "SELECT 'delete me' FROM deleted_items");
const con = connection('bob');

describe('compileFilter', () => {
  it('lets everything through without a filter', () => {
    assert.ok([del, ins, sel, con].every(compileFilter(undefined)));
  });

  it('include: every list given must match; a field the event lacks never does', () => {
    const f = compileFilter({ include: { kinds: ['audit'], classes: ['write'] } });
    assert.deepEqual([del, ins, sel, con].map(f), [true, true, false, false]);
    const g = compileFilter({ include: { commands: ['DEL*', 'insert'] } });
    assert.deepEqual([del, ins, sel, con].map(g), [true, true, false, false]);
    const h = compileFilter({ include: { applications: ['loader *'], users: ['etl'], databases: ['sh*'] } });
    assert.deepEqual([del, ins, sel, con].map(h), [false, true, false, false]);
  });

  it('exclude: drops an event only when every list given matches', () => {
    const f = compileFilter({ exclude: { users: ['etl'], commands: ['INSERT'] } });
    assert.deepEqual([del, ins, sel, con].map(f), [true, false, true, true]);
    const g = compileFilter({ exclude: { kinds: ['connection_authorized'] } });
    assert.deepEqual([del, ins, sel, con].map(g), [true, true, true, false]);
  });

  it('event_filter: ?words are alternatives, case-insensitive whole words in statement or message', () => {
    const f = compileFilter({ event_filter: '?delete ?insert' });
    // `SELECT 'delete me'` contains the word delete inside a literal: it matches (words, not parsing);
    // `deleted_items` does not (whole words only).
    assert.deepEqual([del, ins, sel, con].map(f), [true, true, true, false]);
    const g = compileFilter({ event_filter: '?DELETE -me' });
    assert.deepEqual([del, ins, sel, con].map(g), [true, false, false, false]);
    const h = compileFilter({ event_filter: 'connection +authorized' });
    assert.deepEqual([del, ins, sel, con].map(h), [false, false, false, true]);
    assert.deepEqual(parseEventFilter('?a ?B c +d -e'), { any: ['a', 'b'], all: ['c', 'd'], none: ['e'] });
  });

  it('combines include, exclude and event_filter', () => {
    const f = compileFilter({ include: { kinds: ['audit'] }, exclude: { users: ['etl'] }, event_filter: '?orders' });
    assert.deepEqual([del, ins, sel, con].map(f), [true, false, false, false]);
  });
});

describe('routing: filter, and the older match/ignore', () => {
  const tamper = newEvent('tamper', 'db1', { input: 'x', position: 0, line: null });
  const drop = newEvent('ddl', 'db1', { input: 'x', position: 1, line: null });
  drop.ddl = { command_tag: 'DROP TABLE', current_user: 'etl' } as NonNullable<PgwardenEvent['ddl']>;
  const events = [del, ins, sel, con, tamper, drop];

  it('match/ignore route exactly as before: a commands list lets events without a DDL command through', () => {
    const route = compileRouting({ match: { commands: ['DROP *'] } });
    assert.deepEqual(events.map(route), [true, true, true, true, true, true]);
    const ignoreEtl = compileRouting({ ignore: { users: ['etl'], commands: ['DROP *'] } });
    assert.deepEqual(events.map(ignoreEtl), [true, true, true, true, true, false], 'dropped only when every ignore list matches');
    // and filter beside them narrows further
    const both = compileRouting({ match: { kinds: ['ddl', 'tamper'] }, filter: { exclude: { kinds: ['tamper'] } } });
    assert.deepEqual(events.map(both), [false, false, false, false, false, true]);
  });

  it('every match/ignore has a filter that routes the same, and the warning gives it', () => {
    const audits = events.filter((e) => e.kind === 'audit');
    const other = newEvent('ddl', 'db2', { input: 'x', position: 2, line: null });
    other.database = 'sales_eu';
    other.user = 'app_web';
    other.ddl = { command_tag: 'ALTER TABLE', current_user: 'app_web' } as NonNullable<PgwardenEvent['ddl']>;
    const all = [...events, other, newEvent('auth_failed', 'db1', { input: 'x', position: 3, line: null })];
    const lists: MatchConfig[] = [
      {}, { kinds: ['ddl'] }, { kinds: ['tamper'] }, { kinds: ['ddl', 'tamper'] }, { commands: ['DROP *'] }, { commands: ['alter *', 'drop table'] },
      { kinds: ['ddl'], commands: ['DROP *'] }, { kinds: ['tamper'], commands: ['DROP *'] }, { users: ['etl'] }, { users: ['app_*'], commands: ['ALTER *'] },
      { databases: ['sales*'], users: ['app_*'], commands: ['DROP *', 'ALTER TABLE'] }, { databases: ['shop'] },
    ];
    let checked = 0;
    for (const match of [undefined, ...lists]) {
      for (const ignore of [undefined, ...lists]) {
        if (!match && !ignore) continue;
        const config = { ...(match ? { match } : {}), ...(ignore ? { ignore } : {}) };
        const filter = filterForMatch(config);
        assert.ok(filter, JSON.stringify(config));
        assert.deepEqual(all.map(compileFilter(filter)), all.map(compileRouting(config)), `${JSON.stringify(config)} as ${JSON.stringify(filter)}`);
        checked++;
      }
    }
    assert.equal(checked, 13 * 13 - 1);
    assert.ok(audits.length > 0);
    const [warning] = routingWarnings({ chatops: { match: { commands: ['DROP *'] }, ignore: { users: ['etl'] } } });
    assert.match(warning!, /^pipeline\.sinks\.chatops: match and ignore are the older spelling of filter and will go \(docs\/pipeline\.md#filters-and-redaction\); the same routing in one place, except that in this filter a \* also matches a line break in a value, a role name holding one say \(in match\/ignore it stops at one\), and its kinds list is this version's \(a kind added later passes match, not this filter\): filter: \{"include_any":\[\{"kinds":\["ddl"\],"commands":\["DROP \*"\]\},\{"kinds":\["connection_received",.*"tamper".*\]\}\],"exclude":\{"users":\["etl"\]\}\}$/);
    const written = JSON.parse(warning!.split('filter: ').at(-1)!) as FilterConfig;
    assert.deepEqual(all.map(compileFilter(written)), all.map(compileRouting({ match: { commands: ['DROP *'] }, ignore: { users: ['etl'] } })));
    assert.match(routingWarnings({ s: { match: { users: ['a'] }, filter: { include: { kinds: ['ddl'] } } } })[0]!, /this sink also has filter include lists: merge them by hand$/);
    assert.deepEqual(routingWarnings({ s: { filter: { include: { kinds: ['audit'] } } }, t: {} }), [], 'nothing to say about filter');
  });

  it('names with a line break: the translation differs only where the warning says, for a * pattern', () => {
    // the review's cases (test/review/match-filter-equivalence.test.ts on review-i15)
    const named = (kind: 'ddl' | 'tamper' | 'connection_authorized', user: string, database: string, tag?: string) => {
      const e = newEvent(kind, 'db1', { input: 'x', position: 0, line: null });
      Object.assign(e, { user, database, application: 'psql' });
      if (tag) e.ddl = { command_tag: tag, current_user: user, statement: `${tag} x` } as NonNullable<PgwardenEvent['ddl']>;
      return e;
    };
    const all = ['etl', 'alice', 'etl\nalice', 'ETL', 'etl\r\nx', 'etl\u2028x'].flatMap((u) => [
      named('ddl', u, 'shop', 'DROP TABLE'), named('ddl', u, 'shop', 'CREATE INDEX'), named('ddl', u, 'other\ndb', 'ALTER TABLE'),
      named('ddl', u, 'shop', 'DROP\nTABLE'), named('tamper', u, 'shop'), named('connection_authorized', u, 'shop'),
    ]);
    const lineBreak = (e: PgwardenEvent) => /[\n\r\u2028\u2029]/.test(`${e.user}${e.database}${e.ddl?.command_tag ?? ''}`);
    const configs = [
      { match: { commands: ['DROP *'] } }, { match: { commands: ['DROP *'], kinds: ['ddl'] } }, { match: { users: ['etl*'] } },
      { ignore: { users: ['etl*'] } }, { ignore: { users: ['etl'], commands: ['CREATE INDEX'] } }, { match: { databases: ['other*'] } },
      { match: { kinds: ['tamper'] }, ignore: { users: ['alice'] } }, { match: { users: ['etl'] }, ignore: { databases: ['other\ndb'] } },
    ] as { match?: MatchConfig; ignore?: MatchConfig }[];
    let differed = 0;
    for (const config of configs) {
      const old = compileRouting(config);
      const suggested = compileFilter(filterForMatch(config)!);
      const differ = all.filter((e) => old(e) !== suggested(e));
      const warning = routingWarnings({ s: config })[0]!;
      const star = [config.match, config.ignore].some((m) => m && [m.users, m.databases, m.commands].flat().some((p) => p?.includes('*')));
      // without a * the same events, line breaks or not; with one, only events with a line break
      // differ, and the warning says so
      if (!star) assert.deepEqual(differ, [], JSON.stringify(config));
      assert.ok(differ.every(lineBreak), JSON.stringify(config));
      assert.equal(warning.includes('in this filter a * also matches a line break'), star, warning);
      assert.deepEqual(all.filter((e) => !lineBreak(e)).map(old), all.filter((e) => !lineBreak(e)).map(suggested), JSON.stringify(config));
      differed += differ.length;
    }
    assert.ok(differed > 0, 'the line-break names do route otherwise somewhere (the warning is not idle)');
    // the difference itself: ignore {users: [etl*]} keeps a role "etl\nalice", the filter drops it
    const crafted = named('ddl', 'etl\nalice', 'shop', 'DROP TABLE');
    assert.equal(compileRouting({ ignore: { users: ['etl*'] } })(crafted), true);
    assert.equal(compileFilter(filterForMatch({ ignore: { users: ['etl*'] } })!)(crafted), false);
    assert.match(routingWarnings({ s: { match: { commands: ['DROP *'] } } })[0]!, /its kinds list is this version's/);
    assert.doesNotMatch(routingWarnings({ s: { match: { kinds: ['ddl'], commands: ['DROP *'] } } })[0]!, /kinds list/);
  });

  it('include_any: an event must match at least one alternative (tamper alerts beside some DDL)', () => {
    const f = compileFilter({ include_any: [{ kinds: ['ddl'], commands: ['DROP *'] }, { kinds: ['tamper'] }] });
    assert.deepEqual(events.map(f), [false, false, false, false, true, true]);
  });
});
