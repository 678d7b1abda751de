/**
 * Building the legacy client's requests: collection paths with `$filter`/`$params`, `$orderby`,
 * `$attributes`, paging, and the natural order that makes paging stable; entity paths; the URL
 * budget (a request too long for 4D or a proxy is refused before it is sent, naming the value that
 * makes it too long) and the chunking of key lists that keeps `fetchByKeys` within it. Checked
 * against the table catalog before anything is sent; no I/O here.
 */
import { LegacyValidationError } from './errors.js';
import { compileFilter, describe, requireAttribute, type CompiledFilter, type FilterNode, type RawFilter } from './filter.js';
import { buildQuery, encodeQueryValue } from './http.js';
import { SYSTEM_ATTRIBUTES, type TableDef } from './tables.js';
import type { OrderBy } from './client-types.js';

/** Default budget for one request URL (4D and proxies commonly accept 8 KB; keep well below). */
export const MAX_URL_BYTES = 6000;

/** The largest `$skip` a URL is checked with (pages further on would need a longer URL). */
export const LONGEST_SKIP = 999_999_999;

/** What `$orderby` may name: an attribute, or a dotted path of plain names (no `[]` collection steps). */
export const ORDER_PATH = /^[\p{L}\p{N}_]+(\.[\p{L}\p{N}_]+)*$/u;

/**
 * Sort orders that make paging deterministic: the natural (unique where possible) key of each table.
 * Tables not listed use their first indexed attribute. 4D (and the emulator) do not document a tie
 * order, so a non-unique order could shift rows between pages; `fetchAll` de-duplicates by `__KEY`
 * and logs a warning when the result is short of `__COUNT`.
 */
const NATURAL_ORDER: Readonly<Record<string, readonly string[]>> = {
  Artikel_Familie: ['Nummer'],
  Artikel_Variante: ['Nummer'],
  Kunden: ['KundenNr'],
  Adressen: ['AdrNr'],
  Belege: ['AbsNr'],
  Belege_Pos: ['AbsNr', 'PosNr'],
  Formen: ['FormNr'],
  Form_Artikel: ['FormNr', 'ArtNr'],
  Werksauftraege: ['WerkAufNr'],
  WerksauftrPos: ['W_Auftr_Nr', 'WAP_Nr'],
};

/** The `$orderby` `fetchAll` uses when the caller gives none. */
export function defaultOrderBy(table: TableDef): string {
  const natural = NATURAL_ORDER[table.name];
  if (natural) return natural.map((a) => `${a} asc`).join(',');
  const indexed = table.attributes.find((a) => a.indexed) ?? table.attributes[0];
  return indexed ? `${indexed.name} asc` : '__KEY asc';
}

