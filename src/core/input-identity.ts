// The identity of a log file as events name it (source.input), shared by `parse`, `ingest` and the
// collector's logfile source so that the same file is one input whichever reads it: p20.log,
// ./p20.log, big/../p20.log and a symbolic link to it all resolve to one absolute path. The
// repository deduplicates on (ts, source.input, source.position, server): two spellings of one
// file would store every record twice, and a `parse` output replayed into `ingest` would too.
import { realpathSync } from 'node:fs';
import { sep } from 'node:path';

/** A directory whose files were ingested under `from` and now live at `to` (resolved). */
export interface Relocation { from: string; to: string }

/**
 * A file's source input: its resolved absolute path; under a relocated directory, the name it
 * was stored under. Standard input ('-') stays '-'. Throws (ENOENT, EACCES) like realpath.
 */
export function canonicalInput(file: string, relocations: readonly Relocation[] = []): string {
  if (file === '-') return file;
  const resolved = realpathSync(file);
  for (const { from, to } of relocations) {
    if (resolved === to) return from;
    if (resolved.startsWith(to.endsWith(sep) ? to : to + sep)) return from + sep + resolved.slice(to.length).replace(/^\/+/, '');
  }
  return resolved;
}
