/**
 * An independent model of the GraphQL list filters for the fuzz test: the filterable fields of
 * each list read by introspection, a seeded generator of hostile filters, and an evaluator that
 * decides, from the GraphQL values of a row (computed by `ENTITY` in test/helpers/graph.ts from
 * the emulator's store row, not by src/mapping) and the schema's documented rules, either which
 * rows a filter selects or which fields make it bad input. It shares no code with the emulator's
 * filter engine or with the subgraph's filter translation.
 */
import { ENTITY, fold, type EntityName, type Row } from '../helpers/graph.js';
import { hostileString, textLike, wrongValue, type Random } from './hostile.js';

export type Kind = 'String' | 'ID' | 'Int' | 'Float' | 'Decimal' | 'Date' | 'Boolean';

export interface FieldSpec {
  readonly name: string;
  readonly kind: Kind;
  /** The field's GraphQL value for a store row. */
  readonly value: (row: Row) => unknown;
}

export interface ListSpec {
  readonly list: string;
  readonly type: string;
  readonly entity: EntityName;
  readonly table: string;
  readonly fields: readonly FieldSpec[];
}

/** Filterable fields that are relation keys rather than scalar fields of the entity. */
const RELATION_IDS: Record<string, (row: Row) => unknown> = { 'Product.familyId': (r) => r.Familie_ };

/** The spec of `entity`'s filter input from its introspected input fields (`{ name, type: { name } }`). */
export function listSpec(list: string, type: string, entity: EntityName, inputFields: ReadonlyArray<{ name: string; type: { name: string | null } }>): ListSpec {
  const fields: FieldSpec[] = [];
  // The store replaces a row object when it changes, so a row's GraphQL values can be kept with it.
  const values = new WeakMap<Row, Record<string, unknown>>();
  const graphqlValues = (r: Row): Record<string, unknown> => {
    let all = values.get(r);
    if (!all) values.set(r, (all = ENTITY[entity].expected(r) as Record<string, unknown>));
    return all;
  };
  for (const input of inputFields) {
    if (['and', 'or', 'not'].includes(input.name)) continue;
    const kind = input.type.name?.replace(/Filter$/, '') as Kind;
    if (!['String', 'ID', 'Int', 'Float', 'Decimal', 'Date', 'Boolean'].includes(kind)) throw new Error(`${type}.${input.name}: unknown filter type ${input.type.name}`);
    const relation = RELATION_IDS[`${entity}.${input.name}`];
    const value =
      input.name === 'id'
        ? (r: Row) => r.__KEY
        : relation ??
          ((r: Row) => {
            const all = graphqlValues(r);
            if (!(input.name in all)) throw new Error(`no independent value for ${type}.${input.name}: add it to ENTITY or RELATION_IDS`);
            return all[input.name];
          });
    fields.push({ name: input.name, kind, value });
  }
  return { list, type, entity, table: ENTITY[entity].table, fields };
}

const OPERATORS: Record<Kind, readonly string[]> = {
  String: ['eq', 'ne', 'in', 'beginsWith', 'contains', 'isNull'],
  ID: ['eq', 'in'],
  Int: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  Float: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  Decimal: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  Date: ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'isNull'],
  Boolean: ['eq', 'isNull'],
};

const pools = new WeakMap<readonly Row[], Map<FieldSpec, unknown[]>>();

/** Distinct non-null values of a field over the rows (the pool realistic values are drawn from). */
function pool(rows: readonly Row[], field: FieldSpec): unknown[] {
  let byField = pools.get(rows);
  if (!byField) pools.set(rows, (byField = new Map()));
  let values = byField.get(field);
  if (!values) byField.set(field, (values = [...new Set(rows.map(field.value).filter((v) => v !== null && v !== undefined))]));
  return values;
}

function scalar(rnd: Random, field: FieldSpec, rows: readonly Row[], op: string): unknown {
  if (rnd.chance(0.08)) return wrongValue(rnd);
  const existing = pool(rows, field);
  switch (field.kind) {
    case 'String':
    case 'ID':
      return textLike(rnd, existing as string[]);
    case 'Int':
      return rnd.chance(0.6) && existing.length ? rnd.pick(existing) : rnd.pick([0, -1, 1, 2 ** 31, 1.5, rnd.int(-1000, 300_000)]);
    case 'Float':
      return rnd.chance(0.6) && existing.length ? rnd.pick(existing) : rnd.pick([0, -0.5, 99.99, 1e300, rnd.int(0, 500) + rnd.next()]);
    case 'Decimal': {
      if (rnd.chance(0.5) && existing.length) return rnd.chance(0.5) ? rnd.pick(existing) : Number(rnd.pick(existing));
      return rnd.pick<unknown>(['0', '-0', '10.5', '10.005', '1e3', ' 12', '12.', '.5', '+5', '1,50', '99999999999999', 12.34, 0.1 + 0.2, rnd.int(0, 2000)]);
    }
    case 'Date': {
      if (rnd.chance(0.5) && existing.length) return rnd.pick(existing);
      const y = rnd.int(1990, 2030);
      const m = String(rnd.int(1, 12)).padStart(2, '0');
      const d = String(rnd.int(1, 31)).padStart(2, '0');
      return rnd.chance(0.7) ? `${y}-${m}-${d}` : rnd.pick(['24.12.2023', '1!1!2020', '0!0!0', '2020-06-30T00:00:00Z', '', hostileString(rnd)]);
    }
    case 'Boolean':
      return op === 'isNull' || rnd.chance(0.95) ? rnd.chance(0.5) : 'true';
  }
}

