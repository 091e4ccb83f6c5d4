// The names of the log formats pgwarden reads (`--format`, `format:` in a logfile source):
// PostgreSQL's three, `events` (pgwarden's event model as JSON lines, as `parse` writes it), and
// issue 19's platforms. Kept
// apart from the parsers so that configuration checking can name them without loading them.
export const LOG_FORMATS = [
  'stderr', 'csvlog', 'jsonlog', 'events',
  'syslog', 'journald', 'cloudsql', 'cnpg', 'heroku', 'azure', 'pgbouncer', 'pgauditlogtofile',
] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Formats whose records carry a server log line after their own envelope, read with a log_line_prefix. */
export const PREFIXED_FORMATS: ReadonlySet<LogFormat> = new Set<LogFormat>(['stderr', 'syslog', 'journald', 'cloudsql']);
