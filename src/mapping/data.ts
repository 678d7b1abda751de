/**
 * Per-request data access for the resolvers: lookups by key, relations, paged lists and writes,
 * all derived from the entity definitions. Resolvers call this; it calls the port to the ERP
 * (the legacy client, or the caches in front of it).
 */
import { LegacyNotFoundError, LegacyStampConflictError } from '../legacy/errors.js';
import { validateChange, type OrderBy, type ReadReport } from '../legacy/index.js';
import type { LegacyPort } from '../legacy/port.js';
import { findTable } from '../legacy/tables.js';
import { ENTITIES } from './entities.js';
import { attributeOf, attributesOf, decodeRow, publicValues, type EntityDefinition, type EntityModel, type LegacyRow } from './entity.js';
import { EntityNotFoundError, InputError, StaleStampError } from './errors.js';
import { nameFilterFields, toLegacyFilter } from './filters.js';
import { EntityLoaders } from './loaders.js';
import type { BelongsTo, HasMany } from './relations.js';

/** Arguments of a paged list (`products(filter:, orderBy:, first:, after:)`). */
export interface ListArgs {
  filter?: Record<string, unknown> | null;
  orderBy?: ReadonlyArray<{ field: string; direction?: 'ASC' | 'DESC' | null }> | null;
  first?: number | null;
  after?: string | null;
}

