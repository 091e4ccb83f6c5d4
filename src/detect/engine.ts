// The detection engine: every event through every rule that can match it, in the records' own
// time, into incidents. Pure and deterministic: no clock, no I/O, no randomness — the same events
// give the same notices with the same ids, and snapshot() / restore() carry its whole state
// (windows, first-seen sets, sequences, open incidents, the facts it learned) across a restart,
// so that a caller that checkpoints the state together with its source positions neither forgets
// a window nor fires twice after a kill -9.
import { createHash } from 'node:crypto';
import type { EventKind, PgwardenEvent } from '../core/event.ts';
import { EVENT_KINDS } from '../core/event.ts';
import { Calendar } from './calendar.ts';
import { eventTime, fieldValue, NetworkOf } from './fields.ts';
import { addOccurrence, newIncident, notice, viewOf, type Identity, type Incident, type Occurrence } from './incidents.ts';
import { compileAny, compileGlobs, type CompiledMatch } from './match.ts';
import { EventView } from './signals.ts';
import { GroupTable, KnownKeys } from './state.ts';
import type { DetectFacts, Field, IncidentView, Notice, RuleSpec } from './types.ts';

export interface EngineLimits {
  groups_per_rule: number;
  keys_per_rule: number;
  incidents_per_rule: number;
  events_per_incident: number;
}

export interface EngineOptions {
  facts: DetectFacts;
  limits: EngineLimits;
  /** first-seen rules learn this long (record time) from facts.knownSince() before alerting */
  learningMs: number;
  applicationRoles: readonly string[];
  network: { ipv4_prefix: number; ipv6_prefix: number };
}

/** Open incidents are closed, and expired groups dropped, once per this much record time of a server. */
const SWEEP_MS = 60_000;
const STATE_FORMAT = 'pgwarden-detect-state';
const STATE_VERSION = 1;
/** Events a sequence keeps as evidence while it is in progress. */
const SEQUENCE_EVENTS = 50;
const OVERFLOW = '*overflow*';

interface WindowState { occ: Occurrence[] }
interface SequenceState { step: number; count: number; firstMs: number; occ: Occurrence[] }

export interface RuleStats { matched: number; opened: number; evicted: number; overflowed: number }

class CompiledRule {
  readonly match: CompiledMatch;
  readonly ignore: CompiledMatch | null;
  readonly alertIf: CompiledMatch | null;
  readonly steps: CompiledMatch[];
  readonly kinds: Set<EventKind> | null;
  readonly hash: string;
  readonly groups: GroupTable<WindowState | SequenceState>;
  readonly overflow = new Map<string, WindowState>();
  readonly known: KnownKeys;
  incidents = new Map<string, Incident>();
  stats: RuleStats = { matched: 0, opened: 0, evicted: 0, overflowed: 0 };

  constructor(readonly spec: RuleSpec, limits: EngineLimits) {
    const context = { calendar: new Calendar(spec.business_hours) };
    this.match = compileAny(spec.match, context);
    this.ignore = spec.ignore.length > 0 ? compileAny(spec.ignore, context) : null;
    this.alertIf = spec.alert_if.length > 0 ? compileAny(spec.alert_if, context) : null;
    this.steps = spec.steps.map((step) => compileAny([step.match], context));
    this.kinds = spec.type === 'sequence' ? compileAny(spec.steps.map((s) => s.match), context).kinds : this.match.kinds;
    this.groups = new GroupTable(limits.groups_per_rule);
    this.known = new KnownKeys(limits.keys_per_rule);
    this.hash = ruleHash(spec);
  }
}

/** A hash of what the rule does: restored state is kept only for a rule that still does the same. */
function ruleHash(spec: RuleSpec): string {
  const { summary: _summary, severity: _severity, sinks: _sinks, actions: _actions, tags: _tags, mitre: _mitre, compliance: _compliance, description: _description, inactive: _inactive, settings: _settings, ...behaviour } = spec;
  return createHash('sha256').update(JSON.stringify(behaviour)).digest('hex').slice(0, 16);
}

