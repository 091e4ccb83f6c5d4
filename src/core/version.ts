import { readFileSync } from 'node:fs';

/** pgwarden's own version, from package.json. */
export const PGWARDEN_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
