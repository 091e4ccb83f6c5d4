// The pg driver, loaded after pg-runtime-hint.ts (module evaluation follows the order of these
// declarations): import pg from here, not from 'pg', on any path where start-up time counts.
import { removeRuntimeHint } from './pg-runtime-hint.ts';
export { default } from 'pg';

removeRuntimeHint();
