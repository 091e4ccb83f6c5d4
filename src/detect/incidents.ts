// Incidents: one per rule and group while it lasts, with a count, first and last time, the events
// behind it (the first and the latest), and throttled notices. Everything is in the records' own
// time, and an incident's id is a hash of its rule, group and first event (where and when), so processing the same
// records again gives the same incidents, notices and delivery ids.
import { createHash } from 'node:crypto';
import { isoTime } from './fields.ts';
import type { EventRef, IncidentView, Notice, NoticeKind, SessionRef, Severity } from './types.ts';

const MAX_SESSIONS = 10;
const MAX_DISTINCT = 100;

export interface Incident {
  id: string;
  rule: string;
  severity: Severity;
  server: string | null;
  key: string;
  group: Record<string, string | number | boolean | null>;
  firstMs: number;
  lastMs: number;
  count: number;
  distinct: string[];
  user: string | null;
  database: string | null;
  client_addr: string | null;
  application: string | null;
  /** the first events, up to half of events_per_incident */
  head: EventRef[];
  /** the latest events after those, a ring of the other half; tailAt is where the next one goes */
  tail: EventRef[];
  tailAt: number;
  sessions: SessionRef[];
  notices: number;
  lastNoticeMs: number;
  countAtNotice: number;
  /** session, statement and substatement of the last pgAudit record counted: one statement counts once */
  lastStatement: string | null;
}

export interface Occurrence {
  ms: number;
  ref: EventRef;
  session: SessionRef | null;
  /** the value of the rule's distinct field */
  value: string | null;
  /** pgAudit's identity of the statement (its SESSION and OBJECT records, one per relation, count once) */
  statement: string | null;
}

export interface Identity { user: string | null; database: string | null; client_addr: string | null; application: string | null }

/**
 * The first record's time is part of it: a file name reused after rotation (postgresql-%a.log,
 * truncated each week; standard input) restarts the positions, and the same attack going on at
 * the rotation puts its first record at the same offset — without the time, next week's incident
 * would have last week's id and be merged into it (stored under its state, resolved, say).
 */
export function incidentId(rule: string, server: string | null, key: string, first: EventRef, firstMs: number): string {
  const time = Number.isNaN(firstMs) ? '' : String(firstMs);
  return createHash('sha256').update(`${rule}\u0000${server ?? ''}\u0000${key}\u0000${first.input}\u0000${first.position}\u0000${time}`).digest('hex').slice(0, 24);
}

export function newIncident(rule: string, severity: Severity, server: string | null, key: string, group: Incident['group'],
  identity: Identity, occurrences: readonly Occurrence[], eventsCap: number): Incident {
  const incident: Incident = {
    id: incidentId(rule, server, key, occurrences[0]!.ref, occurrences[0]!.ms), rule, severity, server, key, group,
    firstMs: occurrences[0]!.ms, lastMs: occurrences[0]!.ms, count: 0, distinct: [],
    ...identity, head: [], tail: [], tailAt: 0, sessions: [], notices: 0, lastNoticeMs: NaN, countAtNotice: 0, lastStatement: null,
  };
  for (const occurrence of occurrences) addOccurrence(incident, occurrence, eventsCap);
  return incident;
}

export function addOccurrence(incident: Incident, o: Occurrence, eventsCap: number): void {
  if (o.statement === null || o.statement !== incident.lastStatement) incident.count++;
  incident.lastStatement = o.statement;
  if (!Number.isNaN(o.ms)) {
    if (Number.isNaN(incident.firstMs) || o.ms < incident.firstMs) incident.firstMs = o.ms;
    if (Number.isNaN(incident.lastMs) || o.ms > incident.lastMs) incident.lastMs = o.ms;
  }
  const half = Math.ceil(eventsCap / 2);
  if (incident.head.length < half) incident.head.push(o.ref);
  else {
    const tailCap = eventsCap - half;
    if (incident.tail.length < tailCap) incident.tail.push(o.ref);
    else incident.tail[incident.tailAt] = o.ref;
    incident.tailAt = (incident.tailAt + 1) % tailCap;
  }
  const s = o.session;
  if (s !== null && incident.sessions.length < MAX_SESSIONS && !incident.sessions.some((x) => x.pid === s.pid && x.session_id === s.session_id)) incident.sessions.push(s);
  if (o.value !== null && incident.distinct.length < MAX_DISTINCT && !incident.distinct.includes(o.value)) incident.distinct.push(o.value);
}

/** The incident's events in order: the first ones, then the latest ones. */
export function incidentEvents(incident: Incident): EventRef[] {
  // Until the ring is full, tailAt is its length, and the two slices are the ring in order.
  return [...incident.head, ...incident.tail.slice(incident.tailAt), ...incident.tail.slice(0, incident.tailAt)];
}

export function viewOf(incident: Incident, state: 'open' | 'closed'): IncidentView {
  const time = (ms: number) => (Number.isNaN(ms) ? null : isoTime(ms));
  return {
    id: incident.id, rule: incident.rule, severity: incident.severity, server: incident.server, group: { ...incident.group }, state,
    first_ts: time(incident.firstMs)!, last_ts: time(incident.lastMs)!, first_ms: incident.firstMs, last_ms: incident.lastMs,
    count: incident.count, distinct: [...incident.distinct], user: incident.user, database: incident.database,
    client_addr: incident.client_addr, application: incident.application, events: incidentEvents(incident),
    sessions: incident.sessions.map((s) => ({ ...s })), notices: incident.notices,
  };
}

export function notice(kind: NoticeKind, incident: Incident, state: 'open' | 'closed'): Notice {
  // notices counts opened (1) and updates (2, 3, …) and is bumped by the engine before this.
  const n = kind === 'closed' ? 'closed' : String(incident.notices);
  return { kind, id: `${incident.id}:${n}`, incident: viewOf(incident, state) };
}
