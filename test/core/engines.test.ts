// npm ci must not warn EBADENGINE on any Node.js pgwarden says it runs on: the lowest release of
// each line package.json's engines allows (20.19, 22.13, 24), as the README says.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import semver from 'semver';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean; os?: string[]; cpu?: string[] }>;
};

describe('Node.js versions', () => {
  // "^20.19.0 || ^22.13.0 || >=24": the lowest version of each alternative
  const supported = pkg.engines.node.split('||').map((range) => semver.minVersion(range.trim())!.version);

  it(`every locked package accepts Node.js ${supported.join(', ')}`, () => {
    const refused: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      // platform packages npm never installs here (esbuild's, argon2's for other systems) do not count
      if (entry.os && !entry.os.includes('linux')) continue;
      if (entry.cpu && !entry.cpu.includes('x64')) continue;
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (!range || where === '') continue;
      for (const version of supported) if (!semver.satisfies(version, range)) refused.push(`${where.replace(/^.*node_modules\//, '')} wants node ${range} (not ${version})`);
    }
    assert.deepEqual(refused, []);
  });

  it('the README names the same versions as package.json', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const short = supported.map((v) => v.replace(/\.0$/, '').replace(/\.0$/, '') + '+');
    const prose = `Node.js ${short.slice(0, -1).join(', ')} or ${short.at(-1)}`;
    assert.ok(readme.includes(prose), `README.md should say "${prose}"`);
  });
});
