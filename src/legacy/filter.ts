/**
 * A small, typed filter AST compiled to a 4D REST `$filter` with `:n` placeholders.
 *
 * Every value goes into `$params`; the filter text only holds attribute names (checked against
 * `tables.ts`), comparators, placeholders, parentheses and the keyword `null` (4D cannot take `null`
 * through a placeholder). So no user value can change the meaning of a query, whatever it contains.
 *
 * Exactness with 4D's `@` wildcard:
 * - `eq`/`ne` compile to the literal comparators `===`/`!==`: `@` in the value is an ordinary
 *   character. 4D text comparison stays case- and accent-insensitive (`'muller' === 'Müller'`),
 *   which this builder cannot change.
 * - `in` compiles to `attr IN :n` (one array parameter) unless a text value contains `@` (which `IN`
 *   would treat as a wildcard); then it becomes an OR of `===` comparisons.
 * - `begins`/`contains` use `=` with a trailing / surrounding `@`; a value that itself contains `@`
 *   cannot be matched exactly that way and is rejected with a {@link LegacyValidationError}.
 * - `ne` follows 4D: it does not match null values; use `or(ne(a, v), isNull(a))` to include them.
 */
import { isoDateToFilterValue, CodecError } from './codecs.js';
import { LegacyValidationError } from './errors.js';
import { findAttribute, findTable, TABLE_NAMES, type AttributeDef, type TableDef } from './tables.js';

/** A scalar a filter may compare with. Dates: ISO `YYYY-MM-DD` string or `Date`. */
export type FilterValue = string | number | boolean | Date;

export type ComparisonOp = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'begins' | 'contains';

export type FilterNode =
  | { readonly kind: 'compare'; readonly op: ComparisonOp; readonly attr: string; readonly value: FilterValue }
  | { readonly kind: 'in'; readonly attr: string; readonly values: readonly FilterValue[] }
  | { readonly kind: 'null'; readonly attr: string; readonly negate: boolean }
  | { readonly kind: 'and' | 'or'; readonly operands: readonly FilterNode[] }
  | { readonly kind: 'not'; readonly operand: FilterNode };

/**
 * A hand-written 4D filter, passed through unchanged (an escape hatch for the compatibility module).
 * Its placeholders are its own; it cannot be combined with AST nodes.
 */
export interface RawFilter {
  readonly kind: 'raw';
  readonly filter: string;
  readonly params?: readonly unknown[];
}

/** Output of {@link compileFilter}: the `$filter` text and the `$params` array. */
export interface CompiledFilter {
  readonly filter: string;
  readonly params: unknown[];
}

const cmp = (op: ComparisonOp) => (attr: string, value: FilterValue): FilterNode => ({ kind: 'compare', op, attr, value });

/** Filter constructors: `f.and(f.eq('Nummer', '218093'), f.gte('Release_date', '2024-01-01'))`. */
export const f = {
  /** `attr === value` (literal, `@` is not a wildcard; text comparison is case/accent-insensitive). */
  eq: cmp('eq'),
  /** `attr !== value` (does not match nulls, like 4D). */
  ne: cmp('ne'),
  lt: cmp('lt'),
  lte: cmp('lte'),
  gt: cmp('gt'),
  gte: cmp('gte'),
  /** Text begins with `value` (`value` must not contain `@`). */
  begins: cmp('begins'),
  /** Text contains `value` (`value` must not contain `@`). */
  contains: cmp('contains'),
  /** `attr` equals one of `values` (at least one value). */
  in: (attr: string, values: readonly FilterValue[]): FilterNode => ({ kind: 'in', attr, values }),
  /** `attr = null`. */
  isNull: (attr: string): FilterNode => ({ kind: 'null', attr, negate: false }),
  /** `NOT(attr = null)`. */
  notNull: (attr: string): FilterNode => ({ kind: 'null', attr, negate: true }),
  /** All operands (at least one). */
  and: (...operands: FilterNode[]): FilterNode => ({ kind: 'and', operands }),
  /** Any operand (at least one). */
  or: (...operands: FilterNode[]): FilterNode => ({ kind: 'or', operands }),
  /** Negation: `NOT(x)`. */
  not: (operand: FilterNode): FilterNode => ({ kind: 'not', operand }),
  /** A raw 4D filter with its own `:n` placeholders (use sparingly). */
  raw: (filter: string, params: readonly unknown[] = []): RawFilter => ({ kind: 'raw', filter, params }),
};

