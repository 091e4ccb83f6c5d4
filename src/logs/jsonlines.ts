// A base for formats that are one JSON object per line (CloudNativePG, Cloud Logging exports,
// Azure diagnostic logs, journalctl -o json): the parser gets each object; blank lines are
// skipped, anything else that is not a JSON object is a parse error.
import type { ParseSink } from './record.ts';
import { LineInput, type TextStart } from './text-input.ts';

export type JsonObject = Record<string, unknown>;

export abstract class JsonLineParser extends LineInput {
  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end === start) return;
    const line = text.slice(start, end);
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      if (line.trim() === '') return;
      this.emitError(start, lineNo, `not a JSON object: ${(error as Error).message}`, line);
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.emitError(start, lineNo, 'not a JSON object', line);
      return;
    }
    this.object(value as JsonObject, start, lineNo, line);
  }

  /** One object, read from `line` (the lineNo'th line, at text index `index`). */
  protected abstract object(value: JsonObject, index: number, lineNo: number, line: string): void;
}

export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A string or a number as a whole number (CloudNativePG writes numbers as strings). */
export function int(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : null;
  if (typeof value === 'string' && /^-?\d{1,15}$/.test(value)) return Number(value);
  return null;
}

export function obj(value: unknown): JsonObject | null {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as JsonObject : null;
}

/** The first line of a sample, parsed, when it is a JSON object. */
export function firstObject(sample: string): JsonObject | null {
  const end = sample.indexOf('\n');
  try {
    return obj(JSON.parse(end < 0 ? sample : sample.slice(0, end)));
  } catch {
    return null;
  }
}
