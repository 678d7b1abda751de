/**
 * The cost model of this graph: how many upstream requests an operation will send to the ERP and
 * how many rows it will read, estimated from the operation and its variable values before anything
 * runs. It follows what the resolvers do (`src/mapping/data.ts`, `src/mapping/loaders.ts`):
 *
 * - a root list (`products`, `salesRecords`, … any `Query` field with `first` returning a
 *   connection) is one request for `first` rows (default from the schema, 20); identical list calls
 *   share one request;
 * - a root lookup by key (`product(id:)`, `legacyReady`) is one request for one row;
 * - `_entities` reads its representations: per type and key field ceil(n / `MAX_BATCH_SIZE`)
 *   requests, n rows, and each `... on Type` selection runs for that type's representations;
 * - a relation of `RELATIONS` is batched per level: ceil(parents / `MAX_BATCH_SIZE`) requests;
 *   N→1 (`SalesRecord.customer`) reads at most one row per parent, a paged 1→N
 *   (`Customer.salesRecords(first:)`) `first` rows per parent, an unpaged 1→N (`SalesRecord.items`,
 *   `Mold.articles`, …) the assumed `childrenPerParent` rows per parent;
 * - a mutation is two requests (a read of the current record and the write) for as many rows as its
 *   longest list argument (`bulkUpdateProducts(items:)`);
 * - everything else (`edges`, `node`, `pageInfo`, prices, payload fields) costs nothing and keeps
 *   the number of objects of its parent; introspection and `_service` cost nothing.
 *
 * Rows multiply down the tree, so `salesRecords(first: 100) { … customer { salesRecords(first: 100) } }`
 * estimates 100 × 100 rows for the inner list. Fields are merged by response key as graphql-js
 * executes them, `@skip`/`@include` are honoured, and a field whose arguments the resolver will
 * refuse (a `first` above `MAX_PAGE_SIZE`, an invalid argument) costs nothing: it fails before its
 * request.
 */
import {
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  isAbstractType,
  isObjectType,
  Kind,
  typeFromAST,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type InlineFragmentNode,
  type FragmentSpreadNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { pageArgs } from '../mapping/data.js';
import { ENTITIES, RELATIONS } from '../mapping/entities.js';

/** Parameters of the estimate. */
export interface CostModelOptions {
  /** Keys per upstream request of a loader (`MAX_BATCH_SIZE`); default 100. */
  readonly maxBatchSize?: number;
  /** Largest `first` a list accepts (`MAX_PAGE_SIZE`); a larger one is refused before its request; default 100. */
  readonly maxPageSize?: number;
  /** Rows per parent assumed for an unpaged 1→N relation (`QUERY_COST_CHILDREN`); default 10. */
  readonly childrenPerParent?: number;
}

/** The estimated cost of one operation. */
export interface CostEstimate {
  /** Upstream requests to the ERP. */
  readonly requests: number;
  /** Rows read from the ERP. */
  readonly rows: number;
  /** The field that reads the most rows, as a response path (`salesRecords.edges.node.customer`), with its rows. */
  readonly heaviest?: { readonly path: string; readonly rows: number };
}

type FieldKind =
  /** No upstream request and no subtree worth walking: introspection, `_service`. */
  | { kind: 'skip' }
  /** No upstream request; children run once per parent object. */
  | { kind: 'free' }
  /** A root field answered by one request for one row (lookup by key, `legacyReady`). */
  | { kind: 'lookup' }
  /** A root paged list. */
  | { kind: 'list' }
  | { kind: 'entities' }
  | { kind: 'mutation' }
  | { kind: 'belongsTo' }
  | { kind: 'hasMany'; paged: boolean };

const RELATION_KINDS: Readonly<Record<string, Readonly<Record<string, 'belongsTo' | 'hasMany'>>>> = Object.fromEntries(
  Object.entries(RELATIONS).map(([type, relations]) => [
    type,
    Object.fromEntries(Object.entries(relations).map(([field, relation]) => [field, relation.kind])),
  ]),
);

/** Key fields of each entity in the order `__resolveReference` tries them (`id`, then alternate keys). */
const REFERENCE_KEYS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  Object.values(ENTITIES).map((def) => [def.typename, ['id', ...def.alternateKeys]]),
);