/** A quick test for the function names any rule looks for. */
function functionMention(rules: readonly RuleSpec[]): RegExp | null {
  const names = rules.flatMap((r) => [...r.match, ...r.steps.map((s) => s.match)].flatMap((m) => m.functions ?? []));
  if (names.length === 0) return null;
  return new RegExp(names.map((n) => n.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('\\w*')).join('|'), 'i');
}

export interface EngineStats {
  events: number;
  /** records a client could have written that were not taken for what their text claims */
  untrusted: number;
  /** records without a time: only match rules without time conditions see them */
  untimed: number;
  rules: Record<string, RuleStats>;
}

export interface EngineSnapshot {
  format: typeof STATE_FORMAT;
  version: number;
  clocks: [string, number, number][];
  rules: Record<string, { hash: string; groups: unknown; overflow: unknown; known: unknown; incidents: unknown; stats: RuleStats }>;
  facts: unknown;
  outbox: Notice[];
  stats: { events: number; untrusted: number; untimed: number };
}

export class DetectEngine {
  private readonly compiled: CompiledRule[];
  private readonly byKind = new Map<EventKind, CompiledRule[]>();
  private readonly view: EventView;
  private readonly networks: NetworkOf;
  readonly facts: DetectFacts;
  /** per server: the newest record time seen, and when to sweep next */
  private clocks = new Map<string, { now: number; sweepAt: number }>();
  private outbox: Notice[] = [];
  private counts = { events: 0, untrusted: 0, untimed: 0 };

  constructor(readonly rules: readonly RuleSpec[], private readonly options: EngineOptions) {
    this.facts = options.facts;
    this.networks = new NetworkOf(options.network.ipv4_prefix, options.network.ipv6_prefix);
    this.view = new EventView({ facts: options.facts, applicationRole: compileGlobs(options.applicationRoles) ?? (() => false), functionMention: functionMention(rules) });
    this.compiled = rules.filter((r) => r.enabled && r.inactive === null).map((r) => new CompiledRule(r, options.limits));
    // A response event (pgwarden's own record of what it did) reaches only a rule that names kind
    // `response`: a rule over every kind would otherwise alert on its own response and respond
    // again (a response triggering a rule triggering a response).
    for (const kind of EVENT_KINDS) this.byKind.set(kind, this.compiled.filter((r) => (r.kinds === null ? kind !== 'response' : r.kinds.has(kind))));
  }

  /** Runs one event through the rules. Notices wait in drain(). */
  process(event: PgwardenEvent): void {
    this.counts.events++;
    // Nothing reads it: it moves no clock (its time is the responder's, not the logs' being
    // caught up) and teaches the facts nothing.
    if (event.kind === 'response' && this.byKind.get('response')!.length === 0) return;
    const server = event.server ?? '';
    let time = eventTime(event.ts);
    const clock = this.clocks.get(server);
    if (Number.isNaN(time)) {
      this.counts.untimed++;
      time = clock?.now ?? NaN;
    } else if (clock === undefined) {
      this.clocks.set(server, { now: time, sweepAt: time + SWEEP_MS });
    } else if (time > clock.now) {
      clock.now = time;
      if (time >= clock.sweepAt) {
        clock.sweepAt = time + SWEEP_MS;
        this.sweep(event.server, time);
      }
    }
    const view = this.view;
    view.reset(event, time);
    if (!view.trusted) this.counts.untrusted++;
    const rules = this.byKind.get(view.kind)!;
    for (let i = 0; i < rules.length; i++) this.evaluate(rules[i]!, view);
    if (view.kind !== 'response') this.facts.observe(event, time, view.signal('login'), view.signal('unknown_role'), view.kind === 'audit' ? view.grants() : null);
  }

  /** Notices since the last drain, in order. */
  drain(): Notice[] {
    const notices = this.outbox;
    this.outbox = [];
    return notices;
  }

  /** Open incidents, oldest first (replay prints them when its input ends). */
  openIncidents(): IncidentView[] {
    return this.compiled.flatMap((r) => [...r.incidents.values()].map((i) => viewOf(i, 'open'))).sort((a, b) => orderMs(a.first_ms) - orderMs(b.first_ms) || (a.id < b.id ? -1 : 1));
  }

  stats(): EngineStats {
    return { ...this.counts, rules: Object.fromEntries(this.compiled.map((r) => [r.spec.id, { ...r.stats }])) };
  }

