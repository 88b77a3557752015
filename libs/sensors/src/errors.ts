/** Thrown when a sensor file exists but this process may not read it (RAPL is root-only since Linux 5.10). */
export class SensorPermissionError extends Error {
  override name = 'SensorPermissionError';
  constructor(
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`permission denied reading ${path}`, options);
  }
}

/** Thrown when a sensor file or a tool's output does not hold what the format promises; names the field. */
export class SensorFormatError extends Error {
  override name = 'SensorFormatError';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** Thrown when a command (nvidia-smi, vcgencmd, trtexec...) cannot be run or fails. */
export class SensorCommandError extends Error {
  override name = 'SensorCommandError';
  constructor(
    readonly command: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${command}: ${message}`, options);
  }
}

/** Thrown when the sensors' configuration (meter command, rates) is invalid; lists every bad key. */
export class SensorConfigError extends Error {
  override name = 'SensorConfigError';
  constructor(readonly issues: string[]) {
    super(`invalid sensor configuration:\n  - ${issues.join('\n  - ')}`);
  }
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
