// An alert as `detect replay` prints it (one JSON object per line), and as the sinks of phase B
// will send it: the incident, the rule's summary and tags, and the responses described.
import type { DescribedResponse } from './responses.ts';
import type { EventRef, IncidentView, RuleSpec, SessionRef, Severity } from './types.ts';

export interface Alert {
  rule: string;
  severity: Severity;
  /** open: still going when the input ended; closed: quiet for the rule's close_after */
  state: 'open' | 'closed';
  id: string;
  server: string | null;
  first_ts: string | null;
  last_ts: string | null;
  count: number;
  user: string | null;
  database: string | null;
  client_addr: string | null;
  application: string | null;
  group: Record<string, string | number | boolean | null>;
  summary: string;
  tags: string[];
  /** the first and the latest records behind the incident */
  events: EventRef[];
  sessions: SessionRef[];
  /** how many notices (the alert and its throttled updates) the sinks would have sent */
  notices: number;
  responses: DescribedResponse[];
}

export function alertOf(rule: RuleSpec, incident: IncidentView, responses: DescribedResponse[]): Alert {
  return {
    rule: incident.rule,
    severity: incident.severity,
    state: incident.state,
    id: incident.id,
    server: incident.server,
    first_ts: incident.first_ts ?? null,
    last_ts: incident.last_ts ?? null,
    count: incident.count,
    user: incident.user,
    database: incident.database,
    client_addr: incident.client_addr,
    application: incident.application,
    group: incident.group,
    summary: incident.group.overflow === true
      ? `${rule.summary(incident)} — the rule's state limit was reached, so these events of many groups are counted together (detect.limits)`
      : rule.summary(incident),
    tags: [...rule.tags],
    events: incident.events,
    sessions: incident.sessions,
    notices: incident.notices,
    responses,
  };
}
