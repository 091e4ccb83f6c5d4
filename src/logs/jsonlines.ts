// A base for formats that are one JSON object per line (CloudNativePG, Cloud Logging exports,
// Azure diagnostic logs): the parser gets each object; blank lines are skipped, anything else
// that is not a JSON object is a parse error. An input whose first non-blank character is "["
// is a JSON array of such objects instead, pretty-printed over many lines or not (what
// `gcloud logging read --format=json` and `az monitor … -o json` print; several arrays one
// after another read too): each element is read as it completes, so memory stays one element.
// An input whose first line is a CRI container log line (what the kubelet writes under
// /var/log/pods for a container's output, e.g. a CloudNativePG pod's)
//   2026-11-01T08:00:00.123456789Z stdout F {"level":"info",…}
// is read as such: each line's text after "TIME STREAM TAG ", the lines tagged P (a part: the
// runtime cut a long line) joined per stream with the F line that ends them.
import type { ParseSink } from './record.ts';
import { LineInput, MAX_RECORD_CHARS, type TextStart } from './text-input.ts';

/** A CRI log line's header: time (RFC 3339, nanoseconds), stream, tags (P or F, further ones after ":"). */
const CRI = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([PF])(?::\S*)? /;

/** The P parts of a line still waiting for its F part, per stream. */
interface Partial {
  position: number;
  line: number;
  parts: string[];
  chars: number;
}

/** Where reading a JSON array stopped: kept between chunks so that no text is scanned twice. */
interface ArrayScan {
  /** Index (in this.text) scanning goes on from, and the line number there. */
  at: number;
  line: number;
  /** Depth of [ and { at `at`: 0 outside any array, 1 between elements. */
  depth: number;
  inString: boolean;
  escaped: boolean;
  /** Index and line of the element being read, or -1 between elements. */
  elementAt: number;
  elementLine: number;
}

export type JsonObject = Record<string, unknown>;

export abstract class JsonLineParser extends LineInput {
  constructor(input: string, server: string | null, sink: ParseSink, start?: TextStart) {
    super(input, server, sink, start);
  }

  /** null until the first non-blank character says lines or an array. */
  private array: ArrayScan | null | false = null;
  /** null until the first line says whether the lines are CRI container log lines. */
  private cri: boolean | null = null;
  private readonly partials = new Map<string, Partial>();
  /** The byte offset of the record being read when it was joined from CRI parts read earlier (its text index is gone). */
  private joinedAt: number | null = null;

  protected override byteAt(index: number): number {
    return this.joinedAt ?? super.byteAt(index);
  }

  protected override drain(final: boolean): number {
    if (this.array === null) {
      const first = this.text.search(/\S/);
      if (first < 0) return final ? this.text.length : 0;
      this.array = this.text.charCodeAt(first) === 91 /* [ */
        ? { at: 0, line: this.textLine, depth: 0, inString: false, escaped: false, elementAt: -1, elementLine: 0 }
        : false;
    }
    if (this.array !== false) return this.drainArray(this.array, final);
    const consumed = super.drain(final);
    if (final) {
      // Parts whose F line never came (the container stopped mid-line): read as they are.
      for (const [stream, p] of this.partials) {
        this.partials.delete(stream);
        this.joined(p, '');
      }
    }
    return consumed;
  }

  private joined(p: Partial, last: string): void {
    const text = p.parts.join('') + last;
    this.joinedAt = p.position;
    try {
      this.readText(text, 0, text.length, p.line);
    } finally {
      this.joinedAt = null;
    }
  }

