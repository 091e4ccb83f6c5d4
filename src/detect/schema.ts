// Pieces of the detect: schema that the config (config.ts) and the built-in rules' own settings
// (rules/*.ts) share.
import { z } from 'zod';

/** 30s, 5m, 2h, 7d: the only duration syntax, everywhere in detect:. */
export const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export function durationMs(text: string): number {
  const m = DURATION.exec(text);
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export const duration = z.string().regex(DURATION, 'a duration such as 30s, 5m, 2h or 7d');
export const positiveDuration = duration.refine((text) => !DURATION.test(text) || durationMs(text) > 0, 'must be longer than 0');
/** Case-insensitive, `*` matches any run of characters (as in pipeline filters). */
export const globs = z.array(z.string().min(1)).min(1);
export const threshold = (fallback: number) => z.number().int().min(1).max(10_000).default(fallback);
