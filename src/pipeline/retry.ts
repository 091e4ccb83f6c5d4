// Retries, one module for the graph and every source: jittered exponential backoff, and the
// bookkeeping of a loop that fails again and again (how many times in a row, how long to wait,
// whether to log this one: the first failure and every tenth, so a long outage is a few lines).
// Each caller keeps its own documented timings and passes them in: the graph pipeline.retry,
// the AWS sources 1 s to 60 s, the NATS source 0.5 s to 10 s.

export interface RetryTimings {
  initial_seconds: number;
  max_seconds: number;
}

/** Milliseconds to wait before attempt `attempts + 1`: initial × 2^(attempts-1), capped, ±20 %. */
export function backoff(attempts: number, retry: RetryTimings, random = Math.random): number {
  const base = Math.min(retry.max_seconds, retry.initial_seconds * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * 1000 * (0.8 + 0.4 * random()));
}

/** Consecutive failures of one activity (receiving from a queue, reading a page). */
export class Retry {
  /** failures since the last success */
  attempts = 0;

  constructor(private readonly timings: RetryTimings, private readonly logEvery = 10) {}

  /** Counts a failure: how long to wait, and whether this one is worth a log line. */
  failed(): { delay: number; log: boolean } {
    this.attempts++;
    return { delay: backoff(this.attempts, this.timings), log: this.attempts === 1 || this.attempts % this.logEvery === 0 };
  }

  succeeded(): void {
    this.attempts = 0;
  }
}
