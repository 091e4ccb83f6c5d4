#!/usr/bin/env node
// Runs the compiled CLI (npm ci builds it through the prepare script).
import { existsSync, statSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('pgwarden is not built: run `npm ci` (or `npm run build`) in the pgwarden folder first');
  process.exit(2);
}

/** The command word (the first argument that is not an option, after --config's value). */
function commandWord(argv) {
  for (let i = 2; i < argv.length; i++) {
    if (argv[i] === '--config') i++;
    else if (!argv[i].startsWith('-')) return argv[i];
  }
  return null;
}

// `pgwarden check`, started by a monitoring system every minute, runs the same CLI bundled
// (scripts/bundle-check.ts): loading dist/ module by module was most of its time. Only a bundle
// built after dist/cli (npm run build writes both) is used: after a bare tsc it would be stale.
const bundle = new URL('../dist/check/main.js', import.meta.url);
const bundled = commandWord(process.argv) === 'check' && existsSync(bundle) && statSync(bundle).mtimeMs >= statSync(entry).mtimeMs;
const { main } = await import((bundled ? bundle : entry).href);
process.exitCode = await main(process.argv);
