/**
 * The one place where failures become GraphQL errors with an `extensions.code`. Resolvers throw
 * (or loaders reject with) domain and legacy-client errors; this turns them into client-safe
 * errors: no stack trace, no upstream URL, no cookie.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { BREAK, GraphQLError, Kind, parse, visit, type GraphQLFormattedError } from 'graphql';
import {
  LegacyAPIAuthenticationError,
  LegacyAPIConnectionError,
  LegacyAPIError,
  LegacyBulkUpdateError,
  LegacyNotFoundError,
  LegacySessionLimitError,
  LegacyStampConflictError,
  LegacyValidationError,
} from './legacy/errors.js';
import { EntityDecodeError } from './mapping/entity.js';
import { EntityNotFoundError, InputError, StaleStampError } from './mapping/errors.js';

/** Error codes this subgraph puts into `extensions.code`. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'STALE_STAMP'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_SESSION_LIMIT'
  | 'UPSTREAM_ERROR'
  | 'INTERNAL_SERVER_ERROR';

interface Classified {
  code: ErrorCode;
  message: string;
  extensions?: Record<string, unknown>;
}

function classifyBulk(error: LegacyBulkUpdateError): Classified {
  const failures = error.failures.map((f) => ({ index: f.index, id: f.key, reason: f.reason, currentStamp: f.currentStamp }));
  const code: ErrorCode = error.failures.some((f) => f.kind === 'staleStamp')
    ? 'STALE_STAMP'
    : error.failures.some((f) => f.kind === 'notFound')
      ? 'NOT_FOUND'
      : 'UPSTREAM_ERROR';
  const saved = error.atomic ? 'nothing was saved' : `${error.saved.length} item(s) were saved`;
  return { code, message: `${error.failures.length} item(s) failed, ${saved}`, extensions: { failures } };
}

/** Maps an error thrown below the resolvers to a code and a client-safe message. */
function classify(error: unknown): Classified {
  if (error instanceof StaleStampError) {
    return { code: 'STALE_STAMP', message: error.message, extensions: { currentStamp: error.currentStamp, currentValues: error.currentValues } };
  }
  if (error instanceof LegacyStampConflictError) {
    return { code: 'STALE_STAMP', message: error.message, extensions: { currentStamp: error.currentStamp } };
  }
  if (error instanceof LegacyBulkUpdateError) return classifyBulk(error);
  if (error instanceof InputError || error instanceof LegacyValidationError) return { code: 'BAD_USER_INPUT', message: error.message };
  if (error instanceof EntityNotFoundError || error instanceof LegacyNotFoundError) return { code: 'NOT_FOUND', message: error.message };
  if (error instanceof LegacySessionLimitError) {
    return {
      code: 'UPSTREAM_SESSION_LIMIT',
      message: 'The legacy ERP has no free session licence; try again later',
      extensions: { retryAfterMs: error.retryAfterMs },
    };
  }
  if (error instanceof LegacyAPIConnectionError) return { code: 'UPSTREAM_UNAVAILABLE', message: 'The legacy ERP is unavailable' };
  if (error instanceof LegacyAPIAuthenticationError) return { code: 'UPSTREAM_UNAVAILABLE', message: 'The legacy ERP refused our credentials' };
  if (error instanceof LegacyAPIError) return { code: 'UPSTREAM_ERROR', message: error.message };
  if (error instanceof EntityDecodeError) return { code: 'UPSTREAM_ERROR', message: error.message };
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' };
}

/** Input types whose unknown fields or wrong values are the client's mistake (`BAD_USER_INPUT`). */
const INPUT_TYPE = /type "\w+(Filter|Input|Order|Item)!?"|"\$\w+" got invalid value/;

const LITERALS = new Set<string>([Kind.INT, Kind.FLOAT, Kind.STRING, Kind.BOOLEAN, Kind.NULL, Kind.ENUM, Kind.LIST, Kind.OBJECT]);

/**
 * The argument path (`filter.weightGrams.eq`) of the inline value a validation error points at, or
 * `undefined` when it points at anything else. graphql-js reports an inline literal of the wrong
 * type with the scalar's message only (`Float cannot represent non numeric value: "x"`), which does
 * not name the field; a variable's error does (`… at "f.weightGrams.eq"`).
 */
function inlineValuePath(error: GraphQLError): string | undefined {
  const body = error.source?.body;
  const position = error.positions?.[0];
  if (body === undefined || position === undefined) return undefined;
  const names: string[] = [];
  let found: string | undefined;
  try {
    visit(parse(body), {
      enter(node) {
        if (node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD) names.push(node.name.value);
        else if (LITERALS.has(node.kind) && node.loc?.start === position && names.length > 0) {
          found = names.join('.');
          return BREAK;
        }
        return undefined;
      },
      leave(node) {
        if (node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD) names.pop();
      },
    });
  } catch {
    return undefined;
  }
  return found;
}

/**
 * Apollo Server `formatError`: GraphQL errors keep their message and code (validation errors about
 * filter and input types become `BAD_USER_INPUT`, an inline value of the wrong type also names its
 * argument path); errors from below the resolvers are classified; anything unknown is hidden
 * behind a generic message. Never a stack trace.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GraphQLError || !(original instanceof Error)) {
    const { stacktrace: _stack, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    if (extensions.code === 'GRAPHQL_VALIDATION_FAILED') {
      const path = original instanceof GraphQLError ? inlineValuePath(original) : undefined;
      if (path !== undefined) {
        return { ...formatted, message: `Invalid value at "${path}": ${formatted.message}`, extensions: { ...extensions, code: 'BAD_USER_INPUT' } };
      }
      if (INPUT_TYPE.test(formatted.message)) extensions.code = 'BAD_USER_INPUT';
    }
    return { ...formatted, extensions };
  }
  const { code, message, extensions } = classify(original);
  return { message, locations: formatted.locations, path: formatted.path, extensions: { code, ...extensions } };
}

/**
 * Logs the errors an operator must see: anything classified as internal or upstream, with the
 * original error (its message is already free of cookies and passwords) and the operation name.
 * Client mistakes (`BAD_USER_INPUT`, `NOT_FOUND`, `STALE_STAMP`) are not logged.
 */
export function errorLoggingPlugin(logger: Logger): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const error of errors) {
            const original = unwrapResolverError(error);
            if (original instanceof GraphQLError || !(original instanceof Error)) continue;
            const { code } = classify(original);
            if (code === 'INTERNAL_SERVER_ERROR' || code.startsWith('UPSTREAM_')) {
              const level = code === 'INTERNAL_SERVER_ERROR' ? 'error' : 'warn';
              logger[level]({ err: original, code, operationName, path: error.path }, 'GraphQL operation failed');
            }
          }
        },
      };
    },
  };
}
