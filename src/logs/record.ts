// The record every format parser fills in: a PgwardenEvent with every field present (null when the
// format did not carry it), so all events share one object shape. messages.ts then reads the
// message and sets the kind and the kind's fields.
import { newEvent as newBlankEvent, type PgwardenEvent, type ParseError } from '../core/event.ts';

export function newEvent(server: string | null, input: string, position: number, line: number): PgwardenEvent {
  return newBlankEvent('log', server, { input, position, line });
}

/** Where a parser sends what it read. */
export interface ParseSink {
  event(event: PgwardenEvent): void;
  error(error: ParseError): void;
}

/** A whole number from decimal digits (optionally negative), or null. */
export function toInt(text: string | undefined | null): number | null {
  if (!text) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** Splits "host:port" (csvlog's connection_from; IPv6 hosts contain colons) or "host(port)" (%r). */
export function splitHostPort(text: string): [string, number | null] {
  if (text.endsWith(')')) {
    const open = text.lastIndexOf('(');
    if (open > 0) return [text.slice(0, open), toInt(text.slice(open + 1, -1))];
    return [text, null];
  }
  const colon = text.lastIndexOf(':');
  if (colon > 0 && colon < text.length - 1) {
    const port = toInt(text.slice(colon + 1));
    if (port !== null) return [text.slice(0, colon), port];
  }
  return [text, null];
}
