/**
 * Matching keys as 4D compares them, for `fetchByKeys`: which filter value a key is sent as (a key
 * that cannot match costs no request), and which rows each key gets back.
 *
 * - Text: case- and accent-insensitive, `ß` as `ss` ({@link foldKey}); rows whose value equals the
 *   key exactly come first, then the rows that are equal only once folded.
 * - Numbers (`long`/`number`): a key string is coerced; one that is not a finite number (or not an
 *   integer, for `long`) matches nothing and is not sent.
 * - Dates (`YYYY-MM-DD` keys against `D!M!YYYY` values), booleans and paths into object attributes
 *   (`Preise.Coll[].Art`: any element of a collection) are compared by value.
 */
import { CodecError, decodeDate } from './codecs.js';
import { filterParam, type FilterValue } from './filter.js';
import type { Row } from './client-types.js';
import type { AttributeDef, TableDef } from './tables.js';

/** An attribute `fetchByKeys` matches on, possibly a path into an object attribute. */
export type KeyAttribute = AttributeDef & { path?: string };

/** 4D's text folding: NFD, combining marks stripped, lower case, `ß` → `ss`. */
export function foldKey(value: unknown): string {
  return String(value).normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/ß/g, 'ss');
}

function isNumeric(attr: KeyAttribute): boolean {
  return !attr.path && (attr.type === 'long' || attr.type === 'number');
}

/**
 * The value a key is sent as, checked against the attribute type, and its `$params` element
 * (`param`); `undefined` when the key can match nothing, so it is not sent at all.
 * @throws LegacyValidationError for a value of the wrong type (a number for a text attribute, …)
 */
export function keyValue(table: TableDef, attr: KeyAttribute, key: unknown): { value: FilterValue; param: unknown } | undefined {
  let value = key as FilterValue;
  if (typeof key === 'string' && isNumeric(attr)) {
    const n = Number(key);
    if (key.trim() === '' || !Number.isFinite(n) || (attr.type === 'long' && !Number.isSafeInteger(n))) return undefined;
    value = n;
  }
  return { value, param: filterParam(table, attr, value) };
}

/** The values of `attr` in `row`: one for an attribute, any number for a path through collections. */
function valuesAt(row: Row, attr: KeyAttribute): unknown[] {
  if (!attr.path) return [row[attr.name]];
  let current: unknown[] = [row];
  for (const segment of attr.path.split('.')) {
    const collection = /\[[a-z]?\]$/.test(segment);
    const name = collection ? segment.slice(0, segment.indexOf('[')) : segment;
    const next: unknown[] = [];
    for (const value of current) {
      if (value === null || typeof value !== 'object') continue;
      const child = (value as Record<string, unknown>)[name];
      if (collection && Array.isArray(child)) next.push(...child);
      else next.push(child);
    }
    current = next;
  }
  return current;
}

/** The index entries of one value: `s:` exact text, `f:` folded text, `n:` number, `b:` boolean, `d:` date. */
function rowEntries(attr: KeyAttribute, value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'number') return [`n:${value}`];
  if (typeof value === 'boolean') return [`b:${value}`];
  if (typeof value !== 'string') return [];
  if (attr.type === 'date' && !attr.path) {
    try {
      const iso = decodeDate(value);
      return iso === null ? [] : [`d:${iso}`];
    } catch (error) {
      if (error instanceof CodecError) return [];
      throw error;
    }
  }
  return [`s:${value}`, `f:${foldKey(value)}`];
}

/** The index entries a key looks up, best first (exact text before folded text). */
function keyEntries(attr: KeyAttribute, param: unknown): string[] {
  if (typeof param === 'number') return [`n:${param}`];
  if (typeof param === 'boolean') return [`b:${param}`];
  if (attr.type === 'date' && !attr.path) return [`d:${String(param)}`];
  return [`s:${String(param)}`, `f:${foldKey(param)}`];
}

/**
 * The rows of each key, aligned with `params` (`undefined`: the key matched nothing). Each key's
 * rows keep the order of `rows`, exact matches first; a row is in a key's list once.
 */
export function rowsPerKey(attr: KeyAttribute, params: readonly unknown[], rows: readonly Row[]): Row[][] {
  const index = new Map<string, Row[]>();
  for (const row of rows) {
    const entries = new Set(valuesAt(row, attr).flatMap((v) => rowEntries(attr, v)));
    for (const entry of entries) {
      const list = index.get(entry);
      if (list) list.push(row);
      else index.set(entry, [row]);
    }
  }
  return params.map((param) => {
    if (param === undefined) return [];
    const seen = new Set<string>();
    const matched: Row[] = [];
    for (const entry of keyEntries(attr, param)) {
      for (const row of index.get(entry) ?? []) {
        if (seen.has(row.__KEY)) continue;
        seen.add(row.__KEY);
        matched.push(row);
      }
    }
    return matched;
  });
}
