/**
 * The static limits, checked while the document is validated (so a refused document costs no
 * upstream request, and Apollo Server's document cache remembers the verdict): selection depth and
 * aliases, with graphql-armor's rules. Their refusals are `GRAPHQL_VALIDATION_FAILED` errors whose
 * message names the setting, the limit and what the document has; `extensions` carry the same as
 * `limit`, `maximum` and `found`.
 */
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql';

/** Limits of {@link staticLimitRules}. */
export interface StaticLimits {
  /** Deepest selection nesting (`MAX_QUERY_DEPTH`); fragments do not add a level, `__schema` (introspection) is not counted. */
  readonly maxDepth: number;
  /** Aliases per operation, fragments counted where they are spread (`MAX_ALIASES`); `__typename` aliases are free. */
  readonly maxAliases: number;
}

/** graphql-armor's message: "Syntax Error: Query depth limit of 12 exceeded, found 21." */
const ARMOR_MESSAGE = /limit of (\d+) exceeded, found (\d+)/;

function reporter(setting: string, describe: (maximum: number, found: number) => string) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    const match = ARMOR_MESSAGE.exec(error.message);
    const [maximum, found] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
    const message = match ? describe(maximum, found) : `${error.message.replace(/^Syntax Error: /, '')} (${setting})`;
    context?.reportError(new GraphQLError(message, { extensions: { limit: setting, maximum, found } }));
  };
}

/** The depth and alias validation rules, to add to Apollo Server's `validationRules`. */
export function staticLimitRules(limits: StaticLimits): ValidationRule[] {
  return [
    maxDepthRule({
      n: limits.maxDepth,
      ignoreIntrospection: true,
      flattenFragments: true,
      exposeLimits: true,
      propagateOnRejection: false,
      onReject: [
        reporter(
          'MAX_QUERY_DEPTH',
          (maximum, found) => `The operation nests selections ${found} levels deep; at most ${maximum} are allowed (MAX_QUERY_DEPTH)`,
        ),
      ],
    }) as unknown as ValidationRule,
    maxAliasesRule({
      n: limits.maxAliases,
      exposeLimits: true,
      propagateOnRejection: false,
      onReject: [
        reporter('MAX_ALIASES', (maximum, found) => `The operation uses ${found} aliases; at most ${maximum} are allowed (MAX_ALIASES)`),
      ],
    }) as unknown as ValidationRule,
  ];
}