/** `$params` JSON with `'` written as `\u0027`, so the single-quoted wrapper stays unambiguous. */
export function paramsJson(params: readonly unknown[]): string {
  return JSON.stringify(params).replace(/'/g, '\\u0027');
}

/** The `$attributes` value for `attributes` (checked against the catalog; system attributes always come). */
export function attributeList(table: TableDef, attributes: readonly string[] | undefined): string | undefined {
  if (attributes === undefined) return undefined;
  if (!Array.isArray(attributes)) {
    throw new LegacyValidationError(`attributes must be an array of attribute names, got ${describe(attributes)}`, { table: table.name });
  }
  const names = new Set<string>();
  for (const name of attributes) {
    const def = requireAttribute(table, name);
    if (def.path) {
      throw new LegacyValidationError(`attributes lists attribute names, not paths: ${JSON.stringify(name)}`, { table: table.name });
    }
    if (!(SYSTEM_ATTRIBUTES as readonly string[]).includes(def.name)) names.add(def.name);
  }
  // Only system attributes asked for: 4D needs at least one attribute, so ask for the first one.
  if (names.size === 0) names.add(table.attributes[0]!.name);
  return [...names].join(',');
}

/**
 * The `$orderby` value: `'Nummer asc, Bezeichnung desc'` or `[[attribute, direction]]`, each an attribute
 * or a dotted path of plain names (never a `[]` collection step).
 * @throws LegacyValidationError naming what is wrong and what is allowed
 */
export function orderByText(table: TableDef, orderBy: OrderBy | undefined): string | undefined {
  if (orderBy === undefined) return undefined;
  let parts: Array<[string, string]>;
  if (typeof orderBy === 'string') {
    parts = orderBy
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const m = /^(\S+)(?:\s+(asc|desc))?$/i.exec(p);
        if (!m) {
          throw new LegacyValidationError(
            `Bad orderBy ${describe(orderBy)}: expected "attribute [asc|desc], ..." (attribute names or dotted paths, each optionally followed by asc or desc)`,
            { table: table.name },
          );
        }
        return [m[1]!, (m[2] ?? 'asc').toLowerCase()];
      });
  } else if (Array.isArray(orderBy)) {
    parts = orderBy.map((entry) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || (entry[1] !== 'asc' && entry[1] !== 'desc')) {
        throw new LegacyValidationError(`Bad orderBy entry ${describe(entry)}: expected [attribute, 'asc' | 'desc']`, { table: table.name });
      }
      return [entry[0], entry[1]];
    });
  } else {
    throw new LegacyValidationError(`Bad orderBy ${describe(orderBy)}`, { table: table.name });
  }
  if (parts.length === 0) throw new LegacyValidationError('orderBy names no attribute', { table: table.name });
  return parts
    .map(([name, dir]) => {
      const def = requireAttribute(table, name);
      if (def.type === 'object' && !def.path) {
        throw new LegacyValidationError(
          `Cannot order ${table.name} by the object attribute ${name}: order by an attribute or a dotted path inside it (for example "${name}.prop")`,
          { table: table.name },
        );
      }
      // $orderby takes attribute names and dotted paths (§2.3); a collection path ([], [a]) is a query-only form.
      if (def.path && !ORDER_PATH.test(def.path)) {
        throw new LegacyValidationError(
          `Cannot order ${table.name} by ${JSON.stringify(name)}: orderBy accepts attribute names or dotted paths (for example "${def.name}.prop"), not collection paths with []`,
          { table: table.name },
        );
      }
      return `${def.path ?? def.name} ${dir}`;
    })
    .join(',');
}

/** `Table?$filter=…&$params=…&$orderby=…&$attributes=…&$skip=…&$top=…`, every value percent-encoded. */
export function collectionPath(
  table: TableDef,
  parts: { filter?: { filter: string; params: unknown[] }; orderBy?: string; attributes?: string; skip: number; top: number },
): string {
  const query = buildQuery([
    ['$filter', parts.filter ? `"${parts.filter.filter}"` : undefined],
    ['$params', parts.filter && parts.filter.params.length ? `'${paramsJson(parts.filter.params)}'` : undefined],
    ['$orderby', parts.orderBy ? `"${parts.orderBy}"` : undefined],
    ['$attributes', parts.attributes],
    ['$skip', parts.skip],
    ['$top', parts.top],
  ]);
  return `${encodeURIComponent(table.name)}${query}`;
}

/** The compiled `$filter` and `$params` of a filter, if any. */
export function compile(table: TableDef, filter: FilterNode | RawFilter | undefined) {
  return filter === undefined ? undefined : compileFilter(table, filter);
}

/** A key inside `Table(…)`: bare when it is plain (hex UUIDs, numbers), else quoted and encoded. */
export function keyInPath(key: string): string {
  if (/^[A-Za-z0-9_.-]+$/.test(key)) return key;
  return encodeQueryValue(`"${key.replace(/"/g, '\\"')}"`);
}

/**
 * Refuses a request whose URL (REST root, path and query) would exceed `maxUrlBytes`, before it
 * is sent. Given the compiled filter, the message names the value that makes it too long.
 */
export function checkUrl(
  rt: { readonly name: string; readonly http: { readonly restRoot: string } },
  maxUrlBytes: number,
  path: string,
  table?: string,
  filter?: CompiledFilter,
): void {
  const bytes = Buffer.byteLength(rt.http.restRoot) + Buffer.byteLength(path);
  if (bytes <= maxUrlBytes) return;
  const { message, attribute } = urlBudgetRefusal(table, bytes, maxUrlBytes, filter);
  throw new LegacyValidationError(message, { table, attribute, environment: rt.name });
}

