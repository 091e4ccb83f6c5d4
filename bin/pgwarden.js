#!/usr/bin/env node
// Runs the compiled CLI (npm ci builds it through the prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('pgwarden is not built: run `npm ci` (or `npm run build`) in the pgwarden folder first');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
