/**
 * Per-request DataLoaders, one per (table, attribute), derived from the entity definitions.
 * Every lookup of one tick becomes one batch, fetched as requests of `maxBatchSize` keys each
 * (`attr IN :1`) in parallel; the legacy client splits a key list further if a URL would be too long.
 * The port answers the rows of each key (matched as 4D compares): nothing is folded or coerced here.
 */
import DataLoader from 'dataloader';
import type { FetchByKeysOptions, ReadReport } from '../legacy/client-types.js';
import type { LegacyPort } from '../legacy/port.js';
import { attributeOf, attributesOf, decodeRow, readSafely, type EntityDefinition, type EntityModel, type LegacyRow } from './entity.js';
import type { Direction } from './relations.js';

function compareValues(a: unknown, b: unknown): number {
  // Nulls last in either direction: an entry without a date is the least interesting one.
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return String(a).localeCompare(String(b), 'de');
}

/** Sorts models in place by `orderBy` (model fields), then by `id` for a stable order. */
export function sortModels<T extends { id: string }>(models: T[], orderBy: readonly (readonly [string, Direction])[]): T[] {
  return models.sort((x, y) => {
    for (const [field, direction] of orderBy) {
      const a = readSafely(x, field);
      const b = readSafely(y, field);
      if (a === null || a === undefined || b === null || b === undefined) {
        const c = compareValues(a, b);
        if (c !== 0) return c;
        continue;
      }
      const c = compareValues(a, b);
      if (c !== 0) return direction === 'desc' ? -c : c;
    }
    return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
  });
}

export class EntityLoaders {
  private readonly loaders = new Map<string, DataLoader<string, unknown>>();

  /**
   * @param source the port to the ERP (the legacy client, or the caches in front of it)
   * @param maxBatchSize keys per upstream request, fetched in parallel; default 100 (the client
   *   would split a longer key list into more URL-safe requests)
   * @param report what the reads used, for the response cache (passed to every read)
   * @param onBatch called with every batch (loader `byKey:<field>`/`byField:<field>`, table, keys), for metrics; default none
   */
  constructor(
    private readonly source: LegacyPort,
    private readonly maxBatchSize = 100,
    private readonly report?: ReadReport,
    private readonly onBatch?: (loader: string, table: string, size: number) => void,
  ) {}

  /** The loader of `def` entities by `keyField` (`id` or one of its alternate keys). */
  byKey<D extends EntityDefinition>(def: D, keyField: string): DataLoader<string, EntityModel<D> | null> {
    return this.loader(`${def.table}\u0000${keyField}\u0000one`, (keys) => this.batchOne(def, keyField, keys), `byKey:${keyField}`, def.table) as DataLoader<
      string,
      EntityModel<D> | null
    >;
  }

  /** The loader of every `def` entity whose `field` equals the key, sorted by `orderBy`. */
  byField<D extends EntityDefinition>(
    def: D,
    field: string,
    orderBy: readonly (readonly [string, Direction])[],
  ): DataLoader<string, EntityModel<D>[]> {
    const id = `${def.table}\u0000${field}\u0000many\u0000${JSON.stringify(orderBy)}`;
    return this.loader(id, (keys) => this.batchMany(def, field, orderBy, keys), `byField:${field}`, def.table) as DataLoader<string, EntityModel<D>[]>;
  }

  /** Puts a freshly read or saved entity into every key loader of its type. */
  prime<D extends EntityDefinition>(def: D, model: EntityModel<D>, options: { replace?: boolean } = {}): void {
    for (const keyField of ['id', ...def.alternateKeys]) {
      const value = readSafely(model, keyField);
      if (value === null || value === undefined) continue;
      const loader = this.byKey(def, keyField);
      if (options.replace) loader.clear(String(value));
      loader.prime(String(value), model);
    }
  }

  /** Forgets every cached 1→N list (after a write that may move entities between parents). */
  clearLists(): void {
    for (const [id, loader] of this.loaders) if (id.includes('\u0000many\u0000')) loader.clearAll();
  }

  private loader(id: string, batch: (keys: readonly string[]) => Promise<unknown[]>, name: string, table: string): DataLoader<string, unknown> {
    let loader = this.loaders.get(id);
    if (!loader) {
      // One batch per tick with every key; `fetch` splits it into requests of `maxBatchSize` keys
      // awaited together, so the next relation level again starts from a single tick.
      const { onBatch } = this;
      loader = new DataLoader<string, unknown>(
        onBatch
          ? (keys) => {
              try {
                onBatch(name, table, keys.length);
              } catch {
                // A metrics callback must never break a read.
              }
              return batch(keys);
            }
          : batch,
      );
      this.loaders.set(id, loader);
    }
    return loader;
  }

  /** The rows of each key (the port matches keys as 4D compares), in chunks of `maxBatchSize` fetched together. */
  private async fetch(def: EntityDefinition, attribute: string, keys: readonly string[]): Promise<LegacyRow[][]> {
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += this.maxBatchSize) chunks.push(keys.slice(i, i + this.maxBatchSize));
    const options: FetchByKeysOptions = { attributes: attributesOf(def), report: this.report };
    const results = await Promise.all(
      chunks.map(async (chunk) => {
        const perKey = await this.source.fetchByKeys(def.table, attribute, chunk, options);
        // Rows are assigned to keys by position: a misaligned answer must not give one key another's rows.
        if (perKey.length !== chunk.length) throw new Error(`fetchByKeys(${def.table}.${attribute}) answered ${perKey.length} lists for ${chunk.length} keys`);
        return perKey;
      }),
    );
    return results.flat() as LegacyRow[][];
  }

  private decode<D extends EntityDefinition>(def: D, row: LegacyRow): EntityModel<D> | Error {
    try {
      const model = decodeRow(def, row);
      this.prime(def, model);
      return model;
    } catch (err) {
      return err as Error;
    }
  }

  private async batchOne<D extends EntityDefinition>(def: D, keyField: string, keys: readonly string[]): Promise<(EntityModel<D> | null | Error)[]> {
    const perKey = await this.fetch(def, attributeOf(def, keyField), keys);
    return perKey.map((rows) => (rows[0] ? this.decode(def, rows[0]) : null));
  }

  private async batchMany<D extends EntityDefinition>(
    def: D,
    field: string,
    orderBy: readonly (readonly [string, Direction])[],
    keys: readonly string[],
  ): Promise<(EntityModel<D>[] | Error)[]> {
    const perKey = await this.fetch(def, attributeOf(def, field), keys);
    return perKey.map((rows) => {
      const models: EntityModel<D>[] = [];
      for (const row of rows) {
        const model = this.decode(def, row);
        if (model instanceof Error) return model;
        models.push(model);
      }
      return sortModels(models, orderBy);
    });
  }
}
