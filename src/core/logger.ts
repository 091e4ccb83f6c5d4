// Diagnostics for long-running commands (watch): JSON lines on stderr, so stdout stays
// the command's own output. Level from PGWARDEN_LOG_LEVEL (default info). Secrets are
// never passed to the logger; URLs are redacted before they get here.
import pino from 'pino';

export function createLogger(component: string): pino.Logger {
  return pino({ name: `pgwarden:${component}`, level: process.env.PGWARDEN_LOG_LEVEL ?? 'info' }, pino.destination(2));
}