/**
 * Splits `values` into chunks whose `$params` (and filter) take at most `budget` bytes of the URL.
 * Text values containing `@` go into separate chunks: they compile to an OR of `===` (one placeholder
 * each, so at most 100 per chunk, below 4D's 128-placeholder limit). A single value larger than the
 * budget gets a chunk of its own (and is then refused by the URL check, naming it).
 */
export function chunkValues<T>(values: readonly T[], encoded: (v: T) => string, attribute: string, budget: number): T[][] {
  const plain: T[] = [];
  const withAt: T[] = [];
  for (const v of values) (encoded(v).includes('@') ? withAt : plain).push(v);
  const chunks: T[][] = [];
  const pack = (list: T[], extraPerValue: number, maxCount: number) => {
    let current: T[] = [];
    let size = 0;
    for (const v of list) {
      const cost = encodeQueryValue(encoded(v).replace(/'/g, '\\u0027')).length + 3 + extraPerValue;
      if (current.length && (size + cost > budget || current.length >= maxCount)) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      current.push(v);
      size += cost;
    }
    if (current.length) chunks.push(current);
  };
  pack(plain, 0, Number.POSITIVE_INFINITY);
  pack(withAt, encodeQueryValue(` OR ${attribute} === :100`).length, 100);
  return chunks;
}

/** `attr op :n` in compiled filter text: which attribute each placeholder belongs to. */
const PLACEHOLDER_USE = /([^\s()]+)\s+(?:===|!==|==|!=|<=|>=|=|<|>|IN|%|#|begin)\s+:(\d+)\b/g;

/**
 * Why a request is refused for its URL length: names the filter value (attribute) that makes it too
 * long and how much room it had, or says the filter as a whole is too large; `attribute` is that
 * attribute, for callers that name their own field for it.
 */
export function urlBudgetRefusal(table: string | undefined, bytes: number, budget: number, filter: CompiledFilter | undefined): { message: string; attribute?: string } {
  const limit = `the client's URL budget of ${budget} bytes (maxUrlBytes)`;
  const generic = `The request${table ? ` to ${table}` : ''} would have a URL of ${bytes} bytes, over ${limit}`;
  if (!filter || filter.params.length === 0) return { message: `${generic}; nothing was sent` };
  const attributeOf = new Map<number, string>();
  for (const m of filter.filter.matchAll(PLACEHOLDER_USE)) attributeOf.set(Number(m[2]), m[1]!);
  const sizes = filter.params.map((p, i) => ({ index: i + 1, param: p, bytes: encodeQueryValue(paramsJson([p])).length - 6 }));
  const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const attribute = attributeOf.get(largest.index);
  // Room left for that value once everything else is in the URL; name it when it alone is the problem.
  const room = budget - (bytes - largest.bytes);
  if (attribute && room >= 0) {
    const name = table ? `${table}.${attribute}` : attribute;
    const url = `the URL would be ${bytes} bytes, over ${limit}`;
    if (Array.isArray(largest.param)) {
      return {
        attribute,
        message:
          `Filter values for ${name} are too long: the ${largest.param.length} values of its "in" list take ${largest.bytes} bytes once percent-encoded and ` +
          `${url}; at most about ${room} bytes fit. Use fewer values (fetchByKeys splits long key lists); nothing was sent`,
      };
    }
    return {
      attribute,
      message:
        `Filter value for ${name} is too long: it takes ${largest.bytes} bytes once percent-encoded and ${url}; at most about ${room} bytes fit ` +
        `(a plain letter or digit takes 1 byte, a space or punctuation 3, an umlaut 6). Use a shorter value; nothing was sent`,
    };
  }
  const filterBytes = encodeQueryValue(filter.filter).length + encodeQueryValue(paramsJson(filter.params)).length;
  return { message: `${generic}: its filter takes ${filterBytes} bytes with ${filter.params.length} value(s). Use fewer or shorter values; nothing was sent` };
}
