import type { LoggerService, LogLevel } from '@nestjs/common';

/** Levels of {@link JsonLogger}, most severe first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** One of {@link LOG_LEVELS}. */
export type CoordinatorLogLevel = (typeof LOG_LEVELS)[number];

/** Nest's own start-up chatter (one line per module and route), logged at debug instead of info. */
const NEST_START_UP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/**
 * Nest logger writing one JSON object per line to stderr, so stdout carries only the
 * coordinator's `ready` line.
 */
export class JsonLogger implements LoggerService {
  private readonly threshold: number;

  constructor(
    level: CoordinatorLogLevel = 'info',
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.emit('info', message, rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.emit('error', message, rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.emit('warn', message, rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.emit('debug', message, rest);
  }

  /** Nest calls this with its own level names; the threshold given at construction wins. */
  setLogLevels(_levels: LogLevel[]): void {
    return undefined;
  }

  private emit(requested: CoordinatorLogLevel, message: unknown, rest: unknown[]): void {
    // Nest passes the context last, and for errors a stack before it.
    const context = typeof rest[rest.length - 1] === 'string' ? (rest[rest.length - 1] as string) : undefined;
    const level = requested === 'info' && context !== undefined && NEST_START_UP_CONTEXTS.has(context) ? 'debug' : requested;
    if (LOG_LEVELS.indexOf(level) > this.threshold) return;
    const stack = level === 'error' && rest.length >= 2 && typeof rest[0] === 'string' ? rest[0] : undefined;
    const text = message instanceof Error ? message.message : typeof message === 'string' ? message : JSON.stringify(message);
    this.write(`${JSON.stringify({ time: new Date().toISOString(), level, ...(context ? { context } : {}), message: text, ...(stack ? { stack } : {}) })}\n`);
  }
}
