/**
 * The one place where failures become GraphQL errors with an `extensions.code`. Resolvers throw
 * (or loaders reject with) legacy-client errors; this turns them into client-safe errors: no
 * stack trace, no upstream URL, no cookie.
 */
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import {
  LegacyAPIAuthenticationError,
  LegacyAPIConnectionError,
  LegacyAPIError,
  LegacyNotFoundError,
  LegacySessionLimitError,
  LegacyStampConflictError,
  LegacyValidationError,
} from './legacy/errors.js';
import { EntityDecodeError } from './mapping/entity.js';

/** Error codes this subgraph puts into `extensions.code`. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'STALE_STAMP'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_SESSION_LIMIT'
  | 'UPSTREAM_ERROR'
  | 'INTERNAL_SERVER_ERROR';

/** Maps an error thrown below the resolvers to a code and a client-safe message. */
export function classify(error: unknown): { code: ErrorCode; message: string; extensions?: Record<string, unknown> } {
  if (error instanceof LegacyStampConflictError) {
    return {
      code: 'STALE_STAMP',
      message: error.message,
      extensions: { currentStamp: error.currentStamp },
    };
  }
  if (error instanceof LegacyNotFoundError) return { code: 'NOT_FOUND', message: error.message };
  if (error instanceof LegacyValidationError) return { code: 'BAD_USER_INPUT', message: error.message };
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

/**
 * Apollo Server `formatError`: GraphQL validation and user errors pass through unchanged; errors
 * from below the resolvers are classified; anything unknown is hidden behind a generic message.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof GraphQLError || !(original instanceof Error)) {
    // Apollo's own errors (validation, parsing, BAD_USER_INPUT from scalars): keep, minus stack traces.
    const { stacktrace: _stack, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    return { ...formatted, extensions };
  }
  const { code, message, extensions } = classify(original);
  return { message, locations: formatted.locations, path: formatted.path, extensions: { code, ...extensions } };
}
