/**
 * Per-request DataLoaders, one per (table, attribute), derived from the entity definitions.
 * Every lookup of one tick becomes one batch, fetched as requests of `maxBatchSize` keys each
 * (`attr IN :1`) in parallel; the legacy client splits a key list further if a URL would be too long.
 */
import DataLoader from 'dataloader';
import { findAttribute, findTable } from '../legacy/tables.js';
import { attributeOf, attributesOf, decodeRow, readSafely, type EntityDefinition, type EntityModel, type LegacyRow } from './entity.js';
import type { Direction } from './relations.js';

/** What the loaders need from the legacy client. */
export interface EntitySource {
  fetchByKeys(table: string, attribute: string, values: readonly (string | number)[], options?: { attributes?: readonly string[] }): Promise<LegacyRow[]>;
}

/** 4D compares text case- and accent-insensitively; match a row back to its key the same way. */
export function foldKey(value: unknown): string {
  return String(value).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/ß/g, 'ss');
}

/** Loader keys are strings; numeric attributes need numbers in the filter. `undefined`: cannot match. */
function toParam(numeric: boolean, key: string): string | number | undefined {
  if (numeric) {
    const n = Number(key);
    return key.trim() !== '' && Number.isFinite(n) ? n : undefined;
  }
  return key;
}

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
   * @param source the legacy client (or anything that can batch-fetch rows by key)
   * @param maxBatchSize keys per upstream request, fetched in parallel; default 100 (the client
   *   would split a longer key list into more URL-safe requests)
   */
  constructor(
    private readonly source: EntitySource,
    private readonly maxBatchSize = 100,
  ) {}

  /** The loader of `def` entities by `keyField` (`id` or one of its alternate keys). */
  byKey<D extends EntityDefinition>(def: D, keyField: string): DataLoader<string, EntityModel<D> | null> {
    return this.loader(`${def.table}\u0000${keyField}\u0000one`, (keys) => this.batchOne(def, keyField, keys)) as DataLoader<
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
    return this.loader(id, (keys) => this.batchMany(def, field, orderBy, keys)) as DataLoader<string, EntityModel<D>[]>;
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

  private loader(id: string, batch: (keys: readonly string[]) => Promise<unknown[]>): DataLoader<string, unknown> {
    let loader = this.loaders.get(id);
    if (!loader) {
      // One batch per tick with every key; `fetch` splits it into requests of `maxBatchSize` keys
      // awaited together, so the next relation level again starts from a single tick.
      loader = new DataLoader<string, unknown>(batch);
      this.loaders.set(id, loader);
    }
    return loader;
  }

  private async fetch(def: EntityDefinition, attribute: string, keys: readonly string[]): Promise<LegacyRow[]> {
    const type = findAttribute(findTable(def.table)!, attribute)?.type;
    const numeric = type === 'long' || type === 'number';
    const params = keys.map((k) => toParam(numeric, k)).filter((p): p is string | number => p !== undefined);
    if (params.length === 0) return [];
    const chunks: (string | number)[][] = [];
    for (let i = 0; i < params.length; i += this.maxBatchSize) chunks.push(params.slice(i, i + this.maxBatchSize));
    const attributes = attributesOf(def);
    const results = await Promise.all(chunks.map((chunk) => this.source.fetchByKeys(def.table, attribute, chunk, { attributes })));
    // Keys that differ only in case or accents match the same rows (4D's text comparison); in
    // different chunks they would bring a row twice.
    const seen = new Set<string>();
    return results.flat().filter((row) => !seen.has(row.__KEY) && Boolean(seen.add(row.__KEY)));
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
    const attribute = attributeOf(def, keyField);
    const rows = await this.fetch(def, attribute, keys);
    const exact = new Map<string, LegacyRow>();
    const folded = new Map<string, LegacyRow>();
    for (const row of rows) {
      const value = row[attribute];
      if (value === null || value === undefined) continue;
      if (!exact.has(String(value))) exact.set(String(value), row);
      if (!folded.has(foldKey(value))) folded.set(foldKey(value), row);
    }
    return keys.map((key) => {
      const row = exact.get(key) ?? folded.get(foldKey(key));
      return row ? this.decode(def, row) : null;
    });
  }

  private async batchMany<D extends EntityDefinition>(
    def: D,
    field: string,
    orderBy: readonly (readonly [string, Direction])[],
    keys: readonly string[],
  ): Promise<(EntityModel<D>[] | Error)[]> {
    const attribute = attributeOf(def, field);
    const rows = await this.fetch(def, attribute, keys);
    const groups = new Map<string, EntityModel<D>[]>();
    const failures = new Map<string, Error>();
    for (const row of rows) {
      const group = foldKey(row[attribute]);
      const model = this.decode(def, row);
      if (model instanceof Error) {
        failures.set(group, model);
        continue;
      }
      const list = groups.get(group) ?? [];
      list.push(model);
      groups.set(group, list);
    }
    return keys.map((key) => failures.get(foldKey(key)) ?? sortModels(groups.get(foldKey(key)) ?? [], orderBy));
  }
}
