// What a source says about records it cannot read, the same for every source: each one counted
// (collect prints the total when it stops), at most one log line a second, with how many went
// unlogged since the last one, so that a file of garbage is a few lines and not millions.
import type { Logger } from 'pino';

export class ParseErrorLog {
  /** every parse error so far */
  count = 0;
  private lastLog = 0;
  private unlogged = 0;

  constructor(private readonly log: Logger, private readonly source: string) {}

  /** Counts one; logs it unless one was logged less than a second ago. */
  record(fields: Record<string, unknown>): void {
    this.count++;
    const now = Date.now();
    if (now - this.lastLog < 1000) {
      this.unlogged++;
      return;
    }
    this.log.warn({ source: this.source, ...fields, errors_total: this.count, not_logged_since: this.unlogged }, 'parse error');
    this.lastLog = now;
    this.unlogged = 0;
  }
}
