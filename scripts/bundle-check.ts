// npm run build, after tsc: bundles the compiled CLI (dist/cli/main.js) into dist/check/, which
// bin/pgwarden.js runs for `pgwarden check` only.
//
// Why: a monitoring system starts `pgwarden check` every minute, and most of its time was Node.js
// loading ~90 ES modules of dist/ and ~45 CommonJS files of pg and commander one by one (resolving,
// reading, and for CommonJS scanning each for its exports) — more than the checks themselves take.
// In a bundle the check path is about fifteen files. Same code: it is dist/ as tsc compiled it, with
// each dynamic import() left as its own chunk (loaded when the command reaches it, as before).
// The database driver and commander are bundled; every other package stays an import of
// node_modules (the config's zod and yaml, pgpass: loaded only when needed, as before).
// The other commands keep running dist/cli/ unbundled.
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUNDLED = new Set(['pg', 'pg-connection-string', 'commander']);
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { dependencies: Record<string, string>; optionalDependencies?: Record<string, string> };
const external = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter((name) => !BUNDLED.has(name));

// dist/check/ is as deep as dist/core/: version.ts reads ../../package.json relative to its module.
const outdir = `${ROOT}dist/check`;
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [`${ROOT}dist/cli/main.js`],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // pg and commander are CommonJS: their require() of Node.js modules needs a real require.
  banner: { js: "import { createRequire as __pgwardenRequire } from 'node:module'; const require = __pgwardenRequire(import.meta.url);" },
  logLevel: 'warning',
});
