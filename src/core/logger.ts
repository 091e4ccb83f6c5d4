// Diagnostics for long-running commands (watch): JSON lines on stderr, so stdout stays
// the command's own output. Level from PGWARDEN_LOG_LEVEL (default info). Secrets are
// never passed to the logger; URLs are redacted before they get here.
import pino from 'pino';
import { PgwardenError } from './errors.ts';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export function createLogger(component: string): pino.Logger {
  const level = process.env.PGWARDEN_LOG_LEVEL ?? 'info';
  if (!LEVELS.includes(level)) {
    throw new PgwardenError('PGW_ERR_INVALID_VALUE', `PGWARDEN_LOG_LEVEL "${level}" is not one of ${LEVELS.join(', ')}`);
  }
  return pino({ name: `pgwarden:${component}`, level }, pino.destination(2));
}
