/**
 * Where the command line writes when it runs as a program: stdout with backpressure (a slow reader
 * holds the pull back instead of filling memory) and a reader that went away (`| head`: EPIPE) ends
 * the command quietly; plus the progress line on a terminal's stderr.
 */
import type { Writable } from 'node:stream';

/** stdout was closed by its reader: stop, release what is held, exit 0 without a word. */
export class OutputClosedError extends Error {
  override name = 'OutputClosedError';
  constructor() {
    super('standard output was closed by its reader');
  }
}

/**
 * `write(text)` for `stream`: resolves once the text is handed to the system (waiting for a drain
 * when the reader is behind), rejects with {@link OutputClosedError} once the reader has gone. Any
 * other write error rejects as it is.
 */
export function streamWriter(stream: Writable): (text: string) => Promise<void> {
  let failure: Error | undefined;
  const waiting = new Set<(error?: Error) => void>();
  stream.on('error', (error: NodeJS.ErrnoException) => {
    failure = error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED' ? new OutputClosedError() : error;
    for (const settle of waiting) settle(failure);
  });
  const settleOn = (event: 'drain' | 'tick') =>
    new Promise<void>((resolve, reject) => {
      const settle = (error?: Error) => {
        waiting.delete(settle);
        if (error) reject(error);
        else resolve();
      };
      waiting.add(settle);
      if (event === 'drain') stream.once('drain', () => settle(failure));
      // An EPIPE is reported after the write returns: give it a turn before the next page is asked for.
      else setImmediate(() => settle(failure));
    });
  return (text) => {
    const written = failure ? Promise.reject(failure) : settleOn(stream.write(text) ? 'tick' : 'drain');
    // Callers that do not wait (short commands) must not turn a closed reader into an unhandled rejection.
    written.catch(() => undefined);
    return written;
  };
}

/** The progress line on a terminal: `rows so far / total`, rewritten in place, ended by `done()`. */
export function progressLine(write: (text: string) => void, enabled: boolean) {
  let shown = false;
  return {
    update(rows: number, total: number) {
      if (!enabled) return;
      shown = true;
      write(`\r\x1b[2Kwsz: ${rows} / ${total} rows`);
    },
    done() {
      if (shown) write('\n');
      shown = false;
    },
  };
}