/** 4D's documented limit for indexed placeholders in one query. */
export const MAX_PLACEHOLDERS = 128;

const COMPARATORS: Record<ComparisonOp, string> = {
  eq: '===',
  ne: '!==',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  begins: '=',
  contains: '=',
};

/** Resolves a table by name or throws a {@link LegacyValidationError} listing the known tables. */
export function requireTable(name: string): TableDef {
  const table = typeof name === 'string' ? findTable(name) : undefined;
  if (!table) {
    throw new LegacyValidationError(
      `Unknown table ${JSON.stringify(name)}. Known tables: ${TABLE_NAMES.join(', ')}`,
    );
  }
  return table;
}

/** Lists a table's attribute names (system attributes first), for error messages. */
export function attributeNames(table: TableDef): string[] {
  return ['__KEY', '__STAMP', '__TIMESTAMP', ...table.attributes.map((a) => a.name)];
}

/**
 * Resolves an attribute of `table` or throws a {@link LegacyValidationError} naming it and listing the
 * table's attributes. A dot path (`Preise.Coll[].Art`) is accepted into an `object` attribute.
 */
export function requireAttribute(table: TableDef, name: string): AttributeDef & { path?: string } {
  if (typeof name === 'string') {
    const direct = findAttribute(table, name);
    if (direct) return direct;
    const dot = name.indexOf('.');
    if (dot > 0) {
      const root = findAttribute(table, name.slice(0, dot));
      const rest = name.slice(dot + 1);
      if (root?.type === 'object' && /^[\p{L}\p{N}_]+(\[[a-z]?\])?(\.[\p{L}\p{N}_]+(\[[a-z]?\])?)*$/u.test(rest)) {
        return { ...root, path: name };
      }
    }
  }
  throw new LegacyValidationError(
    `Unknown attribute ${JSON.stringify(name)} in table ${table.name}. Attributes of ${table.name}: ${attributeNames(table).join(', ')}`,
    { table: table.name },
  );
}

/** A short, safe rendering of a value for error messages (at most ~80 characters). */
export function describe(value: unknown): string {
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  try {
    const json = JSON.stringify(value);
    if (json === undefined) return String(value);
    return json.length > 80 ? `${json.slice(0, 77)}...` : json;
  } catch {
    return String(value);
  }
}

const LONE_SURROGATE = /\p{Surrogate}/u;

function checkText(value: string, table: TableDef, attr: string): string {
  if (LONE_SURROGATE.test(value)) {
    throw new LegacyValidationError(`Value for ${table.name}.${attr} is not well-formed Unicode (lone surrogate)`, {
      table: table.name,
      attribute: attr,
    });
  }
  return value;
}

/**
 * Checks a filter value against the attribute type and returns the `$params` element:
 * text → string, long → integer, number → finite number, bool → boolean, date → `YYYY-MM-DD`.
 */
export function filterParam(table: TableDef, def: AttributeDef & { path?: string }, value: unknown): unknown {
  const attr = def.path ?? def.name;
  const fail = (expected: string): never => {
    throw new LegacyValidationError(
      `Bad value ${describe(value)} for ${table.name}.${attr}: expected ${expected}` +
        (value === null || value === undefined ? ' (use isNull/notNull to test for null)' : ''),
      { table: table.name },
    );
  };
  if (def.path) {
    // Inside an object attribute: any JSON scalar; no schema to check against.
    if (typeof value === 'string') return checkText(value, table, attr);
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'boolean') return value;
    return fail('a string, finite number or boolean');
  }
  switch (def.type) {
    case 'string':
      return typeof value === 'string' ? checkText(value, table, attr) : fail('a string');
    case 'long':
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : fail('an integer');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail('a finite number');
    case 'bool':
      return typeof value === 'boolean' ? value : fail('a boolean');
    case 'date': {
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) return fail('a valid date');
        return value.toISOString().slice(0, 10);
      }
      if (typeof value !== 'string') return fail('an ISO date YYYY-MM-DD or a Date');
      try {
        return isoDateToFilterValue(value);
      } catch (e) {
        if (e instanceof CodecError) return fail('an ISO date YYYY-MM-DD or a Date');
        throw e;
      }
    }
    case 'object':
      throw new LegacyValidationError(
        `${table.name}.${attr} is an object attribute and cannot be compared directly; filter on a path inside it (for example "${attr}.prop")`,
        { table: table.name },
      );
  }
}

