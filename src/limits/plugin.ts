/**
 * The Apollo Server plugin that checks what depends on variable values, once the operation and its
 * variables are known and before execution (`didResolveOperation`), so a refusal costs no upstream
 * request:
 *
 * 1. filters nested deeper than `MAX_FILTER_DEPTH` levels of `and`/`or`/`not` are `BAD_USER_INPUT`
 *    (measured on the raw values: graphql-js would otherwise coerce a variable thousands of levels
 *    deep recursively and fail with a stack overflow, an internal error);
 * 2. the estimated cost (`./cost.ts`) above `MAX_QUERY_REQUESTS` or `MAX_QUERY_ROWS` is
 *    `QUERY_TOO_COSTLY`.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  getNamedType,
  getVariableValues,
  GraphQLError,
  isInputObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValueNode,
} from 'graphql';
import type { ErrorCode } from '../errors.js';
import { filterDepth, filterTooDeepMessage, MAX_FILTER_DEPTH } from '../mapping/filters.js';
import { estimateCost, type CostEstimate, type CostModelOptions } from './cost.js';

/** Limits of {@link queryLimitsPlugin}. */
export interface CostLimits extends CostModelOptions {
  /** Estimated upstream requests per operation (`MAX_QUERY_REQUESTS`). */
  readonly maxRequests: number;
  /** Estimated rows read from the ERP per operation (`MAX_QUERY_ROWS`). */
  readonly maxRows: number;
}

/** Refusals of the plugin are the client's mistake: HTTP 400 (Apollo's default for a plugin error is 500). */
function refusal(message: string, code: ErrorCode, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions, http: { status: 400 } } });
}

/** A filter input type: an input object with `and`/`or`/`not` (the `*Filter` types). */
function isFilterType(type: unknown): boolean {
  if (!isInputObjectType(type)) return false;
  const fields = type.getFields();
  return Boolean(fields.and || fields.or || fields.not);
}

/** The and/or/not depth of a filter literal, with variables inside it read raw; iterative. */
function literalFilterDepth(node: ValueNode, variables: Readonly<Record<string, unknown>>): number {
  let deepest = 0;
  const stack: Array<[ValueNode, number]> = [[node, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value.kind === Kind.VARIABLE) deepest = Math.max(deepest, depth + filterDepth(variables[value.name.value]));
    else if (value.kind === Kind.LIST) for (const item of value.values) stack.push([item, depth]);
    else if (value.kind === Kind.OBJECT) {
      deepest = Math.max(deepest, depth);
      for (const field of value.fields) {
        if (field.name.value === 'and' || field.name.value === 'or' || field.name.value === 'not') stack.push([field.value, depth + 1]);
      }
    }
  }
  return deepest;
}

/** Throws `BAD_USER_INPUT` for the first filter argument nested deeper than {@link MAX_FILTER_DEPTH}. */
function checkFilterDepth(schema: GraphQLSchema, document: DocumentNode, variables: Readonly<Record<string, unknown>>): void {
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        const argument = typeInfo.getArgument();
        if (!argument || !isFilterType(getNamedType(argument.type))) return false;
        const depth = literalFilterDepth(node.value, variables);
        if (depth > MAX_FILTER_DEPTH) {
          const field = typeInfo.getFieldDef()?.name ?? '?';
          throw refusal(`${field}: ${filterTooDeepMessage(node.name.value, depth)}`, 'BAD_USER_INPUT', {
            limit: 'MAX_FILTER_DEPTH',
            argument: `${field}.${node.name.value}`,
            maximum: MAX_FILTER_DEPTH,
            found: depth,
          });
        }
        return false; // measured above; the literal itself needs no visit
      },
    }),
  );
}

function format(n: number): string {
  return n > Number.MAX_SAFE_INTEGER ? `more than ${Number.MAX_SAFE_INTEGER}` : String(Math.round(n));
}

function tooCostly(cost: CostEstimate, limits: CostLimits): GraphQLError {
  const [setting, maximum, found, what] =
    cost.rows > limits.maxRows
      ? (['MAX_QUERY_ROWS', limits.maxRows, cost.rows, 'rows read from the ERP'] as const)
      : (['MAX_QUERY_REQUESTS', limits.maxRequests, cost.requests, 'upstream requests'] as const);
  const heaviest = cost.heaviest ? `; most rows at ${cost.heaviest.path} (${format(cost.heaviest.rows)})` : '';
  return refusal(
    `The operation is too costly for the ERP: an estimated ${format(found)} ${what}, at most ${maximum} are allowed (${setting})` +
      ` [estimate: ${format(cost.requests)} requests, ${format(cost.rows)} rows${heaviest}]; ask for smaller pages (first) or fewer nested lists`,
    'QUERY_TOO_COSTLY',
    { limit: setting, maximum, found: Math.min(found, Number.MAX_SAFE_INTEGER), cost: { requests: Math.min(cost.requests, Number.MAX_SAFE_INTEGER), rows: Math.min(cost.rows, Number.MAX_SAFE_INTEGER) } },
  );
}

/** Observers of the limits (metrics); default none. */
export interface QueryLimitHooks {
  /** Called with the estimate of every operation whose variables coerce, refused or not. */
  readonly onCost?: (cost: CostEstimate) => void;
}

/** The plugin: filter depth and cost limits, before execution. */
export function queryLimitsPlugin<TContext extends BaseContext>(limits: CostLimits, hooks: QueryLimitHooks = {}): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          const raw = request.variables ?? {};
          checkFilterDepth(schema, document, raw);
          if (!operation) return;
          const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], raw);
          if (coerced.errors) return; // execution reports them, before any resolver runs
          const fragments: Record<string, FragmentDefinitionNode> = {};
          for (const definition of document.definitions) {
            if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
          }
          const cost = estimateCost(schema, operation as OperationDefinitionNode, fragments, coerced.coerced, limits);
          hooks.onCost?.(cost);
          if (cost.rows > limits.maxRows || cost.requests > limits.maxRequests) throw tooCostly(cost, limits);
        },
      };
    },
  };
}
