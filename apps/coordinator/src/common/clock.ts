/** The time source of the coordinator; injected so tests can fix it. */
export abstract class Clock {
  /** Milliseconds since the Unix epoch. */
  abstract nowMs(): number;
}

/** The system clock. */
export class SystemClock extends Clock {
  nowMs(): number {
    return Date.now();
  }
}
