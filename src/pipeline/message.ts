// What an alert says: one subject line and a plain-text body listing every recorded field,
// shared by the email and webhook sinks so that both tell the same story.
import type { PgwardenEvent } from '../core/event.ts';
import type { AlertNotice } from './types.ts';

function where(event: PgwardenEvent): string {
  return `${event.server}/${event.database ?? '?'}`;
}

/** DDL rows of one statement (one transaction, one query string) belong together. */
function statements(events: PgwardenEvent[]): PgwardenEvent[][] {
  const groups = new Map<string, PgwardenEvent[]>();
  for (const event of events) {
    const key = event.ddl ? `${event.database}\u0000${event.ddl.txid}\u0000${event.ddl.statement}` : `${event.kind}\u0000${event.source.position}`;
    groups.set(key, [...(groups.get(key) ?? []), event]);
  }
  return [...groups.values()];
}

function unique(values: (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => Boolean(v)))];
}

/**
 * How much a DDL command can destroy, for the subject to lead with the worst: drops (and sql_drop
 * rows), table rewrites, other ALTERs and privilege changes, then CREATE and the harmless rest.
 */
export function destructiveness(event: PgwardenEvent): number {
  const tag = event.ddl?.command_tag ?? '';
  if (event.ddl?.event === 'sql_drop' || tag.startsWith('DROP ') || tag === 'TRUNCATE TABLE') return 5;
  if (event.ddl?.event === 'table_rewrite') return 4;
  if (tag.startsWith('ALTER ') || tag === 'REVOKE' || tag === 'GRANT' || tag === 'SECURITY LABEL' || tag === 'REASSIGN OWNED') return 3;
  if (tag.startsWith('CREATE ') || tag === 'SELECT INTO' || tag === 'REFRESH MATERIALIZED VIEW') return 2;
  return 1;
}

/** The command tags of events, the most destructive first (the order they came in among equals). */
function tagsByHarm(events: PgwardenEvent[]): string[] {
  const ranked = [...events].sort((a, b) => destructiveness(b) - destructiveness(a));
  return unique(ranked.map((e) => e.ddl?.command_tag ?? e.kind));
}

export function subject(events: PgwardenEvent[], prefix = ''): string {
  const lead = prefix ? `${prefix} ` : '';
  const tamper = events.filter((e) => e.kind === 'tamper');
  if (tamper.length > 0) {
    const first = tamper[0]!;
    if (first.tamper?.resolved) return `${lead}RESOLVED: pgwarden sensors on ${where(first)} are intact again`;
    const finding = first.tamper?.findings[0];
    const more = (first.tamper?.findings.length ?? 1) > 1 ? ` (+${first.tamper!.findings.length - 1} more)` : '';
    return `${lead}TAMPER: ${finding ? `${finding.object} ${finding.state}` : 'pgwarden sensors changed'} on ${where(first)}${more}`;
  }
  const groups = statements(events);
  const users = unique(events.map((e) => e.user)).join(', ');
  const places = unique(events.map(where)).join(', ');
  const tags = tagsByHarm(events);
  if (groups.length === 1) {
    // one statement (a migration script is one): its worst command first, the others after it
    const others = tags.length > 1 ? ` with ${tags.slice(1).join(', ')}` : '';
    const objects = events.length > 1 ? ` (${events.length} objects)` : '';
    return `${lead}${tags[0]} on ${places} by ${users}${others}${objects}`;
  }
  return `${lead}${groups.length} DDL changes on ${places} by ${users}: ${tags.join(', ')}`;
}

function line(label: string, value: unknown): string {
  return `${label.padEnd(16)}: ${value === null || value === undefined || value === '' ? '-' : String(value)}`;
}

function describe(event: PgwardenEvent): string {
  if (event.kind === 'tamper' && event.tamper) {
    const findings = event.tamper.resolved
      ? ['Every installed object is as `pgwarden install` made it.']
      : event.tamper.findings.map((f) => `- ${f.state} ${f.object}\n    expected: ${f.expected}\n    actual:   ${f.actual}`);
    return [line('Time', event.ts), line('Server', event.server), line('Database', event.database), '', ...findings,
      '', event.tamper.resolved ? '' : 'Find out who changed it (event triggers do not see ALTER/DROP EVENT TRIGGER), then run `pgwarden install` to restore it.'].join('\n');
  }
  const ddl = event.ddl;
  return [
    line('Time', event.ts),
    line('Command', ddl?.command_tag),
    line('Object type', ddl?.object_type),
    line('Object', ddl?.object_identity),
    line('Schema', ddl?.schema),
    line('In extension', ddl?.in_extension),
    line('Session user', event.user),
    line('Current user', ddl?.current_user),
    line('Application', event.application),
    line('Client', event.client_port ? `${event.client_addr}:${event.client_port}` : event.client_addr),
    line('Server', `${event.server} (${ddl?.server_addr ?? '[local]'}${ddl?.server_port ? `:${ddl.server_port}` : ''})`),
    line('Database', event.database),
    line('Backend pid', event.pid),
    line('Transaction', ddl?.txid),
    line('Change ticket', ddl?.change_ticket),
    line('Recorded by', ddl?.event),
    ...(ddl?.detail ? [line('Detail', ddl.detail)] : []),
    line('Event id', event.source.position),
  ].join('\n');
}

/** The body: each statement once, then the objects it touched. */
export function body(events: PgwardenEvent[]): string {
  const parts: string[] = [];
  for (const group of statements(events)) {
    parts.push(group.map(describe).join('\n\n'));
    const statement = group[0]!.ddl?.statement;
    if (statement) parts.push(`Statement:\n${statement.split('\n').map((l) => `    ${l}`).join('\n')}`);
  }
  return parts.join('\n\n' + '-'.repeat(60) + '\n\n') + '\n';
}

/** A detection alert's subject: severity, rule, and its summary (updates say so). */
export function alertSubject(notice: AlertNotice, prefix = ''): string {
  const lead = prefix ? `${prefix} ` : '';
  const update = notice.notice === 'updated' ? 'UPDATE: ' : '';
  return `${lead}${update}[${notice.alert.severity}] ${notice.alert.rule} on ${notice.alert.server ?? '?'}: ${notice.alert.summary}`;
}

/** A detection alert's body: the incident's fields, the records behind it, the responses planned. */
export function alertBody(notice: AlertNotice): string {
  const a = notice.alert;
  const lines = [
    line('Rule', a.rule), line('Severity', a.severity), line('Incident', a.id), line('Notice', notice.id),
    line('Server', a.server), line('First', a.first_ts), line('Last', a.last_ts), line('Count', a.count),
    line('User', a.user), line('Database', a.database), line('Client', a.client_addr), line('Application', a.application),
    line('Tags', a.tags.join(' ')),
    '', a.summary, '',
    'Records:', ...a.events.map((e) => `    ${e.input} @ ${e.position}`),
  ];
  if (a.responses.length > 0) lines.push('', 'Responses:', ...a.responses.map((r) => `    ${JSON.stringify(r)}`));
  return `${lines.join('\n')}\n`;
}