  private drainArray(scan: ArrayScan, final: boolean): number {
    const text = this.text;
    let consumed = 0;
    let i = scan.at;
    for (; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10) scan.line++;
      if (scan.inString) {
        if (scan.escaped) scan.escaped = false;
        else if (c === 92 /* \\ */) scan.escaped = true;
        else if (c === 34 /* " */) scan.inString = false;
        continue;
      }
      if (c === 34) scan.inString = true;
      else if (c === 91 /* [ */ || c === 123 /* { */) {
        if (scan.depth === 1) {
          scan.elementAt = i;
          scan.elementLine = scan.line;
        }
        scan.depth++;
      } else if (c === 93 /* ] */ || c === 125 /* } */) {
        scan.depth--;
        if (scan.depth === 1) {
          this.element(text, scan.elementAt, i + 1, scan.elementLine);
          scan.elementAt = -1;
          consumed = i + 1;
        } else if (scan.depth <= 0) {
          scan.depth = 0; // the array's end (or a stray bracket: the next "[" starts another array)
          consumed = i + 1;
        }
      } else if (scan.depth === 0 && c !== 32 && c !== 9 && c !== 10 && c !== 13) {
        // Text outside any array: reported to the end of its line.
        let end = text.indexOf('\n', i);
        let why = 'not a JSON array of objects: text after the array';
        if (end < 0) {
          // held until its LF, but not without bound (a file that never has one)
          if (!final && text.length - i <= MAX_RECORD_CHARS) break;
          if (!final) why += ', longer than 64 MiB without a line end';
          end = text.length;
        }
        this.emitError(i, scan.line, why, text.slice(i, end));
        i = end - 1;
        consumed = end;
      } else if (scan.depth === 1 && c !== 44 /* , */ && c !== 32 && c !== 9 && c !== 10 && c !== 13) {
        // A scalar element: skipped to the next comma or the array's end, reported.
        let end = i;
        while (end < text.length && text.charCodeAt(end) !== 44 && text.charCodeAt(end) !== 93 && text.charCodeAt(end) !== 10) end++;
        const long = end >= text.length && end - i > MAX_RECORD_CHARS;
        if (end >= text.length && !final && !long) break;
        this.emitError(i, scan.line, `not a JSON object: an array element that is not one${long && !final ? ', longer than 64 MiB' : ''}`, text.slice(i, end));
        i = end - 1;
        consumed = end;
      }
    }
    if (i >= text.length && final && scan.depth > 0) {
      const from = scan.elementAt >= 0 ? scan.elementAt : consumed;
      this.emitError(from, scan.elementAt >= 0 ? scan.elementLine : scan.line, 'JSON array cut short: the input ends inside it', text.slice(from, from + 200));
      consumed = text.length;
      scan.depth = 0;
    } else if (scan.elementAt >= 0 && i - scan.elementAt > MAX_RECORD_CHARS) {
      this.emitError(scan.elementAt, scan.elementLine, 'JSON array element longer than 64 MiB', text.slice(scan.elementAt, scan.elementAt + 200));
      consumed = i;
      scan.elementAt = -1;
      scan.depth = 1;
      scan.inString = false;
    }
    // Scanning resumes where it stopped; what was consumed goes, so indexes move by that much.
    scan.at = i - consumed;
    if (scan.elementAt >= 0) scan.elementAt -= consumed;
    this.textLine = scan.line;
    return consumed;
  }

  private element(text: string, start: number, end: number, lineNo: number): void {
    const source = text.slice(start, end);
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      this.emitError(start, lineNo, `not a JSON object: ${(error as Error).message}`, source);
      return;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.emitError(start, lineNo, 'not a JSON object', source);
      return;
    }
    this.object(value as JsonObject, start, lineNo, source);
  }

  protected readLine(text: string, start: number, end: number, lineNo: number): void {
    if (end === start) return;
    this.cri ??= CRI.test(text.slice(start, Math.min(end, start + 80)));
    if (!this.cri) return this.readText(text, start, end, lineNo);
    const m = CRI.exec(text.slice(start, Math.min(end, start + 80)));
    if (!m) {
      this.emitError(start, lineNo, 'not a CRI container log line (TIME stdout|stderr P|F TEXT)', text.slice(start, end));
      return;
    }
    const from = start + m[0].length;
    const stream = m[2]!;
    const held = this.partials.get(stream);
    if (m[3] === 'P') {
      const p = held ?? { position: this.byteAt(start), line: lineNo, parts: [], chars: 0 };
      p.parts.push(text.slice(from, end));
      p.chars += end - from;
      if (p.chars > MAX_RECORD_CHARS) {
        this.emitError(start, lineNo, 'CRI partial lines longer than 64 MiB together', p.parts[0]!.slice(0, 200));
        this.partials.delete(stream);
        return;
      }
      this.partials.set(stream, p);
      return;
    }
    if (held === undefined) return this.readText(text, from, end, lineNo);
    this.partials.delete(stream);
    this.joined(held, text.slice(from, end));
  }

  /** One record's text: text.slice(start, end), a JSON object. */
  private readText(text: string, start: number, end: number, lineNo: number): void {
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

/**
 * The objects of a sample that is a JSON array (for recognising the format and the prefix); an
 * element cut short by the sample's end is left out. [] when the sample is not an array.
 */
export function arrayObjects(sample: string, limit = 2000): JsonObject[] {
  const out: JsonObject[] = [];
  if (!/^\s*\[/.test(sample)) return out;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < sample.length && out.length < limit; i++) {
    const c = sample.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 92) escaped = true;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (depth === 1) start = i;
      depth++;
    } else if (c === 93 || c === 125) {
      depth--;
      if (depth === 1 && start >= 0) {
        try {
          const o = obj(JSON.parse(sample.slice(start, i + 1)));
          if (o !== null) out.push(o);
        } catch { /* not an object */ }
        start = -1;
      } else if (depth < 0) depth = 0;
    }
  }
  return out;
}

/** The text of the first record of a sample of CRI container log lines (its P parts joined), or null when it is not one. */
export function criFirstRecord(sample: string): string | null {
  let text = '';
  for (const line of sample.split('\n', 1000)) {
    const m = CRI.exec(line);
    if (!m) return null;
    text += line.slice(m[0].length);
    if (m[3] === 'F') return text;
  }
  return null;
}

/** The first line of a sample, parsed, when it is a JSON object; for an array, its first element. */
export function firstObject(sample: string): JsonObject | null {
  if (sample.startsWith('[')) return arrayObjects(sample, 1)[0] ?? null;
  const end = sample.indexOf('\n');
  try {
    return obj(JSON.parse(end < 0 ? sample : sample.slice(0, end)));
  } catch {
    return null;
  }
}
