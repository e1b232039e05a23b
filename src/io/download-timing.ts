// The clocks of a download: the pause before a retry, the watchdog that aborts a stalled
// request, and the rate meter behind the progress bar's speed. Split from download.ts, which
// streams, resumes and checks the file; none of this knows about files or the cache.

import { DownloadError } from '../core/errors.ts';

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new DownloadError('(download)', 'aborted', 'cancelled while waiting to retry'));
      },
      { once: true },
    );
  });
}

/** Aborts the request when no data came for `ms`, or when the caller's signal aborts. */
export class Watchdog {
  private readonly ctrl = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.ctrl.abort();
  fired = false;

  constructor(
    readonly ms: number,
    private readonly outer?: AbortSignal,
  ) {
    if (outer?.aborted) this.ctrl.abort();
    outer?.addEventListener('abort', this.onAbort);
    this.kick();
  }

  get signal(): AbortSignal {
    return this.ctrl.signal;
  }

  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.ctrl.abort();
    }, this.ms);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onAbort);
  }
}

/** Bytes per second over the last few seconds (a whole-run average hides a stall). */
export class RateMeter {
  private samples: [number, number][] = [];
  private total = 0;
  constructor(
    private readonly windowMs = 5000,
    private readonly now = () => performance.now(),
  ) {}

  add(bytes: number): void {
    this.total += bytes;
    const t = this.now();
    this.samples.push([t, this.total]);
    while (this.samples.length > 2 && t - this.samples[0][0] > this.windowMs) this.samples.shift();
  }

  rate(): number {
    if (this.samples.length < 2) return 0;
    const [t0, b0] = this.samples[0];
    const [t1, b1] = this.samples[this.samples.length - 1];
    return t1 > t0 ? ((b1 - b0) * 1000) / (t1 - t0) : 0;
  }
}
