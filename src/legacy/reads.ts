/**
 * The legacy client's reads: one page, every page (in parallel, by the rows 4D actually sends), one
 * record, and batch lookups by key. Each read is planned first (checked against `tables.ts` and the
 * URL budget, no request) and then run, so a bad call costs nothing upstream.
 */
import type { Logger } from 'pino';
import { getJson, parseCollection, toRow } from './answers.js';
import type { FetchAllOptions, FetchByKeysOptions, FetchRecordOptions, FetchTableOptions, Page, Row } from './client-types.js';
import type { ClientSettings, Runtime } from './environment.js';
import { LegacyAPIDataError, LegacyNotFoundError, LegacyValidationError } from './errors.js';
import { compileFilter, describe, f, requireAttribute, requireTable, type CompiledFilter, type FilterValue } from './filter.js';
import { buildQuery } from './http.js';
import { keyValue, rowsPerKey, type KeyAttribute } from './keys.js';
import { LONGEST_SKIP, attributeList, checkUrl, chunkValues, collectionPath, compile, defaultOrderBy, keyInPath, orderByText } from './request.js';
import { SYSTEM_ATTRIBUTES, type TableDef } from './tables.js';
import { checkKey } from './writes.js';

/** What the reads need of the client. */
export interface ReadContext {
  readonly settings: ClientSettings;
  readonly log: Logger;
}

/** A read of every page of a selection. */
export interface CollectQuery {
  readonly def: TableDef;
  readonly pageSize: number;
  readonly parallel: number;
  readonly filter?: CompiledFilter;
  readonly orderBy: string;
  readonly attributes?: string;
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. Stops starting new items after a failure. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Plans {@link readPage}: `$top` (default 100), `$skip`, `$orderby`, `$filter`, `$attributes`, all checked. */
export function planPage(ctx: ReadContext, rt: Runtime, table: string, options: FetchTableOptions): { def: TableDef; path: string } {
  const def = requireTable(table);
  const top = options.top ?? 100;
  const skip = options.skip ?? 0;
  if (!Number.isSafeInteger(top) || top < 0) throw new LegacyValidationError(`top must be an integer ≥ 0, got ${describe(top)}`, { table: def.name });
  if (!Number.isSafeInteger(skip) || skip < 0) throw new LegacyValidationError(`skip must be an integer ≥ 0, got ${describe(skip)}`, { table: def.name });
  const filter = compile(def, options.filter);
  const path = collectionPath(def, {
    filter,
    orderBy: orderByText(def, options.orderBy),
    attributes: attributeList(def, options.attributes),
    skip,
    top,
  });
  checkUrl(rt, ctx.settings.maxUrlBytes, path, def.name, filter);
  return { def, path };
}

export async function readPage(ctx: ReadContext, rt: Runtime, plan: { def: TableDef; path: string }): Promise<Page> {
  const json = await getJson(rt, ctx.settings.maxUrlBytes, { path: plan.path, route: 'collection', table: plan.def.name });
  return parseCollection(rt, plan.def, json);
}

/** Plans {@link collect} for `fetchAll`: the caller's order, else the table's natural one. */
export function planAll(ctx: ReadContext, rt: Runtime, table: string, options: FetchAllOptions): CollectQuery {
  const def = requireTable(table);
  const pageSize = options.pageSize ?? ctx.settings.pageSize;
  const parallel = options.parallel ?? ctx.settings.parallelPages;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new LegacyValidationError(`pageSize must be an integer ≥ 1, got ${describe(pageSize)}`, { table: def.name });
  if (!Number.isSafeInteger(parallel) || parallel < 1) throw new LegacyValidationError(`parallel must be an integer ≥ 1, got ${describe(parallel)}`, { table: def.name });
  const q: CollectQuery = {
    def,
    pageSize,
    parallel,
    filter: compile(def, options.filter),
    orderBy: orderByText(def, options.orderBy) ?? defaultOrderBy(def),
    attributes: attributeList(def, options.attributes),
  };
  checkCollection(ctx, rt, q);
  return q;
}

/** {@link checkUrl} for every page {@link collect} may request (the longest `$skip` included). */
export function checkCollection(ctx: ReadContext, rt: Runtime, q: Omit<CollectQuery, 'parallel'>): void {
  const path = collectionPath(q.def, { filter: q.filter, orderBy: q.orderBy, attributes: q.attributes, skip: LONGEST_SKIP, top: q.pageSize });
  checkUrl(rt, ctx.settings.maxUrlBytes, path, q.def.name, q.filter);
}

/**
 * Every row of a selection: the first page gives `__COUNT`, the others are fetched at most
 * `parallel` at once. Rows in order, de-duplicated by `__KEY`; a short result is logged.
 */
export async function collect(ctx: ReadContext, rt: Runtime, q: CollectQuery): Promise<Row[]> {
  const page = async (skip: number, top: number) => {
    const path = collectionPath(q.def, { filter: q.filter, orderBy: q.orderBy, attributes: q.attributes, skip, top });
    return parseCollection(rt, q.def, await getJson(rt, ctx.settings.maxUrlBytes, { path, route: 'collection', table: q.def.name }));
  };
  const first = await page(0, q.pageSize);
  // A server that caps $top (a configured maximum) sends a short first page although more rows
  // exist: page by what it actually sends, or every page would leave a gap.
  let step = q.pageSize;
  if (first.sent < q.pageSize && first.sent < first.total) {
    if (first.sent <= 0) {
      throw new LegacyAPIDataError(`4D sent no rows of ${q.def.name} although __COUNT is ${first.total}`, { environment: rt.name, table: q.def.name });
    }
    step = first.sent;
    ctx.log.warn({ environment: rt.name, table: q.def.name, pageSize: q.pageSize, sent: step }, 'fetchAll: 4D caps $top; paging by the rows it sends');
  }
  const remaining: number[] = [];
  for (let skip = step; skip < first.total; skip += step) remaining.push(skip);
  const pages = await mapLimit(remaining, q.parallel, (skip) => page(skip, step));
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const p of [first, ...pages]) {
    for (const row of p.rows) {
      if (seen.has(row.__KEY)) continue;
      seen.add(row.__KEY);
      rows.push(row);
    }
  }
  if (rows.length < first.total) {
    ctx.log.warn(
      { environment: rt.name, table: q.def.name, expected: first.total, got: rows.length },
      'fetchAll: fewer rows than __COUNT (the selection changed between pages)',
    );
  }
  return rows;
}

