/** Read routes: collections (with paging, entity sets, `$distinct`, `$compute`) and single entities. */
import { GLOBAL_STAMP, globalStampOf, type EmulatorTable, type Row } from '../data/store.js';
import { parseAttributeList } from '../query/attributes.js';
import { compileFilter } from '../query/filter.js';
import { compileOrderBy } from '../query/orderby.js';
import { planFilter } from '../query/plan.js';
import { readAttribute } from '../query/tracked.js';
import { SYSTEM_ATTRIBUTES } from '../../legacy/tables.js';
import { requireTable, type HandlerContext } from './context.js';
import { DEFAULT_ENTITY_SET_TIMEOUT } from './entitysets.js';
import { ErrCode, RestError } from './errors.js';
import { lookupValue } from './values.js';

/** Default page size when neither `$top` nor `$limit` is given. */
export const DEFAULT_TOP = 100;

const SYSTEM = new Set<string>(SYSTEM_ATTRIBUTES);

/** `$params` as a JSON array (outer quotes already stripped), or `undefined`. Throws 1806 otherwise. */
export function parseFilterParams(raw: string | undefined): unknown[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw RestError.of(500, ErrCode.malformedUrl, `$params must be a JSON array, got ${JSON.stringify(raw)}`);
  }
  if (!Array.isArray(parsed)) throw RestError.of(500, ErrCode.malformedUrl, `$params must be a JSON array, got ${JSON.stringify(raw)}`);
  return parsed;
}

