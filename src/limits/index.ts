/**
 * Query limits: what one operation may cost before it is refused, checked before any upstream
 * request. Static limits (depth, aliases) are validation rules; the filter depth and the cost
 * estimate, which depend on variable values, are checked by a plugin once the operation is
 * resolved. Wire both into Apollo Server with {@link queryLimits}.
 */
import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import type { ValidationRule } from 'graphql';
import { queryLimitsPlugin, type QueryLimitHooks } from './plugin.js';
import { staticLimitRules } from './static.js';

export { estimateCost, type CostEstimate, type CostModelOptions } from './cost.js';
export { queryLimitsPlugin, type CostLimits, type QueryLimitHooks } from './plugin.js';
export { staticLimitRules, type StaticLimits } from './static.js';

/** Every limit, as `src/config.ts` reads them (`queryLimits`), with the page and batch sizes the estimate needs. */
export interface QueryLimitOptions {
  /** `MAX_QUERY_DEPTH`; default 12. */
  readonly maxDepth?: number;
  /** `MAX_ALIASES`; default 30. */
  readonly maxAliases?: number;
  /** `MAX_QUERY_TOKENS`: lexical tokens of the document, enforced by the parser itself; default 5000. */
  readonly maxTokens?: number;
  /** `MAX_QUERY_REQUESTS`; default 200. */
  readonly maxRequests?: number;
  /** `MAX_QUERY_ROWS`; default 20000. */
  readonly maxRows?: number;
  /** `QUERY_COST_CHILDREN`: rows per parent assumed for an unpaged 1→N relation; default 10. */
  readonly childrenPerParent?: number;
  /** `MAX_BATCH_SIZE`; default 100. */
  readonly maxBatchSize?: number;
  /** `MAX_PAGE_SIZE`; default 100. */
  readonly maxPageSize?: number;
}

/** The defaults of {@link QueryLimitOptions} (the same as `src/config.ts`'s). */
export const DEFAULT_QUERY_LIMITS = { maxDepth: 12, maxAliases: 30, maxTokens: 5000, maxRequests: 200, maxRows: 20_000, childrenPerParent: 10 } as const;

/**
 * The parser options, validation rules and plugin of the limits, for
 * `new ApolloServer({ parseOptions, validationRules, plugins })`. The token limit stops a huge
 * document (thousands of aliases, a deeply nested literal) in the parser, before validation spends
 * CPU on it; graphql-js then answers `GRAPHQL_PARSE_FAILED` "Document contains more than N tokens".
 */
export function queryLimits<TContext extends BaseContext>(options: QueryLimitOptions = {}, hooks: QueryLimitHooks = {}): {
  parseOptions: { maxTokens: number };
  validationRules: ValidationRule[];
  plugin: ApolloServerPlugin<TContext>;
} {
  const limits = { ...DEFAULT_QUERY_LIMITS, ...definedOnly(options) };
  return {
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: staticLimitRules(limits),
    plugin: queryLimitsPlugin<TContext>({
      maxRequests: limits.maxRequests,
      maxRows: limits.maxRows,
      childrenPerParent: limits.childrenPerParent,
      maxBatchSize: options.maxBatchSize,
      maxPageSize: options.maxPageSize,
    }, hooks),
  };
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
