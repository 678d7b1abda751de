/**
 * Per-request DataLoaders, one per (table, key attribute), derived from the entity definitions.
 * Every key lookup of one tick becomes one batched upstream request (`attr IN :1`), which the
 * legacy client splits into URL-safe chunks.
 */
import DataLoader from 'dataloader';
import { attributesOf, decodeRow, keyAttribute, type EntityDefinition, type EntityModel, type LegacyRow } from './entity.js';

/** What the loaders need from the legacy client. */
export interface EntitySource {
  fetchByKeys(table: string, attribute: string, values: readonly (string | number)[], options?: { attributes?: string[] }): Promise<LegacyRow[]>;
}

/** 4D compares text case- and accent-insensitively; match a row back to its key the same way. */
function foldKey(value: unknown): string {
  return String(value).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

export class EntityLoaders {
  private readonly loaders = new Map<string, DataLoader<string, unknown>>();

  /**
   * @param source the legacy client (or anything that can batch-fetch rows by key)
   * @param maxBatchSize keys per batch function call; default 500 (the client chunks URLs further)
   */
  constructor(
    private readonly source: EntitySource,
    private readonly maxBatchSize = 500,
  ) {}

  /** The loader of `def` entities by `keyField` (`id` or one of its alternate keys). */
  byKey<D extends EntityDefinition>(def: D, keyField: 'id' | D['alternateKeys'][number]): DataLoader<string, EntityModel<D> | null> {
    const attribute = keyAttribute(def, keyField);
    const cacheKey = `${def.table}\u0000${attribute}`;
    let loader = this.loaders.get(cacheKey);
    if (!loader) {
      loader = new DataLoader<string, unknown>((keys) => this.batch(def, keyField, attribute, keys), {
        maxBatchSize: this.maxBatchSize,
      });
      this.loaders.set(cacheKey, loader);
    }
    return loader as DataLoader<string, EntityModel<D> | null>;
  }

  /** Puts a freshly saved entity into every key loader of its type (after a mutation). */
  prime<D extends EntityDefinition>(def: D, model: EntityModel<D>): void {
    for (const keyField of ['id', ...def.alternateKeys]) {
      const value = (model as Record<string, unknown>)[keyField];
      if (value === null || value === undefined) continue;
      this.byKey(def, keyField).clear(String(value)).prime(String(value), model);
    }
  }

  private async batch<D extends EntityDefinition>(
    def: D,
    keyField: string,
    attribute: string,
    keys: readonly string[],
  ): Promise<(EntityModel<D> | null | Error)[]> {
    const rows = await this.source.fetchByKeys(def.table, attribute, keys, { attributes: attributesOf(def) });
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
      if (!row) return null;
      try {
        const model = decodeRow(def, row);
        // Prime the other key loaders so a later lookup of the same entity by another key is free.
        for (const other of ['id', ...def.alternateKeys]) {
          if (other === keyField) continue;
          const v = (model as Record<string, unknown>)[other];
          if (v !== null && v !== undefined) this.byKey(def, other).prime(String(v), model);
        }
        return model;
      } catch (err) {
        return err as Error;
      }
    });
  }
}
