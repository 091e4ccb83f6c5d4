// Loss that can be seen from the receiving end of syslog, which has no acknowledgements:
//
// - Gaps in PostgreSQL's syslog_sequence_numbers. Each server process numbers its records 1, 2,
//   3, … ("[SEQ-CHUNK] " before each message, with syslog_sequence_numbers and
//   syslog_split_messages on, both defaults); a process forked by the postmaster starts from the
//   postmaster's number, so only the step from one seen number to the next counts. Per sender
//   host and pid: a number more than one above the last is that many records missing (lost on
//   the way, or by the sender's own rate limit); one at or below the last (a reused pid, or
//   datagrams out of order) starts over without counting.
// - The kernel's drops on the UDP socket (its receive buffer full: datagrams thrown away before
//   pgwarden could read them), the `drops` column of /proc/net/udp and /proc/net/udp6 for the
//   socket's local port, where Linux shows it.
import { readFileSync } from 'node:fs';

/** Processes remembered (the least recently heard of is forgotten first). */
const MAX_PROCESSES = 100_000;

export class SequenceGaps {
  private readonly last = new Map<string, number>();
  /** records known missing */
  missing = 0;
  /** steps at or below the last number seen (restarts, reordering): not counted as loss */
  restarts = 0;

  /** `seq` of the first part of a record from `host`/`pid`. */
  see(host: string, pid: number, seq: number): void {
    const key = `${host}\u0000${pid}`;
    const last = this.last.get(key);
    if (last !== undefined) {
      this.last.delete(key);
      if (seq > last + 1) this.missing += seq - last - 1;
      else if (seq <= last) this.restarts++;
    } else if (this.last.size >= MAX_PROCESSES) {
      this.last.delete(this.last.keys().next().value!);
    }
    this.last.set(key, seq);
  }
}

/**
 * The kernel's count of datagrams dropped on the UDP socket bound to `port`, or null where the
 * system does not show it (not Linux, /proc not mounted, the socket not found).
 */
export function udpKernelDrops(port: number, files = ['/proc/net/udp', '/proc/net/udp6']): number | null {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let found: number | null = null;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      if (fields.length < 13 || !fields[1]!.endsWith(`:${hexPort}`)) continue;
      const drops = Number(fields[12]);
      if (Number.isSafeInteger(drops)) found = (found ?? 0) + drops;
    }
  }
  return found;
}
