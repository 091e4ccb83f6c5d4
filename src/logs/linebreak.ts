// Line breaks in the startup packet's names (stderr logs whose log_line_prefix has %u or %d).
//
// PostgreSQL writes the user and database a client sent (before it authenticated, each cut to
// NAMEDATALEN-1 = 63 bytes) raw into %u and %d: a line break in them ends the physical line
// inside the prefix. The record then spans lines like
//   2026-… [4242] x                                   <- the real %m [%p] and the name's start (the "cut" line)
//   2026-… [77] victim@postgres LOG:  AUDIT: …         <- client text that reads as a record of pid 77
//    FATAL:  password authentication failed for …     <- the real prefix goes on after the name
// and every line in between lies within the names' budget. A cut line (it starts with the
// prefix's fixed fields up to the first free-text field, and is not a record) is joined with
// the lines after it, the joined text read with the severity word in its last line; the join
// is taken when that record is a FATAL or an extra line (DETAIL, HINT, …): the only records a
// backend writes with names it has not authenticated. The lines joined are then never records
// and never change a session. The decision depends only on the lines themselves (no state), so
// RecordSplitter can make it the same way (split.ts).
import type { PrefixMatcher } from './prefix.ts';

/**
 * True when `line` (not a record) starts with the prefix's fixed fields, so that it may be the
 * first line of a record whose name holds a line break.
 */
export function isCutLine(matcher: PrefixMatcher, line: string): boolean {
  return matcher.joinBudget > 0 && matcher.headEnd(line) >= 0;
}

/**
 * Reads `joined` (a cut line and the lines after it, joined with "\n") with the severity word
 * at or after `lastLine` (where its last line starts). True when the reading is a record the
 * join may make (FATAL, or an extra line of one); then the matcher holds it.
 */
export function readJoined(matcher: PrefixMatcher, joined: string, lastLine: number): boolean {
  if (!matcher.matchWith(joined, lastLine, null, null)) return false;
  return matcher.level.label !== undefined || matcher.level.severity === 'FATAL';
}

/** True when a line starting at `lastLine` of the joined text is still within the names' budget of a cut line. */
export function withinBudget(matcher: PrefixMatcher, cutLine: string, lastLine: number): boolean {
  return lastLine - matcher.headEnd(cutLine) <= matcher.joinBudget;
}
