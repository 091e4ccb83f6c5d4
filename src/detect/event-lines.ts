// pgwarden's own JSON lines (what `pgwarden parse` prints, docs/event-model.md) read back as
// events, so that a replay can take them as input. A line that is not an event is an error,
// counted and reported, never fatal; every field missing from a line is null.
// (Issue 14 adds JSON lines input to the pipeline; this small reader serves `detect replay`.)
import { EVENT_KINDS, newEvent, type EventKind, type ParseError, type PgwardenEvent } from '../core/event.ts';

const KINDS = new Set<string>(EVENT_KINDS);

/** Whether a sample of an input's start is pgwarden's JSON lines (an event object), not a jsonlog. */
export function looksLikeEventLines(sample: string): boolean {
  const start = sample.search(/\S/);
  if (start < 0 || sample[start] !== '{') return false;
  const end = sample.indexOf('\n', start);
  try {
    const first = JSON.parse(sample.slice(start, end < 0 ? undefined : end)) as Record<string, unknown>;
    return typeof first.kind === 'string' && typeof first.source === 'object' && first.source !== null;
  } catch {
    return false;
  }
}

/** One line as an event, or a one-line reason why it is not one. */
export function eventFromLine(line: string): PgwardenEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const o = value as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return `kind ${JSON.stringify(o.kind)} is not one of ${EVENT_KINDS.join(', ')}`;
  const source = o.source as Record<string, unknown> | undefined;
  if (!source || typeof source.input !== 'string' || typeof source.position !== 'number') return 'source.input (text) and source.position (number) are required';
  const event = newEvent(o.kind as EventKind, null, { input: source.input, position: source.position, line: typeof source.line === 'number' ? source.line : null });
  const target = event as unknown as Record<string, unknown>;
  for (const key of Object.keys(event)) {
    if (key === 'kind' || key === 'source' || !(key in o)) continue;
    target[key] = o[key] ?? null;
  }
  if (event.ts !== null && typeof event.ts !== 'string') return 'ts must be text';
  return event;
}

/** Splits chunks into lines and reads each as an event. */
export class EventLineReader {
  private rest = '';
  private line = 0;
  private offset = 0;

  constructor(private readonly input: string, private readonly sink: { event(e: PgwardenEvent): void; error(e: ParseError): void }) {}

  write(chunk: string): void {
    const text = this.rest + chunk;
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      this.one(text.slice(from, nl));
      from = nl + 1;
    }
    this.rest = text.slice(from);
  }

  end(): void {
    if (this.rest.length > 0) this.one(this.rest);
    this.rest = '';
  }

  private one(line: string): void {
    this.line++;
    const at = this.offset;
    this.offset += Buffer.byteLength(line) + 1;
    if (line.trim() === '') return;
    const event = eventFromLine(line);
    if (typeof event === 'string') this.sink.error({ input: this.input, position: at, line: this.line, reason: event, excerpt: line.slice(0, 200) });
    else this.sink.event(event);
  }
}