export interface Connection<T> {
  totalCount: number;
  edges: Array<{ cursor: string; node: T }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export interface DataAccessOptions {
  /** Keys per upstream request of a loader; default 100. */
  maxBatchSize?: number;
  /** Largest `first` a list accepts; default 100. */
  maxPageSize?: number;
  /** Filled by the caches with what the reads used (for the response cache); default none. */
  report?: ReadReport;
  /** Called with every DataLoader batch (loader, table, keys), for metrics; default none. */
  onBatch?: (loader: string, table: string, size: number) => void;
}

function encodeCursor(typename: string, offset: number): string {
  return Buffer.from(`${typename}:${offset}`, 'utf8').toString('base64url');
}

function decodeCursor(typename: string, cursor: string, argument: string): number {
  const match = /^(\w+):(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match || match[1] !== typename || encodeCursor(typename, Number(match[2])) !== cursor) {
    throw new InputError(`${argument} is not a ${typename} cursor: ${JSON.stringify(cursor)}`);
  }
  return Number(match[2]);
}

/** Checks `first` and `after` of a page; returns how many to take and where to start. */
export function pageArgs(typename: string, args: { first?: number | null; after?: string | null }, maxPageSize: number) {
  return { first: checkFirst(args.first, maxPageSize), start: args.after ? decodeCursor(typename, args.after, 'after') + 1 : 0 };
}

/** Slices an in-memory list like a paged list (used for 1→N connections such as `salesRecords`). */
export function connectionFromList<T>(typename: string, items: readonly T[], page: { first: number; start: number }): Connection<T> {
  return toConnection(typename, items.slice(page.start, page.start + page.first), page.start, items.length);
}

function checkFirst(first: number | null | undefined, maxPageSize: number): number {
  const value = first ?? 20;
  if (!Number.isInteger(value) || value < 0 || value > maxPageSize) {
    throw new InputError(`first must be between 0 and ${maxPageSize}, got ${value}`);
  }
  return value;
}

function toConnection<T>(typename: string, nodes: readonly T[], start: number, total: number): Connection<T> {
  const edges = nodes.map((node, i) => ({ cursor: encodeCursor(typename, start + i), node }));
  return {
    totalCount: total,
    edges,
    pageInfo: {
      hasNextPage: start + nodes.length < total,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

export class DataAccess {
  readonly loaders: EntityLoaders;
  readonly maxPageSize: number;
  /**
   * Pages read in this request, by table, filter, order and page: identical list calls of one
   * operation (aliases, fragments) share one upstream request, as key lookups share a loader.
   */
  private readonly pages = new Map<string, ReturnType<LegacyPort['fetchTable']>>();
  private readonly report?: ReadReport;

  constructor(
    private readonly client: LegacyPort,
    options: DataAccessOptions = {},
  ) {
    this.loaders = new EntityLoaders(client, options.maxBatchSize, options.report, options.onBatch);
    this.maxPageSize = options.maxPageSize ?? 100;
    this.report = options.report;
  }

  /** One entity by `id` or an alternate key; `null` when there is none. */
  byKey<D extends EntityDefinition>(def: D, keyField: string, value: string | number): Promise<EntityModel<D> | null> {
    return this.loaders.byKey(def, keyField).load(String(value));
  }

  /** The N→1 target of `parent`; `null` when the reference is empty or points nowhere. */
  async belongsTo<D extends EntityDefinition>(relation: BelongsTo<D>, parent: Record<string, unknown>): Promise<EntityModel<D> | null> {
    const value = parent[relation.from];
    if (value === null || value === undefined || value === '') return null;
    return this.byKey(relation.target, relation.to, value as string);
  }

  /** The 1→N children of `parent`, sorted as the relation says. */
  async hasMany<D extends EntityDefinition>(relation: HasMany<D>, parent: Record<string, unknown>): Promise<EntityModel<D>[]> {
    const value = parent[relation.from];
    if (value === null || value === undefined || value === '') return [];
    return this.loaders.byField(relation.target, relation.to, relation.orderBy).load(String(value));
  }

  /** A page of `def` entities: one upstream request (`$filter`, `$orderby`, `$top`, `$skip`). */
  async list<D extends EntityDefinition>(def: D, args: ListArgs): Promise<Connection<EntityModel<D>>> {
    const { first, start: skip } = pageArgs(def.typename, args, this.maxPageSize);
    const filter = toLegacyFilter(def, args.filter ?? undefined);
    const orderBy: Array<[string, 'asc' | 'desc']> = [];
    for (const { field, direction } of args.orderBy ?? []) {
      const modelField = def.orderFields[field];
      if (!modelField) throw new InputError(`orderBy: ${def.typename} cannot be sorted by ${field}`);
      orderBy.push([attributeOf(def, modelField), direction === 'DESC' ? 'desc' : 'asc']);
    }
    for (const field of def.defaultOrder) {
      const attribute = attributeOf(def, field);
      if (!orderBy.some(([a]) => a === attribute)) orderBy.push([attribute, 'asc']);
    }
    // $top=0 means "the default" to 4D; ask for one row and drop it when only the count is wanted.
    const top = Math.max(first, 1);
    const key = JSON.stringify([def.table, filter ?? null, orderBy, top, skip]);
    let pending = this.pages.get(key);
    if (!pending) {
      pending = this.client.fetchTable(def.table, { filter, orderBy: orderBy as OrderBy, top, skip, attributes: attributesOf(def), report: this.report }).catch((err: unknown) => {
        throw nameFilterFields(def, err);
      });
      this.pages.set(key, pending);
    }
    const page = await pending;
    const models = page.rows.slice(0, first).map((row) => {
      const model = decodeRow(def, row as LegacyRow);
      this.loaders.prime(def, model);
      return model;
    });
    return toConnection(def.typename, models, skip, page.total);
  }

  /**
   * Updates one entity if its stamp is still `expectedStamp`. The input is checked and encoded
   * before any request; inputs that rewrite an attribute from its current value (prices) read the
   * entity first. A stale stamp becomes a {@link StaleStampError} with the current values.
   */
  async update<D extends EntityDefinition>(def: D, id: string, expectedStamp: number, input: Record<string, unknown>): Promise<EntityModel<D>> {
    const { changes, virtual } = this.encodeInput(def, input, 'input');
    if (virtual.length > 0) {
      // Straight from 4D (`fresh`): the value rewritten and the stamp checked must be current.
      const current = await this.client.fetchRecord(def.table, id, { attributes: attributesOf(def), fresh: true });
      if (!current) throw new EntityNotFoundError(`${def.typename} ${JSON.stringify(id)} does not exist`);
      if (current.__STAMP !== expectedStamp) throw this.stale(def, id, expectedStamp, current.__STAMP, current as LegacyRow);
      this.applyVirtual(def, changes, virtual, current as LegacyRow, 'input');
    }
    let saved: LegacyRow;
    try {
      saved = (await this.client.update(def.table, id, expectedStamp, changes)) as LegacyRow;
    } catch (err) {
      throw this.writeError(err, def, def.typename, id, expectedStamp);
    }
    return this.remember(def, saved);
  }

  /**
   * Updates many entities of one type in one upstream request, all or nothing (`$atomic`).
   * Every input is checked before any request; a duplicate `id` is refused.
   */
  async bulkUpdate<D extends EntityDefinition>(
    def: D,
    items: ReadonlyArray<{ id: string; expectedStamp: number; input: Record<string, unknown> }>,
  ): Promise<EntityModel<D>[]> {
    if (items.length === 0) return [];
    const seen = new Set<string>();
    const encoded = items.map((item, i) => {
      if (seen.has(item.id)) throw new InputError(`items[${i}].id ${JSON.stringify(item.id)} appears more than once`);
      seen.add(item.id);
      return { ...item, ...this.encodeInput(def, item.input, `items[${i}].input`) };
    });
    const needCurrent = encoded.filter((e) => e.virtual.length > 0);
    if (needCurrent.length > 0) {
      const perKey = await this.client.fetchByKeys(def.table, '__KEY', needCurrent.map((e) => e.id), { attributes: attributesOf(def), fresh: true });
      const byKey = new Map(perKey.flat().map((r) => [r.__KEY, r as LegacyRow]));
      for (const e of needCurrent) {
        const current = byKey.get(e.id);
        if (!current) throw new EntityNotFoundError(`${def.typename} ${JSON.stringify(e.id)} does not exist; nothing was saved`);
        if (current.__STAMP !== e.expectedStamp) throw this.stale(def, e.id, e.expectedStamp, current.__STAMP, current);
        this.applyVirtual(def, e.changes, e.virtual, current, `items[${encoded.indexOf(e)}].input`);
      }
    }
    const saved = await this.client.bulkUpdate(
      def.table,
      encoded.map((e) => ({ key: e.id, stamp: e.expectedStamp, changes: e.changes })),
      { atomic: true },
    );
    return saved.map((row) => this.remember(def, row as LegacyRow));
  }

  /**
   * The `push_data` equivalent: writes one legacy attribute that the mapping declares writable.
   * With `expectedStamp`, the write is based on that stamp; without it, on the stamp read just
   * before. Either way a change saved in between fails with a stale stamp: never overwritten.
   */
  async setLegacyField(table: string, key: string, field: string, value: unknown, expectedStamp?: number | null) {
    const def = Object.values(ENTITIES).find((d) => d.table === table) as EntityDefinition | undefined;
    if (!def) {
      const known = findTable(table) ? `table ${table} is not mapped` : `unknown table ${JSON.stringify(table)}`;
      throw new InputError(`${known}; mapped tables: ${[...new Set(Object.values(ENTITIES).map((d) => d.table))].join(', ')}`);
    }
    const writable = Object.values(def.fields).filter((f) => f.writable);
    const mapped = writable.find((f) => f.attribute === field);
    if (!mapped) {
      throw new InputError(`${table}.${field} is not a writable mapped attribute; writable: ${writable.map((f) => f.attribute).join(', ') || '(none)'}`);
    }
    // The same codec as the typed mutations: money with more than two places is refused, not stored.
    let encoded: unknown;
    try {
      encoded = mapped.codec.encode(value);
    } catch (err) {
      throw new InputError(`value for ${table}.${field}: ${(err as Error).message}`);
    }
    // The type check the client makes on update, done now: nothing is read for a value it would refuse.
    validateChange(table, field, encoded);
    let saved: LegacyRow;
    try {
      let stamp = expectedStamp;
      if (stamp === null || stamp === undefined) {
        const current = await this.client.fetchRecord(table, key, { attributes: [field], fresh: true });
        if (!current) throw new EntityNotFoundError(`${table} ${JSON.stringify(key)} does not exist`);
        stamp = current.__STAMP;
      }
      expectedStamp = stamp;
      saved = (await this.client.update(table, key, stamp, { [field]: encoded })) as LegacyRow;
    } catch (err) {
      throw this.writeError(err, def, table, key, expectedStamp ?? -1);
    }
    if (Object.values(def.fields).every((f) => f.attribute in saved)) this.remember(def, saved);
    return { table, key, field, value: saved[field] ?? null, stamp: saved.__STAMP };
  }

  private remember<D extends EntityDefinition>(def: D, row: LegacyRow): EntityModel<D> {
    const model = decodeRow(def, row);
    this.loaders.prime(def, model, { replace: true });
    this.loaders.clearLists();
    this.pages.clear();
    return model;
  }

  /** A failed write in GraphQL terms: a stale stamp with the current values, or a missing entity (`what` names it). */
  private writeError(err: unknown, def: EntityDefinition, what: string, key: string, sent: number): unknown {
    if (err instanceof LegacyStampConflictError) {
      return this.stale(def, key, sent, err.currentStamp, { __KEY: key, __STAMP: err.currentStamp ?? -1, ...err.currentValues } as LegacyRow);
    }
    if (err instanceof LegacyNotFoundError) return new EntityNotFoundError(`${what} ${JSON.stringify(key)} does not exist`);
    return err;
  }

  private stale(def: EntityDefinition, id: string, sent: number, currentStamp: number | undefined, current: LegacyRow): StaleStampError {
    const values = publicValues(def, decodeRow(def, current));
    return new StaleStampError(
      `${def.typename} ${JSON.stringify(id)} was changed by someone else: expected stamp ${sent}, current stamp ${currentStamp ?? 'unknown'}; nothing was saved`,
      currentStamp,
      values,
    );
  }

  private encodeInput(def: EntityDefinition, input: Record<string, unknown>, path: string) {
    const changes: Record<string, unknown> = {};
    const virtual: Array<[string, unknown]> = [];
    for (const [name, value] of Object.entries(input)) {
      if (value === undefined) continue;
      if (def.virtualInputs[name]) {
        try {
          def.virtualInputs[name].apply(null, value); // validates the value before any request
        } catch (err) {
          throw new InputError(`${path}.${name}: ${(err as Error).message}`);
        }
        virtual.push([name, value]);
        continue;
      }
      const f = def.fields[name];
      if (!f || !f.writable) {
        const writable = [...Object.entries(def.fields).filter(([, d]) => d.writable).map(([n]) => n), ...Object.keys(def.virtualInputs)];
        throw new InputError(`${path}.${name} is not a writable field of ${def.typename}; writable: ${writable.join(', ')}`);
      }
      try {
        changes[f.attribute] = f.codec.encode(value);
      } catch (err) {
        throw new InputError(`${path}.${name}: ${(err as Error).message}`);
      }
    }
    if (Object.keys(changes).length === 0 && virtual.length === 0) throw new InputError(`${path} must change at least one field`);
    return { changes, virtual };
  }

  private applyVirtual(def: EntityDefinition, changes: Record<string, unknown>, virtual: Array<[string, unknown]>, current: LegacyRow, path: string): void {
    for (const [name, value] of virtual) {
      const { attribute, apply } = def.virtualInputs[name];
      try {
        changes[attribute] = apply(attribute in changes ? changes[attribute] : current[attribute], value);
      } catch (err) {
        throw new InputError(`${path}.${name}: ${(err as Error).message}`);
      }
    }
  }
}
