// JSON: every server, every check, every row, as the runner produced them.
import { PGWARDEN_VERSION } from '../../core/version.ts';
import type { ServerResult } from '../types.ts';
import { worstLevel } from './nagios.ts';

export function renderJson(results: readonly ServerResult[]): string {
  return JSON.stringify({ pgwarden_version: PGWARDEN_VERSION, level: worstLevel(results), servers: results }, null, 2) + '\n';
}
