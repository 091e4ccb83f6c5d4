// One collect per state directory. Two collects keeping checkpoints in one directory (two
// configs naming the same state_dir, or both the default one) would overwrite each other's
// checkpoints and detect.json, and the second would delete the first's half-written ones at
// start. So collect holds a lock file, collect.lock, in every state directory it uses, from
// before any source or sink is made until it exits.
//
// The lock is the file: made complete under another name, then hard-linked into place (link
// fails if the name exists, atomically, on every local file system), so it is never seen
// half-written. It names its pid and, on Linux, the process's start time: a lock left by a
// process that is gone (kill -9, a crash, a reboot) or whose pid another process has since been
// given is stale, and the next collect takes it over. Taking over is itself guarded by a second
// file made the same way, so two collects that start together after a crash cannot both take
// the one stale lock.
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PgwardenError } from '../core/errors.ts';

export const LOCK_FILE = 'collect.lock';

interface LockContent {
  pid: number;
  /** /proc/PID/stat's start time (clock ticks since boot), null where there is no /proc */
  start: string | null;
  at: string;
}

/** A process's start time as /proc gives it (field 22 of stat, after the command's parenthesis), or null. */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function alive(holder: LockContent): boolean {
  // Our own pid in a lock we have not taken yet: a previous life (pid 1 in a container).
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(holder.pid);
  return holder.start === null || start === null || start === holder.start;
}

function read(path: string): LockContent | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as LockContent;
    return Number.isSafeInteger(parsed?.pid) && parsed.pid > 0 ? parsed : null;
  } catch {
    return null;
  }
}

/** Makes `path` holding `content`, or returns false when it exists. */
function create(path: string, content: LockContent): boolean {
  const temp = `${path}.${process.pid}.tmp`;
  // A name anyone can predict: whatever is there (a leftover of a previous life of this pid, or
  // a symlink someone who may write the directory planted) is removed, not written through
  // (unlink never follows a link), and the file is made exclusively ('wx': O_EXCL fails on any
  // name that exists, a symlink included).
  rmSync(temp, { force: true });
  writeFileSync(temp, `${JSON.stringify(content)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temp, { force: true });
  }
}

function busy(dir: string, pid: number): PgwardenError {
  return new PgwardenError('PGW_ERR_CONFIG', `another pgwarden collect (pid ${pid}) is running with the state directory ${dir} (lock file ${join(dir, LOCK_FILE)})`,
    { hint: 'Stop it first, or give this collect its own state_dir (each source\'s and detect.state_dir); a lock of a process that is gone is taken over by itself.' });
}

/** The lock of one directory, or an error naming the other collect. */
function lockOne(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new PgwardenError('PGW_ERR_CONFIG', `state_dir: cannot create ${dir}: ${(error as Error).message}`, { cause: error });
  }
  const path = join(dir, LOCK_FILE);
  const mine: LockContent = { pid: process.pid, start: processStart(process.pid), at: new Date().toISOString() };
  const made = (file: string): boolean => {
    try {
      return create(file, mine);
    } catch (error) {
      // read-only, full, or not ours: the host's or the config's, not a bug
      throw new PgwardenError('PGW_ERR_CONFIG', `state_dir: cannot write the lock file ${file}: ${(error as Error).message}`, { cause: error });
    }
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (made(path)) return;
    const holder = read(path);
    if (holder && alive(holder)) throw busy(dir, holder.pid);
    // Stale (or unreadable: not a lock of ours). Taken over by one process at a time.
    const guard = `${path}.takeover`;
    if (!made(guard)) {
      const other = read(guard);
      if (other && alive(other)) throw busy(dir, other.pid);
      rmSync(guard, { force: true });
      continue;
    }
    try {
      const now = read(path);
      // still the stale lock we saw (another collect may have taken it over meanwhile)
      if (JSON.stringify(now) === JSON.stringify(holder)) rmSync(path, { force: true });
    } finally {
      rmSync(guard, { force: true });
    }
  }
  const holder = read(path);
  throw holder ? busy(dir, holder.pid) : new PgwardenError('PGW_ERR_CONFIG', `state_dir: cannot take the lock file ${path}`);
}

/** The locks of a collect: taken in order, released (each only while it is still ours) at release() or at exit. */
export class StateLocks {
  private readonly held: string[] = [];
  private readonly onExit = () => this.release();

  constructor(dirs: Iterable<string>) {
    process.once('exit', this.onExit);
    try {
      for (const dir of [...new Set(dirs)].sort()) {
        lockOne(dir);
        this.held.push(join(dir, LOCK_FILE));
      }
    } catch (error) {
      this.release();
      throw error;
    }
  }

  release(): void {
    process.removeListener('exit', this.onExit);
    for (const path of this.held.splice(0)) if (read(path)?.pid === process.pid) rmSync(path, { force: true });
  }
}