/** Plans {@link readRecord}: `Table(key)` with `$attributes`. */
export function planRecord(table: string, key: string, options: FetchRecordOptions): { def: TableDef; key: string; path: string } {
  const def = requireTable(table);
  const k = checkKey(def, key);
  const query = buildQuery([['$attributes', attributeList(def, options.attributes)]]);
  return { def, key: k, path: `${encodeURIComponent(def.name)}(${keyInPath(k)})${query}` };
}

/** One entity by `__KEY`; `null` when 4D says it does not exist (404 / errCode 1800). */
export async function readRecord(ctx: ReadContext, rt: Runtime, plan: { def: TableDef; key: string; path: string }): Promise<Row | null> {
  let json: unknown;
  try {
    json = await getJson(rt, ctx.settings.maxUrlBytes, { path: plan.path, route: 'entity', table: plan.def.name }, plan.key);
  } catch (error) {
    if (error instanceof LegacyNotFoundError) return null;
    throw error;
  }
  return toRow(rt, plan.def, json);
}

/** A planned batch lookup: one filter per URL-safe chunk, and what each key is compared as. */
export interface ByKeysPlan {
  readonly def: TableDef;
  readonly attr: KeyAttribute;
  readonly attributes?: string;
  readonly orderBy: string;
  readonly filters: CompiledFilter[];
  /** Per key, its `$params` element; `undefined` for a key that can match nothing (not sent). */
  readonly params: unknown[];
  /** The key attribute, added to `$attributes` to match rows back to keys, is removed from the rows. */
  readonly strip?: string;
}

/**
 * Plans {@link readByKeys}: keys coerced and checked (see `keys.ts`), de-duplicated by their
 * encoded value, split into chunks whose URL fits the budget; every chunk is checked now, so a
 * value too long for any URL fails the whole call before anything is sent.
 */
export function planByKeys(
  ctx: ReadContext,
  rt: Runtime,
  table: string,
  attribute: string,
  keys: readonly (string | number)[],
  options: FetchByKeysOptions,
): ByKeysPlan {
  const def = requireTable(table);
  const attr = requireAttribute(def, attribute);
  if (!Array.isArray(keys)) throw new LegacyValidationError(`keys must be an array, got ${describe(keys)}`, { table: def.name });
  // Encoded parameter → value: de-duplicates, and each value is checked and encoded once.
  const unique = new Map<string, FilterValue>();
  const params = keys.map((key) => {
    const sent = keyValue(def, attr, key);
    if (sent) unique.set(JSON.stringify(sent.param), sent.value);
    return sent?.param;
  });
  const name = attr.path ?? attr.name;
  // Rows are matched back to keys by the key attribute: it must come even when not asked for.
  const needed = !(SYSTEM_ATTRIBUTES as readonly string[]).includes(attr.name) && Array.isArray(options.attributes) && !options.attributes.includes(attr.name);
  const attributes = attributeList(def, needed ? [...options.attributes!, attr.name] : options.attributes);
  const orderBy = defaultOrderBy(def);
  const { pageSize, maxUrlBytes } = ctx.settings;
  // What a chunk's URL costs besides its values: measured on an empty list.
  const overhead =
    Buffer.byteLength(rt.http.restRoot) +
    collectionPath(def, { filter: { filter: `${name} IN :1`, params: [[]] }, orderBy, attributes, skip: LONGEST_SKIP, top: pageSize }).length;
  const chunks = chunkValues([...unique], ([encoded]) => encoded, name, maxUrlBytes - overhead);
  const filters = chunks.map((chunk) => compileFilter(def, f.in(name, chunk.map(([, v]) => v))));
  for (const filter of filters) checkCollection(ctx, rt, { def, pageSize, filter, orderBy, attributes });
  return { def, attr, attributes, orderBy, filters, params, strip: needed ? attr.name : undefined };
}

/**
 * Runs a planned lookup: the chunks at most `parallelPages` at once (each paged when it has more
 * rows than a page), rows de-duplicated by `__KEY`, then each key's rows in the order of the keys.
 */
export async function readByKeys(ctx: ReadContext, rt: Runtime, plan: ByKeysPlan): Promise<Row[][]> {
  if (plan.filters.length === 0) return plan.params.map(() => []);
  const { pageSize, parallelPages } = ctx.settings;
  const results = await mapLimit(plan.filters, parallelPages, (filter) =>
    collect(ctx, rt, { def: plan.def, pageSize, parallel: 1, filter, orderBy: plan.orderBy, attributes: plan.attributes }),
  );
  // Keys that differ only in case or accents match the same rows; in different chunks they bring a row twice.
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const row of results.flat()) {
    if (seen.has(row.__KEY)) continue;
    seen.add(row.__KEY);
    rows.push(row);
  }
  const perKey = rowsPerKey(plan.attr, plan.params, rows);
  if (plan.strip) for (const row of rows) delete row[plan.strip];
  return perKey;
}