  private evaluate(rule: CompiledRule, view: EventView): void {
    const spec = rule.spec;
    if (spec.type === 'sequence') {
      this.sequence(rule, view);
      return;
    }
    if (!rule.match.test(view)) return;
    if (rule.ignore !== null && rule.ignore.test(view)) return;
    rule.stats.matched++;
    switch (spec.type) {
      case 'match': this.occur(rule, view, this.groupKey(spec.group_by, view), [this.occurrence(rule, view)]); return;
      case 'threshold': this.threshold(rule, view); return;
      case 'first_seen': this.firstSeen(rule, view); return;
    }
  }

  private groupKey(fields: readonly Field[], view: EventView): string {
    let key = view.event.server ?? '';
    for (let i = 0; i < fields.length; i++) key += `\u0001${fieldValue(view.event, fields[i]!, this.networks) ?? ''}`;
    return key;
  }

  private occurrence(rule: CompiledRule, view: EventView): Occurrence {
    const e = view.event;
    const audit = e.audit;
    return {
      ms: view.time,
      ref: { input: e.source.input, position: e.source.position },
      session: e.pid === null ? null : { pid: e.pid, session_id: e.session_id, user: e.user, database: e.database },
      value: rule.spec.distinct === null ? null : fieldValue(e, rule.spec.distinct, this.networks),
      statement: audit !== null && view.kind === 'audit' && e.session_id !== null ? `${e.session_id}:${audit.statement_id}:${audit.substatement_id}` : null,
    };
  }

  /** Who the incident is about: the event's identity, but not the field the rule counts distinct values of (they are many). */
  private identity(rule: CompiledRule, view: EventView): Identity {
    const e = view.event;
    const distinct = rule.spec.distinct;
    return {
      user: distinct === 'user' || distinct === 'role' ? null : e.user,
      database: distinct === 'database' ? null : e.database,
      client_addr: distinct === 'client_addr' || distinct === 'client_network' ? null : e.client_addr,
      application: distinct === 'application' ? null : e.application,
    };
  }

  private group(spec: RuleSpec, view: EventView): Record<string, string | null> {
    return Object.fromEntries(spec.group_by.map((f) => [f, fieldValue(view.event, f, this.networks)]));
  }

  /** Adds occurrences to the group's incident, opening one (or the overflow incident when the rule has too many open). */
  private occur(rule: CompiledRule, view: EventView, key: string, occurrences: readonly Occurrence[], group?: Incident['group']): void {
    const spec = rule.spec;
    const cap = this.options.limits.events_per_incident;
    let incident = rule.incidents.get(key);
    if (incident === undefined && rule.incidents.size >= this.options.limits.incidents_per_rule) {
      key = `${view.event.server ?? ''}\u0001${OVERFLOW}`;
      incident = rule.incidents.get(key);
      group = { overflow: true };
      if (incident === undefined) rule.stats.overflowed++;
    }
    if (incident !== undefined) {
      for (const o of occurrences) addOccurrence(incident, o, cap);
      if (view.time - incident.lastNoticeMs >= spec.throttle_ms && incident.count > incident.countAtNotice) this.emit('updated', incident);
      return;
    }
    incident = newIncident(spec.id, spec.severity, view.event.server, key, group ?? this.group(spec, view), this.identity(rule, view), occurrences, cap);
    rule.incidents.set(key, incident);
    rule.stats.opened++;
    this.emit('opened', incident);
  }

  private emit(kind: 'opened' | 'updated', incident: Incident): void {
    incident.notices++;
    incident.lastNoticeMs = incident.lastMs;
    incident.countAtNotice = incident.count;
    this.outbox.push(notice(kind, incident, 'open'));
  }

