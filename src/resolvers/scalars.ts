import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped, type ValueNode } from 'graphql';
import { parseMoney, roundMoney } from '../mapping/fields.js';

/** `node`: the inline literal, so the error has a location (and formatError can name its field). */
function badInput(message: string, node?: ValueNode): GraphQLError {
  return new GraphQLError(message, { nodes: node, extensions: { code: 'BAD_USER_INPUT' } });
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseIsoDate(value: unknown, node?: ValueNode): string {
  if (typeof value === 'string') {
    const m = ISO_DATE.exec(value);
    if (m) {
      const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
      const probe = new Date(Date.UTC(y, mo - 1, d));
      if (probe.getUTCFullYear() === y && probe.getUTCMonth() === mo - 1 && probe.getUTCDate() === d) return value;
    }
  }
  throw badInput(`Date must be a calendar date YYYY-MM-DD, got ${JSON.stringify(value)}`, node);
}

/** ISO calendar date `YYYY-MM-DD`; legacy `D!M!YYYY` values are converted by the mapping. */
export const DateScalar = new GraphQLScalarType({
  name: 'Date',
  description: 'A calendar date in ISO 8601 form (YYYY-MM-DD).',
  serialize: (value) => parseIsoDate(value),
  parseValue: (value) => parseIsoDate(value),
  parseLiteral: (ast) => parseIsoDate(ast.kind === Kind.STRING ? ast.value : undefined, ast),
});

function parseDateTime(value: unknown, node?: ValueNode): string {
  if (typeof value === 'string' && /T/.test(value) && !Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw badInput(`DateTime must be an ISO 8601 date-time, got ${JSON.stringify(value)}`, node);
}

/** ISO 8601 instant, always serialised in UTC. */
export const DateTimeScalar = new GraphQLScalarType({
  name: 'DateTime',
  description: 'An instant in ISO 8601 form (UTC).',
  serialize: (value) => parseDateTime(value),
  parseValue: (value) => parseDateTime(value),
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined, ast),
});

function parseDecimal(value: unknown, node?: ValueNode): string {
  try {
    return String(parseMoney(value));
  } catch (err) {
    throw badInput((err as Error).message, node);
  }
}

/** Money: a two-place decimal string out; a string or number with at most two places in. */
export const DecimalScalar = new GraphQLScalarType({
  name: 'Decimal',
  description: 'A money amount as a decimal string with two places ("1234.50").',
  serialize: (value) => (typeof value === 'number' ? roundMoney(value) : String(value)),
  parseValue: (value) => parseDecimal(value),
  parseLiteral: (ast) => parseDecimal(ast.kind === Kind.STRING || ast.kind === Kind.FLOAT || ast.kind === Kind.INT ? ast.value : undefined, ast),
});

/** Any JSON value. */
export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (ast, variables) => valueFromASTUntyped(ast, variables),
});