function fieldFilter(rnd: Random, field: FieldSpec, rows: readonly Row[]): Record<string, unknown> {
  const ops: Record<string, unknown> = {};
  for (let n = rnd.chance(0.2) ? 2 : 1; n > 0; n--) {
    const op = rnd.pick(OPERATORS[field.kind]);
    if (op === 'isNull') ops[op] = rnd.chance(0.95) ? rnd.chance(0.5) : 'yes';
    else if (op === 'in') ops[op] = rnd.chance(0.05) ? [] : rnd.chance(0.05) ? scalar(rnd, field, rows, op) : Array.from({ length: rnd.int(1, 4) }, () => scalar(rnd, field, rows, op));
    else ops[op] = scalar(rnd, field, rows, op);
  }
  return ops;
}

/** A random filter input for `spec`, nesting and/or/not up to `depth` levels. */
export function randomFilter(rnd: Random, spec: ListSpec, rows: readonly Row[], depth = 3): Record<string, unknown> {
  const filter: Record<string, unknown> = {};
  for (let n = rnd.int(1, 3); n > 0; n--) {
    const roll = rnd.next();
    if (depth > 0 && roll < 0.12) filter.and = Array.from({ length: rnd.int(0, 3) }, () => randomFilter(rnd, spec, rows, depth - 1));
    else if (depth > 0 && roll < 0.24) filter.or = Array.from({ length: rnd.chance(0.05) ? 0 : rnd.int(1, 3) }, () => randomFilter(rnd, spec, rows, depth - 1));
    else if (depth > 0 && roll < 0.32) filter.not = randomFilter(rnd, spec, rows, depth - 1);
    else if (roll < 0.34) filter[rnd.pick(['nonsense', 'description', '__KEY', 'stamp', 'name ', 'sku"'])] = { eq: 'x' };
    else {
      const field = rnd.pick(spec.fields);
      filter[field.name] = fieldFilter(rnd, field, rows);
    }
  }
  return filter;
}

// ---------------------------------------------------------------------------------------------
// The evaluator

type Predicate = (row: Row) => boolean;

/** What a filter must do: select rows, or be refused naming one of `bad`. */
export interface Expectation {
  readonly predicate: Predicate;
  /** Field names (or `field.in`, `field.beginsWith`…) whose values are bad input; empty when the filter is valid. */
  readonly bad: readonly string[];
  /** Bytes the values take URL-encoded in `$params` (a filter may be refused as too long for one URL). */
  readonly paramBytes: number;
  /** The fields whose values go into `$params`, as `filter.<field>`. */
  readonly valueFields: readonly string[];
}

const LONE_SURROGATE = /\p{Surrogate}/u;
const MONEY = /^-?\d{1,13}(\.\d{1,2})?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})$/;

function calendarDate(text: string): boolean {
  const m = ISO.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(0);
  probe.setUTCFullYear(y, mo - 1, d);
  return y >= 1000 && probe.getUTCFullYear() === y && probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d;
}

/** The value as the field's type accepts it, or `undefined` when GraphQL (or the ERP) must refuse it. */
function coerce(kind: Kind, v: unknown): unknown {
  switch (kind) {
    case 'String':
      return typeof v === 'string' && !LONE_SURROGATE.test(v) ? v : undefined;
    case 'ID':
      if (typeof v === 'number' && Number.isInteger(v)) return String(v);
      return typeof v === 'string' && !LONE_SURROGATE.test(v) ? v : undefined;
    case 'Int':
      return typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31 ? v : undefined;
    case 'Float':
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    case 'Decimal':
      return (typeof v === 'string' || typeof v === 'number') && MONEY.test(String(v)) ? Number(String(v)) : undefined;
    case 'Date':
      return typeof v === 'string' && calendarDate(v) ? v : undefined;
    case 'Boolean':
      return typeof v === 'boolean' ? v : undefined;
  }
}

const present = (v: unknown) => v !== null && v !== undefined;

