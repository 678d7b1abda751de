/**
 * The write events of one client (see {@link WriteEvent}): every writer (GraphQL, the command line,
 * the compatibility module) writes through the client, so a cache subscribed here sees every write.
 *
 * Audit listeners ({@link AuditListener}) see the same events plus the field names written, and an
 * `error` event for every key of a write that failed without a saved/conflict/unknown event (a bad
 * value, a refusal by 4D, a write that was not saved): {@link WriteEvents.audited} wraps one write.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { writeTags, type Row, type WriteEvent } from './client-types.js';
import type { WriteListener } from './port.js';

/** A write as the audit log sees it. */
export interface AuditEvent {
  readonly environment: string;
  readonly table: string;
  readonly keys: readonly string[];
  readonly outcome: WriteEvent['outcome'] | 'error';
  /** Names of the fields written (never their values). */
  readonly fields: readonly string[];
  /** For `error`: the error's class (its message may quote values). */
  readonly error?: string;
}

export type AuditListener = (event: AuditEvent) => void;

/** The write in progress: its fields and the keys that already had an event. */
interface WriteScope {
  readonly fields: readonly string[];
  readonly reported: Set<string>;
}

export class WriteEvents {
  private readonly listeners = new Set<WriteListener>();
  private readonly auditors = new Set<AuditListener>();
  private readonly scope = new AsyncLocalStorage<WriteScope>();

  /** Adds an audit listener (called synchronously; a throw is logged); returns the function that removes it. */
  subscribeAudit(listener: AuditListener): () => void {
    this.auditors.add(listener);
    return () => {
      this.auditors.delete(listener);
    };
  }

  /**
   * Runs one write (`update`, `bulkUpdate`, `pushField`) of `keys` setting `fields`: its events carry
   * the field names, and if it fails, the keys without an event get an `error` audit event. Nested
   * calls (pushField's update) belong to the outer write.
   */
  async audited<T>(environment: string, table: string, keys: readonly unknown[], fields: readonly string[], write: () => Promise<T>): Promise<T> {
    if (this.scope.getStore()) return write();
    const scope: WriteScope = { fields: [...new Set(fields)], reported: new Set() };
    return this.scope.run(scope, async () => {
      try {
        return await write();
      } catch (error) {
        const missing = keys.map((k) => String(k)).filter((k) => !scope.reported.has(k));
        const name = error instanceof Error ? error.name : 'Error';
        if (missing.length) this.audit({ environment, table, keys: missing, outcome: 'error', fields: scope.fields, error: name });
        throw error;
      }
    });
  }

  private audit(event: AuditEvent): void {
    for (const listener of this.auditors) {
      try {
        listener(event);
      } catch (error) {
        this.log.warn({ err: error instanceof Error ? error.message : String(error), table: event.table }, 'audit listener failed');
      }
    }
  }

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
    if (keys.length === 0) return;
    const scope = this.scope.getStore();
    for (const key of keys) scope?.reported.add(key);
    if (this.auditors.size) this.audit({ environment, table, keys: [...keys], outcome, fields: scope?.fields ?? [] });
    if (this.listeners.size === 0) return;
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
