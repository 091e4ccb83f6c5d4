// Checkpoint files, one module for every source that keeps its place on disk (logfile,
// cloudwatch, guard): a JSON file per source in state_dir, replaced atomically and durably
// (temporary file, fsync, rename, fsync of the directory), so that a crash (kill -9, power loss)
// leaves the old file or the new one, never a torn one. What a checkpoint holds is the source's
// own business; its format is unchanged by this module (each source gives its own indentation).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { PgwardenError } from '../core/errors.ts';

export function defaultStateDir(): string {
  return join(process.env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'pgwarden');
}

/** Replaces a file atomically and durably: temporary file, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  // A name nobody can guess, created exclusively: a state directory may be shared, and a
  // symlink planted at a predictable name would have been written through (O_EXCL never follows one).
  const temp = `${path}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`;
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(temp, path);
  const dir = await open(join(path, '..'), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export interface CheckpointFileOptions {
  /** the source's state_dir (default: defaultStateDir()) */
  dir: string | undefined;
  /** the file's name in it, e.g. logfile-SOURCE.json */
  file: string;
  /** the config entry, for a state_dir that cannot be made: pipeline.sources.NAME */
  where: string;
  /** how a user starts over, after "move the file away": "to start over from the beginning of the logs" */
  startOver: string;
  /** JSON.stringify's indentation of the file (the formats in use: 1 for logfile and cloudwatch, none for guard) */
  indent?: number;
}

/** One source's checkpoint file. Saves run one after the other, each writing the state as it was when save() was called. */
export class CheckpointFile<T> {
  readonly path: string;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly options: CheckpointFileOptions) {
    const dir = options.dir ?? defaultStateDir();
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `${options.where}.state_dir: cannot create ${dir}: ${(error as Error).message}`, { cause: error });
    }
    this.path = join(dir, options.file);
    // a temporary file left by a crash in the middle of a save
    const stem = `${options.file}.`;
    for (const name of readdirSync(dir)) if (name.startsWith(stem) && name.endsWith('.tmp')) rmSync(join(dir, name), { force: true });
  }

  /**
   * The stored state, or `fresh()` when there is none. `check` throws on content this version
   * cannot read (an unknown version); the error tells the user what moving the file away does.
   */
  load(fresh: () => T, check: (parsed: T) => T): T {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fresh();
      throw new PgwardenError('PGW_ERR_CONFIG', `cannot read the checkpoints in ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      return check(JSON.parse(text) as T);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `the checkpoints in ${this.path} are unreadable (${(error as Error).message}); move the file away ${this.options.startOver}`, { cause: error });
    }
  }

  /** Writes the state durably; resolves once it is on disk (after every earlier save). */
  save(state: T): Promise<void> {
    const text = `${JSON.stringify(state, null, this.options.indent)}\n`;
    this.saving = this.saving.catch(() => undefined).then(() => writeFileAtomic(this.path, text));
    return this.saving;
  }

  /** Resolves when no save is running (a failed one included). */
  async idle(): Promise<void> {
    await this.saving.catch(() => undefined);
  }
}

/** `check` for the common case: the version this code writes and an object under `key`. */
export function versioned<T extends { version: unknown }>(version: number, key: keyof T): (parsed: T) => T {
  return (parsed) => {
    if (parsed?.version !== version || typeof parsed[key] !== 'object') throw new Error(`unknown version ${String(parsed?.version)}`);
    return parsed;
  };
}
