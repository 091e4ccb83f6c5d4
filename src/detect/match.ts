// A rule's match, compiled once into tests on an EventView, cheapest first. A list matches when
// any of its values does; every key given must match.
import ipaddr from 'ipaddr.js';
import type { EventKind } from '../core/event.ts';
import { EVENT_KINDS } from '../core/event.ts';
import type { Calendar } from './calendar.ts';
import type { EventView } from './signals.ts';
import type { MatchSpec, Signal } from './types.ts';

/** `*` wildcards, case-insensitive; null for no patterns. */
export function compileGlobs(patterns: readonly string[] | undefined): ((value: string | null | undefined) => boolean) | null {
  if (!patterns || patterns.length === 0) return null;
  const plain = new Set<string>();
  const wild: string[] = [];
  for (const p of patterns) {
    if (p.includes('*')) wild.push(p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*'));
    else plain.add(p.toLowerCase());
  }
  const regex = wild.length > 0 ? new RegExp(`^(?:${wild.join('|')})$`, 'is') : null;
  return (value) => {
    if (value === null || value === undefined) return false;
    if (plain.size > 0 && plain.has(value.toLowerCase())) return true;
    return regex !== null && regex.test(value);
  };
}

/** Any of the names matches any of the patterns; `*` among the names (every setting) matches. */
function anyName(test: (value: string) => boolean): (names: readonly string[]) => boolean {
  return (names) => {
    for (const name of names) if (name === '*' || test(name)) return true;
    return false;
  };
}

/** Client networks, `local` for a Unix socket. Addresses are client-chosen in number, so the cache is bounded. */
export function compileClients(clients: readonly string[] | undefined): ((address: string | null) => boolean) | null {
  if (!clients || clients.length === 0) return null;
  const local = clients.some((c) => c === 'local' || c === '[local]');
  const networks = clients.filter((c) => c !== 'local' && c !== '[local]').map((c) => {
    if (c.includes('/')) return ipaddr.parseCIDR(c);
    const address = ipaddr.parse(c);
    return [address, address.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
  });
  const cache = new Map<string, boolean>();
  return (address) => {
    if (address === null) return false;
    if (address === '[local]') return local;
    let hit = cache.get(address);
    if (hit === undefined) {
      hit = false;
      if (ipaddr.isValid(address)) {
        let parsed = ipaddr.parse(address);
        if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
        hit = networks.some(([network, bits]) => network.kind() === parsed.kind() && parsed.match(network, bits));
      }
      if (cache.size >= 10_000) cache.clear();
      cache.set(address, hit);
    }
    return hit;
  };
}

type Test = (view: EventView) => boolean;

export interface CompiledMatch {
  test: Test;
  /** The kinds of events this match can hit (from kinds, signals, classes); null when any. */
  kinds: Set<EventKind> | null;
  /** Whether it needs the facts, statement analysis or the calendar (for `detect rules`). */
  usesHistory: boolean;
}

/** The kinds each signal comes from. */
const SIGNAL_KINDS: Record<Signal, EventKind[]> = {
  login: ['connection_authorized'],
  login_failed: ['auth_failed'],
  unknown_role: ['auth_failed'],
  guard_refusal: ['guard_deny'],
  ddl: ['ddl', 'audit'],
  unbounded_change: ['audit'],
  copy_program: ['audit'],
  event_trigger_disabled: ['audit'],
  tamper: ['tamper'],
};

function intersect(a: Set<EventKind> | null, b: Iterable<EventKind>): Set<EventKind> {
  const next = new Set(b);
  return a === null ? next : new Set([...a].filter((k) => next.has(k)));
}

/** What a match needs besides its spec: the rule's business hours. */
export interface MatchContext { calendar: Calendar }

export function compileMatch(spec: MatchSpec, context: MatchContext): CompiledMatch {
  const tests: Test[] = [];
  let kinds: Set<EventKind> | null = null;
  let usesHistory = false;
  if (spec.kinds) {
    const allowed = new Set(spec.kinds);
    kinds = intersect(kinds, spec.kinds as EventKind[]);
    tests.push((v) => allowed.has(v.kind));
  }
  if (spec.signals) {
    const signals = spec.signals;
    kinds = intersect(kinds, signals.flatMap((s) => SIGNAL_KINDS[s]));
    tests.push((v) => signals.some((s) => v.signal(s)));
  }
  if (spec.classes) {
    kinds = intersect(kinds, ['audit']);
    const classes = compileGlobs(spec.classes)!;
    tests.push((v) => classes(v.event.audit?.class));
  }
  const field = (patterns: readonly string[] | undefined, read: (v: EventView) => string | null | undefined) => {
    const test = compileGlobs(patterns);
    if (test) tests.push((v) => test(read(v)));
  };
  field(spec.users, (v) => v.event.user);
  field(spec.databases, (v) => v.event.database);
  field(spec.applications, (v) => v.event.application);
  field(spec.severities, (v) => v.event.severity);
  field(spec.sqlstates, (v) => v.event.sqlstate);
  field(spec.object_types, (v) => v.event.audit?.object_type ?? v.event.ddl?.object_type);
  field(spec.commands, (v) => v.event.audit?.command ?? v.event.ddl?.command_tag);
  const objects = compileGlobs(spec.objects);
  if (objects) tests.push((v) => objects(v.event.audit?.object_name) || objects(v.event.ddl?.object_identity));
  const clients = compileClients(spec.clients);
  if (clients) tests.push((v) => clients(v.event.client_addr));
  if (spec.min_rows !== undefined) {
    const min = spec.min_rows;
    tests.push((v) => (v.event.audit?.rows ?? -1) >= min);
  }
  if (spec.statements) {
    const regexes = spec.statements.map((s) => new RegExp(s, 'i'));
    tests.push((v) => {
      const text = v.statement();
      return text !== null && regexes.some((r) => r.test(text));
    });
  }
  if (spec.messages) {
    const regexes = spec.messages.map((s) => new RegExp(s, 'i'));
    tests.push((v) => v.event.message !== null && regexes.some((r) => r.test(v.event.message!)));
  }
  const named = (patterns: readonly string[] | undefined, from: EventKind[], read: (v: EventView) => readonly string[]) => {
    const test = compileGlobs(patterns);
    if (!test) return;
    usesHistory = true;
    kinds = intersect(kinds, from);
    const any = anyName(test);
    tests.push((v) => any(read(v)));
  };
  // The kinds each reading can come from (signals.ts), so that other events never reach the rule.
  named(spec.grants, ['audit'], (v) => v.grants());
  named(spec.settings, ['audit', 'log'], (v) => v.settings());
  named(spec.functions, ['audit', 'ddl'], (v) => v.functions());
  named(spec.languages, ['audit', 'ddl'], (v) => v.languages());
  if (spec.min_rows !== undefined) kinds = intersect(kinds, ['audit']);
  if (spec.roles) {
    usesHistory = true;
    const roles = spec.roles;
    tests.push((v) => roles.some((r) => v.roleIs(r)));
  }
  if (spec.idle_for_ms !== undefined) {
    usesHistory = true;
    const idle = spec.idle_for_ms;
    tests.push((v) => {
      const last = v.lastLogin();
      return last !== null && v.time - last >= idle;
    });
  }
  if (spec.when) {
    usesHistory = true;
    const inside = spec.when === 'business_hours';
    const calendar = context.calendar;
    tests.push((v) => !Number.isNaN(v.time) && calendar.inside(v.time) === inside);
  }
  const n = tests.length;
  const test: Test = n === 0 ? () => true : n === 1 ? tests[0]! : (v) => {
    for (let i = 0; i < n; i++) if (!tests[i]!(v)) return false;
    return true;
  };
  return { test, kinds, usesHistory };
}

/** Any of the matches; null kinds when one of them can hit any kind. */
export function compileAny(specs: readonly MatchSpec[], context: MatchContext): CompiledMatch {
  const compiled = specs.map((spec) => compileMatch(spec, context));
  let kinds: Set<EventKind> | null = new Set();
  for (const c of compiled) kinds = c.kinds === null || kinds === null ? null : new Set([...kinds, ...c.kinds]);
  const tests = compiled.map((c) => c.test);
  return {
    test: tests.length === 1 ? tests[0]! : (v) => tests.some((t) => t(v)),
    kinds: specs.length === 0 ? new Set() : kinds,
    usesHistory: compiled.some((c) => c.usesHistory),
  };
}

export const ALL_KINDS: readonly EventKind[] = EVENT_KINDS;
