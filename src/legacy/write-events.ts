/**
 * The write events of one client (see {@link WriteEvent}): every writer (GraphQL, the command line,
 * the compatibility module) writes through the client, so a cache subscribed here sees every write.
 */
import type { Logger } from 'pino';
import { writeTags, type Row, type WriteEvent } from './client-types.js';
import type { WriteListener } from './port.js';

export class WriteEvents {
  private readonly listeners = new Set<WriteListener>();

  constructor(private readonly log: Logger) {}

  /** Adds `listener`; returns the function that removes it. */
  subscribe(listener: WriteListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Tells every listener and waits until each settled, so a cache is invalidated before the writer
   * sees the result. Tags: {@link writeTags} (record tags only for a `conflict`); rows only for
   * `saved`. A listener that throws or rejects is logged at warn, never breaks or changes the write.
   */
  async emit(environment: string, table: string, keys: readonly string[], outcome: WriteEvent['outcome'], rows?: readonly Row[]): Promise<void> {
    if (keys.length === 0 || this.listeners.size === 0) return;
    const event: WriteEvent = {
      environment,
      table,
      keys: [...keys],
      outcome,
      tags: writeTags(table, keys, outcome === 'conflict'),
      ...(rows && outcome === 'saved' ? { rows } : {}),
    };
    const settled = await Promise.allSettled([...this.listeners].map(async (listener) => listener(event)));
    for (const result of settled) {
      if (result.status === 'fulfilled') continue;
      const error = result.reason as unknown;
      this.log.warn({ err: error instanceof Error ? error.message : String(error), table, outcome }, 'write listener failed');
    }
  }
}
