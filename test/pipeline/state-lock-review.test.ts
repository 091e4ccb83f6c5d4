// Hostile review of the state-directory lock (src/pipeline/state-lock.ts), in this process: each
// test FAILED on main 9a626e6 when written.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StateLocks } from '../../src/pipeline/state-lock.ts';

const root = mkdtempSync(join(tmpdir(), 'pgwarden-state-lock-review-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('state-directory lock, hostile review', () => {
  // MEDIUM. The lock's temporary file has a name anyone can predict (collect.lock.PID.tmp) and was
  // written with a plain open for writing, which follows a symlink: whoever may write to a shared
  // state directory made collect overwrite any file its user may write (here: a file outside the
  // directory) with the lock's JSON.
  it('a symlink planted at the temporary name is not followed', () => {
    const dir = join(root, 'shared');
    mkdirSync(dir);
    const precious = join(root, 'precious.txt');
    writeFileSync(precious, 'precious\n');
    symlinkSync(precious, join(dir, `collect.lock.${process.pid}.tmp`));
    let locks: StateLocks | undefined;
    try {
      locks = new StateLocks([dir]);
    } catch {
      // refusing is fine; writing through the link is not
    }
    locks?.release();
    assert.equal(readFileSync(precious, 'utf8'), 'precious\n', 'the lock was written through the planted symlink');
    assert.equal(existsSync(join(dir, 'collect.lock')), false, 'the lock outlived release()');
  });

  // LOW. A state directory collect may not write (read-only, full, not a directory one can make
  // files in) was reported as "This is a bug in pgwarden" with the raw ENOENT/EACCES: it is the
  // config's or the host's, and gets one line naming the directory and a PGW_ERR_ code.
  it('a state directory that takes no file is a config error naming it', () => {
    assert.throws(() => new StateLocks(['/proc/sys']), (error: Error & { code?: string }) =>
      error.code === 'PGW_ERR_CONFIG' && error.message.includes('/proc/sys') && !error.message.includes('\n'));
  });
});