/**
 * Compiles a filter for `table` into 4D `$filter` text with `:n` placeholders and the `$params` array.
 * Throws {@link LegacyValidationError} for unknown attributes, wrongly typed values, empty `and`/`or`/
 * `in`, and `begins`/`contains` values containing `@`.
 */
export function compileFilter(table: TableDef | string, node: FilterNode | RawFilter): CompiledFilter {
  const def = typeof table === 'string' ? requireTable(table) : table;
  if (!node || typeof node !== 'object') {
    throw new LegacyValidationError(`Bad filter ${describe(node)} for ${def.name}: expected a filter node`, {
      table: def.name,
    });
  }
  if (node.kind === 'raw') {
    if (typeof node.filter !== 'string' || node.filter.trim() === '') {
      throw new LegacyValidationError(`Raw filter for ${def.name} must be a non-empty string`, { table: def.name });
    }
    return { filter: node.filter, params: [...(node.params ?? [])] };
  }
  const params: unknown[] = [];
  const placeholder = (value: unknown): string => {
    params.push(value);
    if (params.length > MAX_PLACEHOLDERS) {
      throw new LegacyValidationError(
        `Filter on ${def.name} needs more than ${MAX_PLACEHOLDERS} placeholders (4D's limit); split it or use fewer values`,
        { table: def.name },
      );
    }
    return `:${params.length}`;
  };
  const filter = compileNode(def, node, placeholder);
  return { filter, params };
}

function compileNode(table: TableDef, node: FilterNode, placeholder: (v: unknown) => string): string {
  const bad = (why: string): never => {
    throw new LegacyValidationError(`Bad filter on ${table.name}: ${why}`, { table: table.name });
  };
  if (!node || typeof node !== 'object') return bad(`expected a filter node, got ${describe(node)}`);
  switch (node.kind) {
    case 'compare': {
      const def = requireAttribute(table, node.attr);
      const name = def.path ?? def.name;
      if (!(node.op in COMPARATORS)) return bad(`unknown operator ${describe(node.op)}`);
      const value = filterParam(table, def, node.value);
      if (node.op === 'begins' || node.op === 'contains') {
        if (def.type !== 'string' && !def.path) return bad(`${node.op} needs a text attribute, ${name} is ${def.type}`);
        const text = value as string;
        if (text.includes('@')) {
          return bad(
            `${node.op}(${name}, ${describe(text)}): the value contains "@", which 4D treats as a wildcard in ` +
              `begins/contains matches, so it cannot be matched exactly; use eq/in (literal) instead`,
          );
        }
        const pattern = node.op === 'begins' ? `${text}@` : `@${text}@`;
        return `${name} = ${placeholder(pattern)}`;
      }
      if (def.type === 'bool' && !['eq', 'ne'].includes(node.op)) {
        return bad(`${node.op} is not defined for the boolean attribute ${name}`);
      }
      return `${name} ${COMPARATORS[node.op]} ${placeholder(value)}`;
    }
    case 'in': {
      const def = requireAttribute(table, node.attr);
      const name = def.path ?? def.name;
      if (!Array.isArray(node.values) || node.values.length === 0) {
        return bad(`in(${name}) needs a non-empty array of values`);
      }
      const values = node.values.map((v) => filterParam(table, def, v));
      // IN treats "@" as a wildcard; fall back to literal comparisons when a text value has one.
      if (values.some((v) => typeof v === 'string' && v.includes('@'))) {
        return `(${values.map((v) => `${name} === ${placeholder(v)}`).join(' OR ')})`;
      }
      return `${name} IN ${placeholder(values)}`;
    }
    case 'null': {
      const def = requireAttribute(table, node.attr);
      const name = def.path ?? def.name;
      // null cannot be passed as a placeholder (§8.6), so it is the only literal in the text.
      return node.negate ? `NOT(${name} = null)` : `${name} = null`;
    }
    case 'and':
    case 'or': {
      if (!Array.isArray(node.operands) || node.operands.length === 0) {
        return bad(`${node.kind}() needs at least one operand`);
      }
      const joiner = node.kind === 'and' ? ' AND ' : ' OR ';
      return `(${node.operands.map((o) => compileNode(table, o, placeholder)).join(joiner)})`;
    }
    case 'not':
      return `NOT(${compileNode(table, node.operand, placeholder)})`;
    default:
      if ((node as { kind?: unknown }).kind === 'raw') return bad('a raw filter cannot be nested inside and/or/not');
      return bad(`unknown filter node kind ${describe((node as { kind?: unknown }).kind)}`);
  }
}
