// pgwarden's own event model as JSON lines (what `parse` and the jsonl sink write; docs/event-model.md),
// read back: format `events`. Each line is one event; it keeps everything it says, its source
// (input, position, line) and server included, so that a replayed or split pipeline stores the
// same events and a repository that already holds them finds them duplicates. Only --server fills
// in a server the event does not name. Nothing is classified again: the kind is the event's.
import { EVENT_KINDS, newEvent, type EventKind } from '../core/event.ts';
import type { ParseSink } from './record.ts';
import { LineInput, type TextStart } from './text-input.ts';

const STRING_FIELDS = ['ts', 'server', 'session_id', 'user', 'database', 'application', 'client_addr', 'severity', 'sqlstate',
  'message', 'detail', 'hint', 'context', 'query', 'backend_type', 'pooler'] as const;
const NUMBER_FIELDS = ['pid', 'session_line', 'client_port', 'duration_ms'] as const;
const OBJECT_FIELDS = ['audit', 'guard', 'ddl', 'tamper', 'response'] as const;
const KINDS = new Set<string>(EVENT_KINDS);

/** True when a line of JSON reads as one of pgwarden's events (for format detection). */
export function looksLikeEvent(line: string): boolean {
  try {
    const value = JSON.parse(line) as Record<string, unknown> | null;
    return value !== null && typeof value === 'object' && typeof value.kind === 'string' && KINDS.has(value.kind)
      && typeof value.source === 'object' && value.source !== null && 'timestamp' in value === false;
  } catch {
    return false;
  }
}

export class EventsParser extends LineInput {
  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end > start) this.line(text.slice(start, end), start, lineNo);
  }

  private line(text: string, index: number, lineNo: number): void {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      if (text.trim() === '') return;
      this.emitError(index, lineNo, `not a JSON object: ${(error as Error).message}`, text);
      return;
    }
    const problem = check(record);
    if (problem !== null) {
      this.emitError(index, lineNo, `not a pgwarden event (docs/event-model.md): ${problem}`, text);
      return;
    }
    const source = record.source as { input: string; position: number; line: number | null };
    const event = newEvent(record.kind as EventKind, (record.server as string | null) ?? this.server,
      { input: source.input, position: source.position, line: source.line ?? null });
    const target = event as unknown as Record<string, unknown>;
    for (const key of STRING_FIELDS) if (key !== 'server' && record[key] !== undefined) target[key] = record[key];
    for (const key of NUMBER_FIELDS) if (record[key] !== undefined) target[key] = record[key];
    for (const key of OBJECT_FIELDS) if (record[key] !== undefined) target[key] = record[key];
    this.sink.event(event);
  }
}

/** Why a parsed line is not an event, or null. */
function check(record: unknown): string | null {
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return 'not a JSON object';
  const r = record as Record<string, unknown>;
  if (typeof r.kind !== 'string' || !KINDS.has(r.kind)) return `"kind" ${JSON.stringify(r.kind)} is not one of ${EVENT_KINDS.join(', ')}`;
  const source = r.source as Record<string, unknown> | null | undefined;
  if (source === null || typeof source !== 'object' || typeof source.input !== 'string' || !Number.isSafeInteger(source.position)
    || !(source.line === null || source.line === undefined || Number.isSafeInteger(source.line))) {
    return '"source" needs "input" (a string), "position" (a whole number) and "line" (a whole number or null)';
  }
  for (const key of STRING_FIELDS) if (!(r[key] === undefined || r[key] === null || typeof r[key] === 'string')) return `"${key}" is not a string or null`;
  for (const key of NUMBER_FIELDS) if (!(r[key] === undefined || r[key] === null || Number.isFinite(r[key]))) return `"${key}" is not a number or null`;
  for (const key of OBJECT_FIELDS) {
    const value = r[key];
    if (!(value === undefined || value === null || (typeof value === 'object' && !Array.isArray(value)))) return `"${key}" is not an object or null`;
  }
  if (typeof r.ts === 'string' && !Number.isFinite(Date.parse(r.ts))) return `"ts" ${JSON.stringify(r.ts)} is not a time`;
  return null;
}
