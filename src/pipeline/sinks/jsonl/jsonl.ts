// JSON lines sink: one event per line (the event model, src/core/event.ts), appended to a file
// or written to standard output. For a file, a batch counts as delivered once it is written and
// fsync'ed; for standard output, once the stream has taken it.
import { closeSync, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { PgwardenError } from '../../../core/errors.ts';
import { eventLines } from '../../../core/event.ts';
import type { SinkContext } from '../../build.ts';
import type { Pending, PendingAlert, Sink } from '../../types.ts';
import type { JsonlSinkConfig } from './config.ts';

function writeStdout(text: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => (error ? reject(error) : resolve()));
  });
}

/**
 * A line cut short by a crash in the middle of a write (that batch was not settled, so it is
 * sent again): the file is cut back to its last complete line.
 */
async function cutTornLine(fh: FileHandle): Promise<void> {
  const { size } = await fh.stat();
  if (size === 0) return;
  const last = Buffer.alloc(1);
  await fh.read(last, 0, 1, size - 1);
  if (last[0] === 0x0a) return;
  const window = Math.min(size, 64 * 1024 * 1024);
  const tail = Buffer.alloc(window);
  await fh.read(tail, 0, window, size - window);
  const newline = tail.lastIndexOf(0x0a);
  await fh.truncate(newline < 0 ? size - window : size - window + newline + 1);
  await fh.datasync();
}

export function build({ name, config }: SinkContext<JsonlSinkConfig>): Sink {
  if (config.path !== '-') {
    // fail at start, not at the first batch, when the file cannot be written
    try {
      closeSync(openSync(config.path, 'a', 0o640));
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks.${name}.path: cannot open ${config.path} for appending: ${(error as Error).message}`, { cause: error });
    }
  }
  let handle: FileHandle | null = null;
  const file = async (): Promise<FileHandle> => {
    if (handle) return handle;
    let fh: FileHandle;
    try {
      fh = await open(config.path, 'a+', 0o640);
    } catch (error) {
      throw new PgwardenError('PGW_ERR_CONFIG', `pipeline.sinks.${name}.path: cannot open ${config.path} for appending: ${(error as Error).message}`, { cause: error });
    }
    await cutTornLine(fh);
    handle = fh;
    return handle;
  };
  return {
    name,
    type: 'jsonl',
    inputs: config.inputs,
    deliver: (pending: Pending) => append(eventLines(pending.events)),
    // only when a rule names this sink in its sinks: (jsonl is not an alert sink by default)
    deliverAlert: (pending: PendingAlert) => append(Buffer.from(`${JSON.stringify({ delivery_id: pending.messageId, notice: pending.notice.notice, alert: pending.notice.alert })}\n`)),
    async close(): Promise<void> {
      const fh = handle;
      handle = null;
      await fh?.close();
    },
  };

  async function append(text: Uint8Array): Promise<void> {
      if (config.path === '-') return writeStdout(text);
      const fh = await file();
      try {
        await fh.appendFile(text);
        if (config.fsync) await fh.datasync();
      } catch (error) {
        // reopen next time (the disk may come back, the file may have been moved away)
        handle = null;
        await fh.close().catch(() => undefined);
        throw error;
      }
  }
}