function compareKeys(a: Row, b: Row): number {
  const ka = String(a.__KEY);
  const kb = String(b.__KEY);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Applies `$filter`/`$params` then `$orderby` (ties broken by `__KEY`); without `$orderby` keeps the
 * given order. `base` defaults to the whole table, in insertion order: then the filter goes through
 * the query planner (`planFilter`), which reads candidates from the key map or an index when it can.
 */
export function selectRows(ctx: HandlerContext, table: EmulatorTable, base?: readonly Row[]): { rows: Row[]; sorted: boolean } {
  let rows: Row[];
  const filter = ctx.params.get('$filter');
  // An empty `$filter=` is handed to the engine too (error 1162): never answer it with unfiltered data.
  if (filter !== undefined) {
    const params = parseFilterParams(ctx.params.get('$params'));
    if (base === undefined) rows = planFilter(filter, params, table, ctx.db).rows();
    else {
      const predicate = compileFilter(filter, params, table, ctx.db);
      rows = base.filter((r) => predicate(r));
    }
  } else {
    rows = base === undefined ? table.rows() : [...base];
  }
  const orderBy = ctx.params.get('$orderby');
  if (orderBy !== undefined && orderBy.trim() !== '') {
    const cmp = compileOrderBy(orderBy, table);
    rows.sort((a, b) => cmp(a, b) || compareKeys(a, b));
    return { rows, sorted: true };
  }
  return { rows, sorted: false };
}

/**
 * The storage attributes to return: a path list wins over `$attributes`; none (or `*`) = all.
 * System attributes named in the list are dropped (they are always sent), so a list of system
 * attributes alone (`$attributes=__KEY`) sends the meta-properties and nothing else.
 */
export function resolveAttributes(ctx: HandlerContext, table: EmulatorTable, pathList: string[] | undefined): string[] | undefined {
  let spec: string | undefined;
  if (pathList && pathList.length > 0) spec = pathList.join(',');
  else spec = ctx.params.get('$attributes');
  if (spec === undefined || spec.trim() === '' || spec.trim() === '*') return undefined;
  return parseAttributeList(spec, table).filter((n) => !SYSTEM.has(n));
}

/**
 * One entity as a collection element: `__KEY` (always a string), `__TIMESTAMP`, `__STAMP`, then
 * attributes in catalog order; in a tracked table `__GlobalStamp` last (the field 4D adds to the
 * structure when tracking is enabled), also when `attributes` names it.
 */
export function entityJson(table: EmulatorTable, row: Row, attributes?: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {
    __KEY: String(row.__KEY),
    __TIMESTAMP: row.__TIMESTAMP,
    __STAMP: row.__STAMP,
  };
  for (const name of attributes ?? table.def.attributes.map((a) => a.name)) {
    if (name === GLOBAL_STAMP) continue;
    const v = row[name];
    out[name] = v === undefined ? null : v;
  }
  if (table.tracked && (attributes === undefined || attributes.includes(GLOBAL_STAMP))) out[GLOBAL_STAMP] = globalStampOf(row);
  return out;
}

interface Page {
  top: number;
  skip: number;
}

function pageOf(ctx: HandlerContext): Page {
  let top = ctx.params.nonNegativeInt('$top') ?? ctx.params.nonNegativeInt('$limit') ?? DEFAULT_TOP;
  if (ctx.maxTop !== undefined) top = Math.min(top, ctx.maxTop);
  return { top, skip: ctx.params.nonNegativeInt('$skip') ?? 0 };
}

/** The collection envelope, in the property order of real 4D output. */
function envelope(
  ctx: HandlerContext,
  dataClass: string,
  count: number,
  skip: number,
  entities: unknown[],
  entitySetUri?: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (entitySetUri !== undefined) out.__ENTITYSET = entitySetUri;
  if (ctx.version !== 'v18') out.__DATACLASS = dataClass;
  out.__entityModel = dataClass;
  out.__GlobalStamp = ctx.db.globalStamp; // 0 without change tracking (protocol reference §3.1, §11)
  out.__COUNT = count;
  out.__FIRST = skip;
  out.__ENTITIES = entities;
  out.__SENT = entities.length;
  return out;
}

function entitySetUri(dataClass: string, id: string): string {
  return `/rest/${dataClass}/$entityset/${id}`;
}

function timeoutOf(ctx: HandlerContext): number {
  const t = ctx.params.nonNegativeInt('$timeout');
  return t === undefined || t === 0 ? DEFAULT_ENTITY_SET_TIMEOUT : t;
}

/** `GET /rest/{dc}` and `/rest/{dc}/{a,b}`, incl. `$method=entityset`, `$distinct`, `$compute`. */
export function getCollection(ctx: HandlerContext, dataClass: string, pathAttributes: string[] | undefined): unknown {
  const table = requireTable(ctx.db, dataClass);
  const method = ctx.params.get('$method');
  if (ctx.params.has('$distinct') && ctx.params.flag('$distinct')) return distinct(ctx, table, pathAttributes);
  if (ctx.params.has('$compute')) return compute(ctx, table, pathAttributes);

  const attributes = resolveAttributes(ctx, table, pathAttributes);
  const { rows, sorted } = selectRows(ctx, table);
  const { top, skip } = pageOf(ctx);
  const page = rows.slice(skip, skip + top).map((r) => entityJson(table, r, attributes));
  let setUri: string | undefined;
  if (method === 'entityset') {
    const set = ctx.entitySets.create(table.def.name, rows.map((r) => String(r.__KEY)), sorted, timeoutOf(ctx));
    setUri = entitySetUri(table.def.name, set.id);
  }
  return envelope(ctx, table.def.name, rows.length, skip, page, setUri);
}

/** `GET /rest/{dc}/$entityset/{id}` (paging, optional re-sort/filter) and `?$method=release`. */
export function getEntitySet(ctx: HandlerContext, dataClass: string, id: string, pathAttributes: string[] | undefined): unknown {
  const table = requireTable(ctx.db, dataClass);
  if (ctx.params.get('$method') === 'release') {
    if (!ctx.entitySets.release(id)) throw RestError.of(404, ErrCode.entitySetNotFound, `The entity set "${id}" cannot be found`);
    return { ok: true };
  }
  const set = ctx.entitySets.use(id);
  if (!set) throw RestError.of(404, ErrCode.entitySetNotFound, `The entity set "${id}" cannot be found`);
  if (set.dataClass !== table.def.name) {
    throw RestError.of(404, ErrCode.entitySetMismatch, `The entity set "${id}" does not belong to the "${table.def.name}" dataclass`);
  }
  const attributes = resolveAttributes(ctx, table, pathAttributes);
  const reselect = ctx.params.has('$filter') || ctx.params.has('$orderby');
  let items: Array<Row | undefined> = set.keys.map((k) => table.get(k));
  if (reselect) {
    const live = items.filter((r): r is Row => r !== undefined);
    const holes = ctx.params.has('$filter') ? [] : items.filter((r) => r === undefined);
    items = [...selectRows(ctx, table, live).rows, ...holes];
  }
  const { top, skip } = pageOf(ctx);
  // Entities deleted after the set was built stay in it as `{ "__STAMP": 0 }` (protocol reference §3.1).
  const page = items.slice(skip, skip + top).map((r) => (r ? entityJson(table, r, attributes) : { __STAMP: 0 }));
  return envelope(ctx, table.def.name, items.length, skip, page, entitySetUri(table.def.name, set.id));
}

function singleAttribute(table: EmulatorTable, pathAttributes: string[] | undefined, keyword: string): string {
  if (!pathAttributes || pathAttributes.length !== 1) {
    throw RestError.of(500, ErrCode.methodNotApplicable, `${keyword} needs exactly one attribute in the path: /rest/${table.def.name}/{attribute}?${keyword}=…`);
  }
  const [name] = parseAttributeList(pathAttributes[0], table);
  return name ?? pathAttributes[0];
}

function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** `GET /rest/{dc}/{attr}?$distinct=true` → a bare JSON array of the distinct non-null values, ascending. */
function distinct(ctx: HandlerContext, table: EmulatorTable, pathAttributes: string[] | undefined): unknown {
  const attr = singleAttribute(table, pathAttributes, '$distinct');
  const { rows } = selectRows(ctx, table);
  const seen = new Map<string, unknown>();
  const read = readAttribute(attr);
  for (const r of rows) {
    const v = read(r);
    if (v === null || v === undefined) continue;
    const k = typeof v === 'object' ? JSON.stringify(v) : `${typeof v}:${String(v)}`;
    if (!seen.has(k)) seen.set(k, v);
  }
  const values = [...seen.values()].sort(compareValues);
  const skip = ctx.params.nonNegativeInt('$skip') ?? 0;
  const top = ctx.params.nonNegativeInt('$top') ?? ctx.params.nonNegativeInt('$limit');
  return values.slice(skip, top === undefined ? undefined : skip + top);
}

/** `GET /rest/{dc}/{attr}?$compute=sum|average|min|max|count|$all`. */
function compute(ctx: HandlerContext, table: EmulatorTable, pathAttributes: string[] | undefined): unknown {
  const attr = singleAttribute(table, pathAttributes, '$compute');
  const op = ctx.params.get('$compute') ?? '';
  if (!['$all', 'count', 'sum', 'average', 'min', 'max'].includes(op)) {
    throw RestError.of(500, ErrCode.unknownComputeAction, `Unknown $compute action "${op}"`);
  }
  const { rows } = selectRows(ctx, table);
  const read = readAttribute(attr);
  const values = rows.map(read).filter((v) => v !== null && v !== undefined);
  const numeric = values.every((v) => typeof v === 'number');
  const sorted = [...values].sort(compareValues);
  const stats: Record<string, unknown> = { count: values.length };
  if (numeric) {
    const sum = (values as number[]).reduce((a, b) => a + b, 0);
    stats.sum = sum;
    stats.average = values.length === 0 ? 0 : sum / values.length;
  }
  stats.min = sorted[0] ?? null;
  stats.max = sorted[sorted.length - 1] ?? null;
  if (op === '$all') return { [attr]: stats };
  if ((op === 'sum' || op === 'average') && !numeric) {
    throw RestError.of(500, ErrCode.unknownComputeAction, `$compute=${op} needs a numeric attribute, "${attr}" is not`);
  }
  return stats[op];
}

/** Single entity: `__entityModel`, `__KEY`, `__TIMESTAMP`, `__STAMP`, attributes. */
function singleEntityJson(table: EmulatorTable, row: Row, attributes: string[] | undefined): Record<string, unknown> {
  return { __entityModel: table.def.name, ...entityJson(table, row, attributes) };
}

function notFound(table: EmulatorTable, what: string): RestError {
  return RestError.of(404, ErrCode.entityNotFound, `Cannot find entity with ${what} in the "${table.def.name}" dataclass`);
}

/** `GET /rest/{dc}(key)`, `/rest/{dc}[key]`, optionally with `/{a,b}` or `$attributes`. */
export function getEntity(ctx: HandlerContext, dataClass: string, key: string, pathAttributes: string[] | undefined): unknown {
  const table = requireTable(ctx.db, dataClass);
  const attributes = resolveAttributes(ctx, table, pathAttributes);
  const row = table.get(key);
  if (!row) throw notFound(table, `"${key}" key`);
  return singleEntityJson(table, row, attributes);
}

/** Finds the entity of `/rest/{dc}:{attr}(value)`, or throws 500/1500 (unknown attribute) or 404/1800. */
export function findByAttribute(ctx: HandlerContext, table: EmulatorTable, attribute: string, value: string): Row {
  if (attribute === '__KEY') {
    const row = table.get(value);
    if (!row) throw notFound(table, `"${value}" key`);
    return row;
  }
  const def = table.def.attributes.find((a) => a.name === attribute);
  if (!def) {
    throw RestError.of(500, ErrCode.attributeNotFound, `The "${attribute}" attribute cannot be found in the "${table.def.name}" datastore class`);
  }
  const v = lookupValue(def, value);
  const row = v === undefined ? undefined : table.findBy(attribute, v)[0];
  if (!row) throw notFound(table, `${attribute} = "${value}"`);
  return row;
}

/** `GET /rest/{dc}:{attr}(value)`, optionally with `/{a,b}`. */
export function getEntityByAttribute(
  ctx: HandlerContext,
  dataClass: string,
  attribute: string,
  value: string,
  pathAttributes: string[] | undefined,
): unknown {
  const table = requireTable(ctx.db, dataClass);
  const attributes = resolveAttributes(ctx, table, pathAttributes);
  return singleEntityJson(table, findByAttribute(ctx, table, attribute, value), attributes);
}
