/** One resource's closer, with a name for the log when it fails. */
interface Closer {
  readonly name: string;
  readonly close: () => Promise<void> | void;
}

/**
 * The resources the agent opened, closed in reverse order: each one opened at start-up (NATS
 * connection, gRPC channels, sensors, registry entry, timers) pushes its closer right after it
 * opened, so that a throw anywhere in start-up closes exactly what was opened, and shutdown closes
 * everything in the order opposite to opening (as the coordinator's start-up in
 * apps/coordinator/src/app.ts).
 */
export class CloserStack {
  private readonly closers: Closer[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly onError: (name: string, err: unknown) => void = () => undefined) {}

  /** Adds the closer of a resource just opened. */
  push(name: string, close: () => Promise<void> | void): void {
    this.closers.push({ name, close });
  }

  /** How many closers are waiting (for tests and the log). */
  get size(): number {
    return this.closers.length;
  }

  /**
   * Closes everything, last opened first. A closer that throws is reported to `onError` and the
   * others still run. Calling it again returns the same promise.
   */
  closeAll(): Promise<void> {
    this.closing ??= (async () => {
      for (let closer = this.closers.pop(); closer; closer = this.closers.pop()) {
        try {
          await closer.close();
        } catch (err) {
          this.onError(closer.name, err);
        }
      }
    })();
    return this.closing;
  }
}