  private threshold(rule: CompiledRule, view: EventView): void {
    const t = view.time;
    if (Number.isNaN(t)) return;
    const spec = rule.spec;
    const key = this.groupKey(spec.group_by, view);
    const occurrence = this.occurrence(rule, view);
    if (rule.incidents.has(key)) {
      this.occur(rule, view, key, [occurrence]);
      return;
    }
    let entry = rule.groups.get(key);
    if (entry === undefined) {
      const victim = rule.groups.makeRoom(t - spec.window_ms);
      if (victim !== null) {
        rule.stats.evicted++;
        this.overflowWindow(rule, view, victim.state as WindowState);
      }
      entry = { key, lastMs: t, level: 0, state: { occ: [] } };
    }
    const state = entry.state as WindowState;
    addToWindow(state, occurrence, spec.threshold, spec.window_ms, spec.distinct !== null);
    if (state.occ.length >= spec.threshold) {
      rule.groups.delete(key);
      this.occur(rule, view, key, state.occ);
    } else {
      rule.groups.touch(entry, t, state.occ.length);
    }
  }

  /**
   * An evicted group's events join the rule's overflow group of the server, which alerts like any
   * group: straight into its incident when that is open, else into its window (which keeps more
   * than the threshold, so that the events behind an overflow alert include the evicted groups').
   */
  private overflowWindow(rule: CompiledRule, view: EventView, evicted: WindowState): void {
    const spec = rule.spec;
    const server = view.event.server ?? '';
    const key = `${server}\u0001${OVERFLOW}`;
    if (rule.incidents.has(key)) {
      this.occur(rule, view, key, evicted.occ, { overflow: true });
      return;
    }
    const overflow = rule.overflow.get(server) ?? { occ: [] };
    const cap = Math.max(spec.threshold, this.options.limits.events_per_incident);
    for (const o of evicted.occ) addToWindow(overflow, o, cap, spec.window_ms, spec.distinct !== null, view.time);
    const reached = spec.distinct === null ? overflow.occ.length : new Set(overflow.occ.map((o) => o.value)).size;
    if (reached >= spec.threshold) {
      rule.overflow.delete(server);
      this.occur(rule, view, key, overflow.occ, { overflow: true });
    } else {
      rule.overflow.set(server, overflow);
    }
  }

  private firstSeen(rule: CompiledRule, view: EventView): void {
    const t = view.time;
    if (Number.isNaN(t)) return;
    const spec = rule.spec;
    const key = this.groupKey(spec.key, view);
    if (rule.known.has(key)) {
      rule.known.see(key, t);
      return;
    }
    rule.known.see(key, t);
    const since = this.facts.knownSince(view.event.server);
    if (since === null || t < since + this.options.learningMs) return; // still learning
    if (rule.alertIf !== null && !rule.alertIf.test(view)) return;
    this.occur(rule, view, this.groupKey(spec.group_by, view), [this.occurrence(rule, view)]);
  }

  private sequence(rule: CompiledRule, view: EventView): void {
    const t = view.time;
    if (Number.isNaN(t)) return;
    const spec = rule.spec;
    const steps = rule.steps;
    let matched = -1;
    for (let i = 0; i < steps.length; i++) if (steps[i]!.test(view)) { matched = i; break; }
    if (matched < 0 || (rule.ignore !== null && rule.ignore.test(view))) return;
    rule.stats.matched++;
    const key = this.groupKey(spec.group_by, view);
    const occurrence = this.occurrence(rule, view);
    if (rule.incidents.has(key)) {
      this.occur(rule, view, key, [occurrence]);
      return;
    }
    let entry = rule.groups.get(key);
    if (entry !== undefined && t - (entry.state as SequenceState).firstMs > spec.within_ms) {
      rule.groups.delete(key);
      entry = undefined;
    }
    if (entry === undefined) {
      if (!steps[0]!.test(view)) return;
      const victim = rule.groups.makeRoom(t - spec.within_ms);
      if (victim !== null) {
        // A sequence in progress cannot be merged with others: say so with the rule's overflow incident.
        rule.stats.evicted++;
        this.occur(rule, view, `${view.event.server ?? ''}\u0001${OVERFLOW}`, (victim.state as SequenceState).occ.slice(0, 1), { overflow: true });
      }
      entry = { key, lastMs: t, level: 0, state: { step: 0, count: 0, firstMs: t, occ: [] } };
    }
    const state = entry.state as SequenceState;
    if (state.occ.length < SEQUENCE_EVENTS) state.occ.push(occurrence);
    if (steps[state.step]!.test(view)) {
      state.count++;
      if (state.count >= spec.steps[state.step]!.count) {
        state.step++;
        state.count = 0;
      }
    }
    if (state.step >= steps.length) {
      rule.groups.delete(key);
      this.occur(rule, view, key, state.occ);
      return;
    }
    rule.groups.touch(entry, t, state.step * 10_000 + Math.min(state.count, 9999));
  }