/** A connection type: `edges { node }` (the `*Connection` types of the schema). */
function isConnection(type: GraphQLNamedType): boolean {
  if (!isObjectType(type)) return false;
  const edges = type.getFields().edges;
  const edge = edges && getNamedType(edges.type);
  return Boolean(edge && isObjectType(edge) && edge.getFields().node);
}

function classify(schema: GraphQLSchema, parent: GraphQLObjectType, field: GraphQLField<unknown, unknown>): FieldKind {
  if (field.name.startsWith('__')) return { kind: 'skip' };
  if (parent === schema.getQueryType()) {
    if (field.name === '_service') return { kind: 'skip' };
    if (field.name === '_entities') return { kind: 'entities' };
    if (field.args.some((a) => a.name === 'first') && isConnection(getNamedType(field.type))) return { kind: 'list' };
    return { kind: 'lookup' };
  }
  if (parent === schema.getMutationType()) return { kind: 'mutation' };
  const relation = RELATION_KINDS[parent.name]?.[field.name];
  if (relation === 'belongsTo') return { kind: 'belongsTo' };
  if (relation === 'hasMany') return { kind: 'hasMany', paged: field.args.some((a) => a.name === 'first') };
  return { kind: 'free' };
}

/**
 * Estimates the upstream requests and rows of `operation` with `variables` (already coerced, e.g. by
 * graphql's `getVariableValues`). The operation must have passed validation (depth limit included:
 * the walk recurses once per selection level).
 */