/** `a` compared with `b` for a field of `kind` (both present): negative, 0, positive. */
function compare(kind: Kind, a: unknown, b: unknown): number {
  if (kind === 'String' || kind === 'ID') return fold(a) === fold(b) ? 0 : fold(a) < fold(b) ? -1 : 1;
  if (kind === 'Decimal') return Number(a) - Number(b);
  if (kind === 'Date') return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
  if (kind === 'Boolean') return a === b ? 0 : 1;
  return (a as number) - (b as number);
}

/** URL-encoded size with every byte but the unreserved ones escaped (the strictest encoding a client may use). */
function encodedBytes(v: unknown): number {
  let bytes = 0;
  for (const b of Buffer.from(JSON.stringify(v) ?? '', 'utf8')) bytes += /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? 1 : 3;
  return bytes;
}

/** Evaluates a filter input: which rows it selects per the schema's documentation, and what is bad in it. */
export function evaluate(spec: ListSpec, input: unknown, path = 'filter'): Expectation {
  const bad: string[] = [];
  const valueFields = new Set<string>();
  let paramBytes = 0;
  const visit = (filter: unknown, at: string): Predicate | undefined => {
    if (filter === null || filter === undefined) return undefined;
    const parts: Predicate[] = [];
    for (const [key, value] of Object.entries(filter as Record<string, unknown>)) {
      if (value === null || value === undefined) continue;
      if (key === 'and' || key === 'or') {
        const list = (Array.isArray(value) ? value : [value]).map((part, i) => visit(part, `${at}.${key}[${i}]`)).filter((p): p is Predicate => p !== undefined);
        if (key === 'or' && (value as unknown[]).length === 0) bad.push(`${at}.or`);
        if (list.length > 0) parts.push(key === 'and' ? (r) => list.every((p) => p(r)) : (r) => list.some((p) => p(r)));
      } else if (key === 'not') {
        const inner = visit(value, `${at}.not`);
        if (inner) parts.push((r) => !inner(r));
      } else {
        const field = spec.fields.find((x) => x.name === key);
        if (!field) {
          bad.push(key);
          continue;
        }
        for (const [op, raw] of Object.entries(value as Record<string, unknown>)) {
          if (raw === null || raw === undefined) continue;
          const get = field.value;
          if (op === 'isNull') {
            if (typeof raw !== 'boolean') bad.push(key);
            else parts.push(raw ? (r) => !present(get(r)) : (r) => present(get(r)));
            continue;
          }
          if (op === 'in') {
            const list = Array.isArray(raw) ? raw : [raw];
            if (list.length === 0) bad.push(`${key}.in`);
            const values = list.map((v) => coerce(field.kind, v));
            if (values.some((v) => v === undefined)) {
              bad.push(key);
              continue;
            }
            paramBytes += encodedBytes(values) + 40;
            valueFields.add(`${path}.${key}`);
            parts.push((r) => present(get(r)) && values.some((v) => compare(field.kind, get(r), v) === 0));
            continue;
          }
          const v = coerce(field.kind, raw);
          if (v === undefined) {
            bad.push(key);
            continue;
          }
          paramBytes += encodedBytes(v) + 40;
          valueFields.add(`${path}.${key}`);
          if (op === 'beginsWith' || op === 'contains') {
            // 4D's only wildcard has no escape: "@" cannot be matched by prefix or part.
            if ((v as string).includes('@')) bad.push(`${key}.${op}`);
            const text = fold(v);
            parts.push((r) => present(get(r)) && (op === 'beginsWith' ? fold(get(r)).startsWith(text) : fold(get(r)).includes(text)));
            continue;
          }
          const test: Record<string, (c: number) => boolean> = { eq: (c) => c === 0, ne: (c) => c !== 0, gt: (c) => c > 0, gte: (c) => c >= 0, lt: (c) => c < 0, lte: (c) => c <= 0 };
          parts.push((r) => present(get(r)) && test[op](compare(field.kind, get(r), v)));
        }
      }
    }
    return parts.length === 0 ? undefined : (r) => parts.every((p) => p(r));
  };
  const predicate = visit(input, path) ?? (() => true);
  return { predicate, bad, paramBytes, valueFields: [...valueFields] };
}

/** `value` as a GraphQL literal, or `undefined` when it has none (infinities, lone surrogates). */
export function literal(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? undefined : JSON.stringify(value);
  // An exponent makes a Float literal even of an integer value: no literal with the same meaning.
  if (typeof value === 'number') return Number.isFinite(value) && !/e/.test(String(value)) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) {
    const items = value.map(literal);
    return items.some((i) => i === undefined) ? undefined : `[${items.join(', ')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, literal(v)] as const);
  if (entries.some(([k, v]) => v === undefined || !/^[_A-Za-z][_0-9A-Za-z]*$/.test(k))) return undefined;
  return `{ ${entries.map(([k, v]) => `${k}: ${v}`).join(', ')} }`;
}
