/**
 * An independent model of the legacy client's filters (`f` from src/legacy/filter.ts) for the fuzz
 * tests: a seeded generator of filter trees over a table's 4D attributes with hostile values (and
 * wrong types, unknown attributes, empty lists), and an evaluator that decides from the store rows
 * and the documented 4D rules (text folded, `ne` and comparisons skipping nulls, `0!0!0` as no
 * date) which rows a filter selects, or which attribute makes it bad input.
 */
import { f, type FilterNode } from '../../src/legacy/filter.js';
import type { AttributeDef, TableDef } from '../../src/legacy/tables.js';
import { day, fold, type Row } from '../helpers/graph.js';
import { hostileString, textLike, wrongValue, type Random } from './hostile.js';

export type Predicate = (row: Row) => boolean;

/** What a filter must do: select rows, or be refused naming one of `bad` (an attribute, or `operand` for an empty and/or). */
export interface LegacyExpectation {
  readonly predicate: Predicate;
  readonly bad: readonly string[];
  /** Bytes the values take URL-encoded (a filter may be refused as too long for one URL). */
  readonly paramBytes: number;
}

/** The attributes a filter may name: the table's own (objects excluded) and `__KEY`/`__STAMP`. */
export function filterAttributes(table: TableDef): AttributeDef[] {
  return [{ name: '__KEY', type: 'string' }, { name: '__STAMP', type: 'long' }, ...table.attributes.filter((a) => a.type !== 'object')];
}

/** Names that are not attributes (case differs, a path into a text, filter syntax). */
export const NOT_ATTRIBUTES = ['nummer', 'NUMMER', 'Nummer2', 'Text OR 1', 'Bezeichnung)', "Kunden'", '__key', 'a.b', '$filter', ':1', ''];

const LONE_SURROGATE = /\p{Surrogate}/u;

function dayOf(y: number, m: number, d: number): number | null {
  if (y < 1000 || m < 1 || m > 12 || d < 1 || d > 31) return null;
  const probe = new Date(0);
  probe.setUTCFullYear(y, m - 1, d);
  return probe.getUTCDate() === d && probe.getUTCMonth() === m - 1 ? Math.round(probe.getTime() / 86_400_000) : null;
}

/** A date filter value's day: a valid `Date`, ISO `YYYY-MM-DD` (a time part ignored) or `D!M!YYYY`; `null` when it is none. */
function filterDay(v: unknown): number | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : Math.floor(v.getTime() / 86_400_000);
  if (typeof v !== 'string') return null;
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(v);
  if (iso) return dayOf(Number(iso[1]), Number(iso[2]), Number(iso[3]));
  const bang = /^(\d{1,2})!(\d{1,2})!(\d{4})$/.exec(v);
  return bang ? dayOf(Number(bang[3]), Number(bang[2]), Number(bang[1])) : null;
}

/** The value as the attribute's type takes it (text, number, boolean, day), or `undefined` when it must be refused. */
function coerce(attr: AttributeDef, v: unknown): unknown {
  switch (attr.type) {
    case 'string':
      return typeof v === 'string' && !LONE_SURROGATE.test(v) ? v : undefined;
    case 'long':
      return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    case 'bool':
      return typeof v === 'boolean' ? v : undefined;
    case 'date':
      return filterDay(v) ?? undefined;
    default:
      return undefined;
  }
}

/** A row's value of `attr` in comparable form (folded text, number, boolean, day), `null` when it has none. */
function rowValue(attr: AttributeDef, row: Row): unknown {
  const v = row[attr.name];
  if (attr.type === 'date') return day(v);
  return v === null || v === undefined ? null : attr.type === 'string' ? fold(v) : v;
}

function valueFor(rnd: Random, attr: AttributeDef, rows: readonly Row[]): unknown {
  if (rnd.chance(0.08)) return wrongValue(rnd);
  const existing = rows.map((r) => r[attr.name]).filter((v) => v !== null && v !== undefined);
  switch (attr.type) {
    case 'string':
      return textLike(rnd, existing as string[]);
    case 'long':
    case 'number':
      return rnd.chance(0.6) && existing.length ? rnd.pick(existing) : rnd.pick([0, -1, 1.5, 2 ** 53, rnd.int(-10, 300_000)]);
    case 'bool':
      return rnd.chance(0.5);
    case 'date': {
      const picked = rnd.chance(0.5) && existing.length ? String(rnd.pick(existing)) : `${rnd.int(1990, 2030)}-0${rnd.int(1, 9)}-${rnd.int(10, 31)}`;
      return rnd.pick<unknown>([picked, picked, new Date(Date.UTC(rnd.int(1990, 2030), rnd.int(0, 11), rnd.int(1, 28))), '0!0!0', '', hostileString(rnd), '2021-02-30']);
    }
    default:
      return hostileString(rnd);
  }
}

const OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'begins', 'contains'] as const;

/** A random `f` filter tree over `table`, nesting up to `depth` levels. */
export function randomNode(rnd: Random, table: TableDef, rows: readonly Row[], depth = 3): FilterNode {
  const roll = rnd.next();
  if (depth > 0 && roll < 0.25) {
    const operands = Array.from({ length: rnd.chance(0.04) ? 0 : rnd.int(1, 3) }, () => randomNode(rnd, table, rows, depth - 1));
    return rnd.chance(0.5) ? f.and(...operands) : f.or(...operands);
  }
  if (depth > 0 && roll < 0.33) return f.not(randomNode(rnd, table, rows, depth - 1));
  const attrs = filterAttributes(table);
  const name = rnd.chance(0.04) ? rnd.pick(NOT_ATTRIBUTES) : rnd.chance(0.03) ? rnd.pick(table.attributes.filter((a) => a.type === 'object').map((a) => a.name).concat('Nummer')) : rnd.pick(attrs).name;
  const attr = attrs.find((a) => a.name === name);
  const value = () => (attr ? valueFor(rnd, attr, rows) : hostileString(rnd));
  const kind = rnd.next();
  if (kind < 0.1) return rnd.chance(0.5) ? f.isNull(name) : f.notNull(name);
  if (kind < 0.25) return f.in(name, Array.from({ length: rnd.chance(0.05) ? 0 : rnd.int(1, 4) }, value) as never[]);
  return { kind: 'compare', op: rnd.pick(OPS), attr: name, value: value() as never };
}

/** URL-encoded size with every byte but the unreserved ones escaped. */
export function encodedBytes(v: unknown): number {
  let bytes = 0;
  for (const b of Buffer.from(JSON.stringify(v) ?? '', 'utf8')) bytes += /[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? 1 : 3;
  return bytes;
}

/** Evaluates an `f` filter on `table`: the rows it selects under 4D's rules, and what is bad in it. */
export function evaluateNode(table: TableDef, node: FilterNode): LegacyExpectation {
  const bad: string[] = [];
  let paramBytes = 0;
  const attrs = filterAttributes(table);
  const never: Predicate = () => false;
  const visit = (n: FilterNode): Predicate => {
    switch (n.kind) {
      case 'and':
      case 'or': {
        if (n.operands.length === 0) bad.push('operand');
        const parts = n.operands.map(visit);
        return n.kind === 'and' ? (r) => parts.every((p) => p(r)) : (r) => parts.some((p) => p(r));
      }
      case 'not': {
        const inner = visit(n.operand);
        return (r) => !inner(r);
      }
      default: {
        const attr = attrs.find((a) => a.name === n.attr);
        if (!attr) {
          bad.push(n.attr);
          return never;
        }
        if (n.kind === 'null') return n.negate ? (r) => rowValue(attr, r) !== null : (r) => rowValue(attr, r) === null;
        const raw = n.kind === 'in' ? n.values : [n.value];
        const values = raw.map((v) => coerce(attr, v));
        if (n.kind === 'in' && raw.length === 0) bad.push(attr.name);
        if (values.some((v) => v === undefined)) {
          bad.push(attr.name);
          return never;
        }
        paramBytes += encodedBytes(raw) + 40;
        const comparable = values.map((v) => (attr.type === 'string' ? fold(v) : v));
        if (n.kind === 'in') return (r) => rowValue(attr, r) !== null && comparable.includes(rowValue(attr, r));
        const v = comparable[0];
        if (n.op === 'begins' || n.op === 'contains') {
          if (attr.type !== 'string' || (values[0] as string).includes('@')) bad.push(attr.name);
          return (r) => {
            const x = rowValue(attr, r);
            return x !== null && (n.op === 'begins' ? (x as string).startsWith(v as string) : (x as string).includes(v as string));
          };
        }
        if (attr.type === 'bool' && n.op !== 'eq' && n.op !== 'ne') bad.push(attr.name);
        const test = { eq: (c: number) => c === 0, ne: (c: number) => c !== 0, lt: (c: number) => c < 0, lte: (c: number) => c <= 0, gt: (c: number) => c > 0, gte: (c: number) => c >= 0 }[n.op];
        return (r) => {
          const x = rowValue(attr, r);
          if (x === null) return false;
          return test(x === v ? 0 : (x as number) < (v as number) ? -1 : 1);
        };
      }
    }
  };
  const predicate = visit(node);
  return { predicate, bad, paramBytes };
}
