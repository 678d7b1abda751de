/**
 * The one port through which the GraphQL mapping reaches the ERP. The legacy client implements it,
 * and so does the cache in front of it (`src/cache/`), which wraps a port and is a port itself.
 * Everything 4D-specific about matching keys (case and accent folding, numeric coercion) happens
 * behind this port, so a caller asks by key and gets the rows of each key back.
 */
import type {
  BulkUpdateItem,
  BulkUpdateOptions,
  CallOptions,
  FetchByKeysOptions,
  FetchRecordOptions,
  FetchTableOptions,
  Page,
  Row,
  WriteEvent,
} from './client-types.js';

export interface LegacyPort {
  /**
   * The rows of each key, in the order of `keys` (one array per key, `[]` when nothing matched):
   * every row whose `attribute` equals the key as 4D compares (text case- and accent-insensitively,
   * `ß` as `ss`; a key that is not a number matches nothing on a numeric attribute, without a request).
   */
  fetchByKeys(table: string, attribute: string, keys: readonly string[], options?: FetchByKeysOptions): Promise<Row[][]>;
  /** One page of `table` (`$filter`, `$orderby`, `$top`, `$skip`), with `__COUNT`. */
  fetchTable(table: string, options?: FetchTableOptions): Promise<Page>;
  /** One record by `__KEY`, `null` when it does not exist. */
  fetchRecord(table: string, key: string, options?: FetchRecordOptions): Promise<Row | null>;
  /** Saves `changes` if the record still has `stamp`; resolves with the saved record. */
  update(table: string, key: string, stamp: number, changes: Record<string, unknown>, options?: CallOptions): Promise<Row>;
  /** Saves many records of one table in one request (`$atomic` by default). */
  bulkUpdate(table: string, items: readonly BulkUpdateItem[], options?: BulkUpdateOptions): Promise<Row[]>;
  /**
   * Subscribes to the write events every writer emits (GraphQL, command line, compatibility module);
   * returns the function that unsubscribes. A listener may return a promise: the write resolves
   * only after it settled, so a cache is invalidated before the caller sees the result.
   */
  subscribeWrites(listener: WriteListener): () => void;
}

export type WriteListener = (event: WriteEvent) => void | Promise<void>;
