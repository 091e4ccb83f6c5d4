// JSON: every server, every check, every row, as the runner produced them. A run that could
// not start (bad input, bad config) is {"level": "unknown", "error": "...", "servers": []}.
import { PGWARDEN_VERSION } from '../../core/version.ts';
import type { ServerResult } from '../types.ts';
import { worstLevel } from './nagios.ts';

export function renderJson(results: readonly ServerResult[]): string {
  return JSON.stringify({ pgwarden_version: PGWARDEN_VERSION, level: worstLevel(results), error: null, servers: results }, null, 2) + '\n';
}

export function renderJsonError(message: string): string {
  return JSON.stringify({ pgwarden_version: PGWARDEN_VERSION, level: 'unknown', error: message, servers: [] }, null, 2) + '\n';
}
