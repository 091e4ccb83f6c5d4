// What a source's changed() needs: lanes wait for news, a timeout or the stop, and the source
// wakes them all at once.
import type { Wake } from './types.ts';

export class Waiters {
  private readonly waiting = new Set<(wake: Wake) => void>();

  wake(wake: Wake): void {
    for (const waiter of [...this.waiting]) waiter(wake);
  }

  /** Resolves with 'change' on wake('change'), 'timeout' after ms, 'stopped' on abort or when already stopped. */
  wait(ms: number, signal: AbortSignal, stopped: boolean): Promise<Wake> {
    return new Promise((resolve) => {
      if (signal.aborted || stopped) return resolve('stopped');
      const done = (wake: Wake) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(done);
        resolve(wake);
      };
      const onAbort = () => done('stopped');
      const timer = setTimeout(() => done('timeout'), ms);
      signal.addEventListener('abort', onAbort);
      this.waiting.add(done);
    });
  }
}
