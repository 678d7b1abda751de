/**
 * Turns a typed GraphQL filter input (`{ name: { beginsWith: "Lok" }, or: [...] }`) into the legacy
 * client's filter AST, which compiles it to a 4D `$filter` with placeholders. Only fields declared
 * `filterable` in the entity definition are accepted; anything else is an `InputError` naming it.
 */
import { LegacyValidationError } from '../legacy/errors.js';
import { f, type FilterNode, type FilterValue } from '../legacy/filter.js';
import type { EntityDefinition } from './entity.js';
import { InputError } from './errors.js';
import { money, parseMoney } from './fields.js';

type Operators = Record<string, unknown>;

/**
 * How deeply `and`/`or`/`not` may nest in one filter (`{ not: { and: [{ … }] } }` is 2 levels).
 * Hand-written filters need a handful; a deeper one is refused as `BAD_USER_INPUT` before any
 * upstream request, instead of exhausting the stack (graphql-js coerces variables recursively) or
 * the URL.
 */
export const MAX_FILTER_DEPTH = 20;

/**
 * The `and`/`or`/`not` nesting of a filter input (0 for plain field conditions), measured without
 * recursion so that any depth can be measured and reported. Lists count as their deepest element;
 * values that are not objects count 0.
 */
export function filterDepth(input: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[input, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth]);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    deepest = Math.max(deepest, depth);
    for (const key of ['and', 'or', 'not']) {
      const inner = (value as Record<string, unknown>)[key];
      if (inner !== undefined && inner !== null) stack.push([inner, depth + 1]);
    }
  }
  return deepest;
}

/** The refusal of a filter nested deeper than {@link MAX_FILTER_DEPTH}, naming the limit and the depth found. */
export function filterTooDeepMessage(path: string, depth: number): string {
  return `${path} nests and/or/not ${depth} levels deep; at most ${MAX_FILTER_DEPTH} levels are allowed`;
}

const OPERATORS = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'beginsWith', 'contains', 'isNull'] as const;

function filterableFields(def: EntityDefinition): string[] {
  return ['id', ...Object.entries(def.fields).filter(([, d]) => d.filterable).map(([name]) => name)];
}

function toValue(def: EntityDefinition, field: string, value: unknown, path: string): FilterValue {
  const codec = field === 'id' ? undefined : def.fields[field].codec;
  if (codec === money) {
    try {
      return parseMoney(value);
    } catch (err) {
      throw new InputError(`${path}: ${(err as Error).message}`);
    }
  }
  if (value === null || value === undefined) throw new InputError(`${path} must not be null`);
  return value as FilterValue;
}

function fieldConditions(def: EntityDefinition, field: string, ops: Operators, path: string): FilterNode[] {
  const attribute = field === 'id' ? '__KEY' : def.fields[field].attribute;
  const nodes: FilterNode[] = [];
  for (const [op, raw] of Object.entries(ops)) {
    if (raw === undefined || raw === null) continue;
    const at = `${path}.${op}`;
    if (!(OPERATORS as readonly string[]).includes(op)) throw new InputError(`${at} is not a filter operator`);
    switch (op) {
      case 'isNull':
        nodes.push(raw ? f.isNull(attribute) : f.notNull(attribute));
        break;
      case 'in': {
        const list = raw as unknown[];
        if (list.length === 0) throw new InputError(`${at} must list at least one value`);
        nodes.push(f.in(attribute, list.map((v, i) => toValue(def, field, v, `${at}[${i}]`))));
        break;
      }
      case 'beginsWith':
      case 'contains': {
        const text = String(raw);
        // 4D has no escape for its "@" wildcard: a literal "@" cannot be matched by prefix or part.
        if (text.includes('@')) throw new InputError(`${at} cannot contain "@" (the ERP's wildcard); use eq to match it exactly`);
        nodes.push(op === 'beginsWith' ? f.begins(attribute, text) : f.contains(attribute, text));
        break;
      }
      default: {
        const build = { eq: f.eq, ne: f.ne, gt: f.gt, gte: f.gte, lt: f.lt, lte: f.lte }[op as 'eq'];
        nodes.push(build(attribute, toValue(def, field, raw, at)));
      }
    }
  }
  return nodes;
}

function combine(nodes: FilterNode[], how: 'and' | 'or'): FilterNode | undefined {
  if (nodes.length === 0) return undefined;
  if (nodes.length === 1) return nodes[0];
  return how === 'and' ? f.and(...nodes) : f.or(...nodes);
}

/**
 * Converts `input` (a `<Type>Filter`) into a filter node; `undefined` when it sets no condition.
 * @param path the argument's name in error messages (default `filter`)
 * @throws InputError for a field that is not filterable, an empty `in`, a bad value, and/or/not
 *   nested deeper than {@link MAX_FILTER_DEPTH}
 */
export function toLegacyFilter(def: EntityDefinition, input: Record<string, unknown> | null | undefined, path = 'filter'): FilterNode | undefined {
  const depth = filterDepth(input);
  if (depth > MAX_FILTER_DEPTH) throw new InputError(filterTooDeepMessage(path, depth));
  return translate(def, input, path);
}

function translate(def: EntityDefinition, input: Record<string, unknown> | null | undefined, path: string): FilterNode | undefined {
  if (!input) return undefined;
  const nodes: FilterNode[] = [];
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || value === null) continue;
    const at = `${path}.${key}`;
    if (key === 'and' || key === 'or') {
      // An empty `and` is vacuously true (no condition); an empty `or` would match nothing in logic
      // but "no condition" here, so it is refused like an empty `in`.
      if (key === 'or' && (value as unknown[]).length === 0) throw new InputError(`${at} must list at least one condition`);
      const parts = (value as Record<string, unknown>[])
        .map((part, i) => translate(def, part, `${at}[${i}]`))
        .filter((n): n is FilterNode => n !== undefined);
      const node = combine(parts, key);
      if (node) nodes.push(node);
    } else if (key === 'not') {
      const inner = translate(def, value as Record<string, unknown>, at);
      if (inner) nodes.push(f.not(inner));
    } else if (key === 'id' || def.fields[key]?.filterable) {
      nodes.push(...fieldConditions(def, key, value as Operators, at));
    } else {
      throw new InputError(`${at}: ${def.typename} cannot be filtered on "${key}"; filterable fields: ${filterableFields(def).join(', ')}`);
    }
  }
  return combine(nodes, 'and');
}

/**
 * A filter value the legacy client refused while sending (a lone surrogate, a value too long for one
 * request URL) is named by its 4D attribute (`Artikel_Variante.Bezeichnung`, the error's
 * `attribute`), which a GraphQL client does not know: this puts the filterable field(s) on that
 * attribute in front (`filter.name: …`).
 * Any other error is returned as it is.
 */
export function nameFilterFields(def: EntityDefinition, error: unknown, path = 'filter'): unknown {
  if (!(error instanceof LegacyValidationError) || !error.attribute || error.table !== def.table) return error;
  const fields = [['id', '__KEY'], ...Object.entries(def.fields).filter(([, d]) => d.filterable).map(([name, d]) => [name, d.attribute])]
    .filter(([, attribute]) => attribute === error.attribute)
    .map(([name]) => `${path}.${name}`);
  return fields.length === 0 ? error : new InputError(`${fields.join(', ')}: ${error.message}`);
}
