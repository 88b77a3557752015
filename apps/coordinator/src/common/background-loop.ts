import { errorMessage } from './domain-error';

/** Options of {@link startBackgroundLoop}. */
export interface BackgroundLoopOptions {
  /** How often a pass starts; a tick that finds the previous pass still running is skipped. */
  everyMs: number;
  /** Where a failed pass is reported. */
  log: { warn(message: string): void };
  /** Says what failed, before the error's message: `monitor pass failed` logs `monitor pass failed: <message>`. */
  failure: string;
  /** Runs the first pass at once instead of after `everyMs`. */
  runAtOnce?: boolean;
  /** Lets the process exit while the loop waits for its next tick. */
  unref?: boolean;
}

/** A started {@link startBackgroundLoop}. */
export interface BackgroundLoop {
  /** Starts no more passes and resolves once the pass in flight, if any, settled (never rejects). */
  stop(): Promise<void>;
}

/**
 * Runs `pass` every `everyMs`, one pass at a time: a coordinator's periodic work (expiring jobs,
 * polling the fleet) must not pile up passes behind a slow store. A failed pass is logged and
 * the loop goes on; the next tick tries again.
 */
export function startBackgroundLoop(pass: () => Promise<unknown>, options: BackgroundLoopOptions): BackgroundLoop {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = (): void => {
    if (running || stopped) return;
    running = pass()
      .then(
        () => undefined,
        (err: unknown) => options.log.warn(`${options.failure}: ${errorMessage(err)}`),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const timer = setInterval(tick, options.everyMs);
  if (options.unref) timer.unref();
  if (options.runAtOnce) tick();
  return {
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
