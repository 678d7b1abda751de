/**
 * The process logger: JSON lines (one object per line) in production, pino-pretty in development
 * on a terminal (`LOG_FORMAT` decides when set), and the request id of the request being served
 * in every line (see `request-scope.ts`).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { requestLogFields } from './request-scope.js';

/** `auto`: pretty when not production and stdout is a terminal; else JSON. */
export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerOptions {
  readonly level: string;
  readonly format: LogFormat;
  readonly production: boolean;
  /** Paths pino replaces with `[redacted]` before writing. */
  readonly redact: readonly string[];
  /** Where lines go; default stdout (tests pass a stream). Ignored for `pretty`. */
  readonly destination?: DestinationStream;
  /** Whether stdout is a terminal; default `process.stdout.isTTY`. */
  readonly tty?: boolean;
}

/** Whether `options` asks for pino-pretty. */
export function isPretty(options: Pick<LoggerOptions, 'format' | 'production' | 'tty'>): boolean {
  if (options.format !== 'auto') return options.format === 'pretty';
  return !options.production && (options.tty ?? Boolean(process.stdout.isTTY));
}

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    redact: { paths: [...options.redact], censor: '[redacted]' },
    mixin: requestLogFields,
  };
  if (isPretty(options)) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}