  /** Closes the server's incidents that have been quiet for their rule's close_after, and drops expired groups. */
  private sweep(server: string | null, now: number): void {
    for (const rule of this.compiled) {
      const spec = rule.spec;
      for (const [key, incident] of rule.incidents) {
        if (incident.server !== server || now - incident.lastMs < spec.close_after_ms) continue;
        rule.incidents.delete(key);
        this.outbox.push(notice('closed', incident, 'closed'));
      }
      if (spec.type === 'threshold') rule.groups.expire(now - spec.window_ms);
      else if (spec.type === 'sequence') rule.groups.expire(now - spec.within_ms);
    }
  }

  /** The whole state as plain JSON-able data. */
  snapshot(): EngineSnapshot {
    return structuredClone({
      format: STATE_FORMAT,
      version: STATE_VERSION,
      clocks: [...this.clocks].map(([server, c]) => [server, c.now, c.sweepAt] as [string, number, number]),
      rules: Object.fromEntries(this.compiled.map((r) => [r.spec.id, {
        hash: r.hash, groups: r.groups.snapshot(), overflow: [...r.overflow], known: r.known.snapshot(), incidents: [...r.incidents], stats: r.stats,
      }])),
      facts: this.facts.snapshot(),
      outbox: this.outbox,
      stats: this.counts,
    });
  }

  /**
   * Takes back a snapshot. State of a rule whose behaviour changed since (or that is gone) is
   * dropped; the ids of those rules are returned.
   */
  restore(snapshot: EngineSnapshot): string[] {
    if (snapshot.format !== STATE_FORMAT || snapshot.version !== STATE_VERSION) throw new Error(`not a pgwarden detection state (version ${STATE_VERSION})`);
    const s = structuredClone(snapshot);
    this.clocks = new Map(s.clocks.map(([server, now, sweepAt]) => [server, { now, sweepAt }]));
    this.facts.restore(s.facts);
    this.outbox = s.outbox;
    this.counts = s.stats;
    const dropped: string[] = Object.keys(s.rules).filter((id) => !this.compiled.some((r) => r.spec.id === id));
    for (const rule of this.compiled) {
      const saved = s.rules[rule.spec.id];
      if (saved === undefined) continue;
      if (saved.hash !== rule.hash) {
        dropped.push(rule.spec.id);
        continue;
      }
      rule.groups.restore(saved.groups as [string, number, number, WindowState | SequenceState][]);
      rule.overflow.clear();
      for (const [server, state] of saved.overflow as [string, WindowState][]) rule.overflow.set(server, state);
      rule.known.restore(saved.known as [string, number][]);
      rule.incidents = new Map(saved.incidents as [string, Incident][]);
      rule.stats = saved.stats;
    }
    return dropped;
  }
}

/** Incidents without a time (records without one) sort last. */
function orderMs(ms: number): number {
  return Number.isNaN(ms) ? Number.MAX_VALUE : ms;
}

/**
 * Adds an occurrence to a sliding window of the last `cap` occurrences within `windowMs` of the
 * newest (`now`, default the occurrence's time); with `distinct`, one (the latest) per value.
 */
function addToWindow(state: WindowState, o: Occurrence, cap: number, windowMs: number, distinct: boolean, now = o.ms): void {
  const occ = state.occ;
  if (distinct) {
    const same = occ.findIndex((x) => x.value === o.value);
    if (same >= 0) {
      if (occ[same]!.ms > o.ms) return;
      occ.splice(same, 1);
    }
  }
  // Keep time order even when records arrive a little out of order.
  let at = occ.length;
  while (at > 0 && occ[at - 1]!.ms > o.ms) at--;
  occ.splice(at, 0, o);
  const from = Math.max(now, o.ms) - windowMs;
  let drop = 0;
  while (drop < occ.length && occ[drop]!.ms < from) drop++;
  if (occ.length - drop > cap) drop = occ.length - cap;
  if (drop > 0) occ.splice(0, drop);
}
