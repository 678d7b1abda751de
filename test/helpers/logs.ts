/**
 * A pino logger whose JSON lines are kept in memory, for tests that assert what is logged.
 */
import { pino, type Logger, type LoggerOptions } from 'pino';

/** One log line, parsed. */
export type LogLine = Record<string, unknown> & { level: number; msg?: string };

export interface CapturedLogger {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  readonly lines: LogLine[];
  /** The raw text written so far (every line, as pino wrote it). */
  text(): string;
}

/** Creates a logger at `level` (default `debug`) that writes into memory; `options` as pino's (e.g. a `mixin`). */
export function captureLogger(level = 'debug', options: LoggerOptions = {}): CapturedLogger {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const logger = pino(
    { ...options, level },
    {
      write(chunk: string) {
        raw.push(chunk);
        for (const line of chunk.split('\n')) if (line.trim()) lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines, text: () => raw.join('') };
}