export function estimateCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  variables: Readonly<Record<string, unknown>>,
  options: CostModelOptions = {},
): CostEstimate {
  const maxBatchSize = options.maxBatchSize ?? 100;
  const maxPageSize = options.maxPageSize ?? 100;
  const childrenPerParent = options.childrenPerParent ?? 10;
  const kinds = new Map<GraphQLField<unknown, unknown>, FieldKind>();
  const lists = new Set<string>();
  let requests = 0;
  let rows = 0;
  let heaviest: { path: string; rows: number } | undefined;

  const batches = (keys: number) => Math.ceil(keys / maxBatchSize);
  const included = (node: FieldNode | InlineFragmentNode | FragmentSpreadNode) =>
    getDirectiveValues(GraphQLSkipDirective, node, variables as Record<string, unknown>)?.if !== true &&
    getDirectiveValues(GraphQLIncludeDirective, node, variables as Record<string, unknown>)?.if !== false;
  const applies = (condition: InlineFragmentNode['typeCondition'], type: GraphQLObjectType) => {
    if (!condition) return true;
    const conditional = typeFromAST(schema, condition);
    if (!conditional) return false;
    if (conditional === type) return true;
    return isAbstractType(conditional) && schema.isSubType(conditional, type);
  };

  /** Fields of `sets` that run on `type`, merged by response key (graphql-js `collectFields`). */
  const collect = (type: GraphQLObjectType, sets: readonly SelectionSetNode[]) => {
    const fields = new Map<string, FieldNode[]>();
    const visited = new Set<string>();
    const visit = (set: SelectionSetNode) => {
      for (const selection of set.selections) {
        if (!included(selection)) continue;
        if (selection.kind === Kind.FIELD) {
          const key = selection.alias?.value ?? selection.name.value;
          const group = fields.get(key);
          if (group) group.push(selection);
          else fields.set(key, [selection]);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          if (applies(selection.typeCondition, type)) visit(selection.selectionSet);
        } else {
          const name = selection.name.value;
          const fragment = fragments[name];
          if (visited.has(name) || !fragment) continue;
          visited.add(name);
          if (applies(fragment.typeCondition, type)) visit(fragment.selectionSet);
        }
      }
    };
    for (const set of sets) visit(set);
    return fields;
  };

  const charge = (path: string, r: number, q: number) => {
    requests += q;
    rows += r;
    if (r > 0 && (!heaviest || r > heaviest.rows)) heaviest = { path, rows: r };
  };

  /** The page size the resolver will use (its own check and default), or `undefined` when it refuses it before any request. */
  const pageSize = (first: unknown) => {
    try {
      return pageArgs('', { first: first as number | null | undefined }, maxPageSize).first;
    } catch {
      return undefined;
    }
  };

  const walk = (type: GraphQLObjectType, sets: readonly SelectionSetNode[], parents: number, prefix: string) => {
    for (const [key, nodes] of collect(type, sets)) {
      const field = type.getFields()[nodes[0].name.value];
      if (!field) continue;
      let kind = kinds.get(field);
      if (!kind) kinds.set(field, (kind = classify(schema, type, field)));
      if (kind.kind === 'skip') continue;
      let args: Record<string, unknown>;
      try {
        args = getArgumentValues(field, nodes[0], variables as Record<string, unknown>);
      } catch {
        continue; // the field fails on its arguments before its resolver runs
      }
      const path = prefix ? `${prefix}.${key}` : key;
      let children = parents;
      let perType: Map<string, number> | undefined;
      switch (kind.kind) {
        case 'free':
          break;
        case 'lookup':
          charge(path, 1, 1);
          children = 1;
          break;
        case 'list': {
          const first = pageSize(args.first);
          if (first === undefined) continue;
          // The mapping memoizes identical pages per request: a repeat costs nothing upstream.
          const id = JSON.stringify([field.name, args.filter ?? null, args.orderBy ?? null, first, args.after ?? null]);
          if (!lists.has(id)) charge(path, Math.max(first, 1), 1);
          lists.add(id);
          children = first;
          break;
        }
        case 'entities': {
          const representations = Array.isArray(args.representations) ? (args.representations as unknown[]) : [];
          perType = new Map();
          const perKey = new Map<string, number>();
          for (const rep of representations) {
            const typename = String((rep as Record<string, unknown> | null)?.__typename);
            perType.set(typename, (perType.get(typename) ?? 0) + 1);
            const keyField = (REFERENCE_KEYS[typename] ?? ['id']).find((k) => (rep as Record<string, unknown>)[k] != null) ?? 'id';
            perKey.set(`${typename}.${keyField}`, (perKey.get(`${typename}.${keyField}`) ?? 0) + 1);
          }
          charge(path, representations.length, [...perKey.values()].reduce((sum, n) => sum + batches(n), 0));
          children = representations.length;
          break;
        }
        case 'mutation': {
          const longest = Math.max(1, ...Object.values(args).map((v) => (Array.isArray(v) ? v.length : 0)));
          charge(path, longest, 2);
          children = longest;
          break;
        }
        case 'belongsTo':
          charge(path, parents, batches(parents));
          break;
        case 'hasMany': {
          const perParent = kind.paged ? pageSize(args.first) : childrenPerParent;
          if (perParent === undefined) continue;
          children = parents * perParent;
          charge(path, children, batches(parents));
          break;
        }
      }
      if (children === 0) continue;
      const sets = nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
      if (sets.length === 0) continue;
      const named = getNamedType(field.type);
      if (isObjectType(named)) walk(named, sets, children, path);
      else if (isAbstractType(named)) {
        for (const possible of schema.getPossibleTypes(named)) {
          const count = perType ? (perType.get(possible.name) ?? 0) : children;
          if (count > 0) walk(possible, sets, count, path);
        }
      }
    }
  };

  const root = operation.operation === 'mutation' ? schema.getMutationType() : operation.operation === 'query' ? schema.getQueryType() : schema.getSubscriptionType();
  if (root) walk(root, [operation.selectionSet], 1, '');
  return { requests, rows, heaviest };
}
