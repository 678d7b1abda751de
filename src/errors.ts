/**
 * The one place where failures become GraphQL errors with an `extensions.code`. Resolvers throw
 * (or loaders reject with) domain and legacy-client errors; this turns them into client-safe
 * errors: no stack trace, no upstream URL, no cookie. Every error carries an `extensions.errorId`
 * that is also in the log line for it; in production, upstream paths and 4D's own error texts
 * stay in that log line and never reach the client.
 */
import { randomUUID } from 'node:crypto';
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { ErrorRequestHandler } from 'express';
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
  LegacyWriteNotSavedError,
  LegacyWriteOutcomeUnknownError,
  type LostWriteRecord,
} from './legacy/errors.js';
import { EntityDecodeError } from './mapping/entity.js';
import { EntityNotFoundError, ForbiddenError, InputError, StaleStampError } from './mapping/errors.js';

/** Error codes this subgraph puts into `extensions.code`. */
export type ErrorCode =
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'STALE_STAMP'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_SESSION_LIMIT'
  | 'UPSTREAM_ERROR'
  /** A write's answer was lost and it was not saved (nothing sent, or the re-read shows the old stamp): safe to retry. */
  | 'UPSTREAM_WRITE_NOT_SAVED'
  /** A write's answer was lost and the re-read cannot tell whether it was saved: read before retrying. */
  | 'UPSTREAM_WRITE_UNKNOWN'
  /** The operation's estimated upstream requests or rows exceed `MAX_QUERY_REQUESTS` / `MAX_QUERY_ROWS` (src/limits/). */
  | 'QUERY_TOO_COSTLY'
  /** An operator-only operation without the operator token. */
  | 'FORBIDDEN'
  | 'INTERNAL_SERVER_ERROR';

interface Classified {
  code: ErrorCode;
  message: string;
  extensions?: Record<string, unknown>;
}

/** What a bulk failure's `reason` says in production: the kind, never 4D's own text. */
const BULK_REASON = { staleStamp: 'the stamp is not current', notFound: 'no such record', rejected: 'the legacy ERP rejected the change' } as const;

function classifyBulk(error: LegacyBulkUpdateError, production: boolean): Classified {
  const failures = error.failures.map((f) => ({
    index: f.index,
    id: f.key,
    reason: production ? BULK_REASON[f.kind] : f.reason,
    currentStamp: f.currentStamp,
  }));
  const code: ErrorCode = error.failures.some((f) => f.kind === 'staleStamp')
    ? 'STALE_STAMP'
    : error.failures.some((f) => f.kind === 'notFound')
      ? 'NOT_FOUND'
      : 'UPSTREAM_ERROR';
  const saved = error.atomic ? 'nothing was saved' : `${error.saved.length} item(s) were saved`;
  return { code, message: `${error.failures.length} item(s) failed, ${saved}`, extensions: { failures } };
}

/** The per-record outcome of a lost write, in GraphQL terms (no 4D text). */
function lostRecords(records: readonly LostWriteRecord[]) {
  return records.map((r) => ({ id: r.key, outcome: r.outcome, sentStamp: r.sentStamp, currentStamp: r.currentStamp ?? null }));
}

/**
 * Maps an error thrown below the resolvers to a code and a client-safe message. With `production`
 * the messages of upstream errors are fixed texts: the client's own message (with the upstream
 * path and 4D's error text) goes to the log only.
 */
function classify(error: unknown, production = false): Classified {
  if (error instanceof StaleStampError) {
    return { code: 'STALE_STAMP', message: error.message, extensions: { currentStamp: error.currentStamp, currentValues: error.currentValues } };
  }
  if (error instanceof LegacyStampConflictError) {
    const message = production
      ? `The record was changed by someone else (current stamp ${error.currentStamp ?? 'unknown'}); nothing was saved`
      : error.message;
    return { code: 'STALE_STAMP', message, extensions: { currentStamp: error.currentStamp } };
  }
  if (error instanceof LegacyBulkUpdateError) return classifyBulk(error, production);
  if (error instanceof InputError || error instanceof LegacyValidationError) return { code: 'BAD_USER_INPUT', message: error.message };
  if (error instanceof EntityNotFoundError) return { code: 'NOT_FOUND', message: error.message };
  if (error instanceof ForbiddenError) return { code: 'FORBIDDEN', message: error.message };
  if (error instanceof LegacyNotFoundError) {
    const message = !production ? error.message : error.key ? `No record with key ${JSON.stringify(error.key)} exists` : 'The record does not exist';
    return { code: 'NOT_FOUND', message };
  }
  if (error instanceof LegacySessionLimitError) {
    return {
      code: 'UPSTREAM_SESSION_LIMIT',
      message: 'The legacy ERP has no free session licence; try again later',
      extensions: { retryAfterMs: error.retryAfterMs },
    };
  }
  if (error instanceof LegacyWriteNotSavedError) {
    const partly = error.savedKeys.length > 0;
    return {
      code: 'UPSTREAM_WRITE_NOT_SAVED',
      message: partly
        ? `The legacy ERP did not answer; ${error.savedKeys.length} of ${error.keys.length} records were saved, the others were not (see records)`
        : error.evidence === 'notSent'
          ? 'The legacy ERP could not be reached; the change was not sent and nothing was saved. It is safe to retry'
          : 'The legacy ERP did not answer; reading the record back shows the change was not saved. It is safe to retry',
      extensions: { records: lostRecords(error.records) },
    };
  }
  if (error instanceof LegacyWriteOutcomeUnknownError) {
    return {
      code: 'UPSTREAM_WRITE_UNKNOWN',
      message: 'The legacy ERP did not answer and it cannot be told whether the change was saved (the record changed meanwhile or could not be read back). Read the record before retrying',
      extensions: { records: lostRecords(error.records) },
    };
  }
  if (error instanceof LegacyAPIConnectionError) return { code: 'UPSTREAM_UNAVAILABLE', message: 'The legacy ERP is unavailable' };
  if (error instanceof LegacyAPIAuthenticationError) return { code: 'UPSTREAM_UNAVAILABLE', message: 'The legacy ERP refused our credentials' };
  if (error instanceof LegacyAPIError) {
    return { code: 'UPSTREAM_ERROR', message: production ? 'The legacy ERP could not process this request' : error.message };
  }
  if (error instanceof EntityDecodeError) {
    return { code: 'UPSTREAM_ERROR', message: production ? 'A value stored in the legacy ERP cannot be read for this field' : error.message };
  }
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' };
}

/**
 * Texts that reveal the upstream: a `/rest/` path, a URL, 4D's own error wording. A production
 * message matching this is replaced by the code's generic text (a second line of defence for
 * error classes added later).
 */
const UPSTREAM_DETAIL = /\/rest\b|\$(filter|orderby|method|directory)|[a-z][a-z0-9+.-]*:\/\/|\b4D (rejected|answered|refused|errCode|login)|__ERROR|errCode/i;

const GENERIC_MESSAGE: Record<string, string> = {
  UPSTREAM_ERROR: 'The legacy ERP could not process this request',
  UPSTREAM_UNAVAILABLE: 'The legacy ERP is unavailable',
  UPSTREAM_SESSION_LIMIT: 'The legacy ERP has no free session licence; try again later',
  NOT_FOUND: 'The record does not exist',
  STALE_STAMP: 'The record was changed by someone else; nothing was saved',
};

/** Whether a code is the server's problem (logged as a warning or error, with the original error). */
function isServerSide(code: string): boolean {
  return code === 'INTERNAL_SERVER_ERROR' || code.startsWith('UPSTREAM_');
}

/** A new error id (a UUID): put in `extensions.errorId` and in the log line of the error. */
export function newErrorId(): string {
  return randomUUID();
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

/** Formats a GraphQL error (validation, parse, or one thrown with its own code): no stack trace, input errors as `BAD_USER_INPUT`. */
function formatGraphQLError(formatted: GraphQLFormattedError, original: unknown): GraphQLFormattedError {
  const { stacktrace: _stack, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
  if (extensions.code === 'GRAPHQL_VALIDATION_FAILED') {
    const path = original instanceof GraphQLError ? inlineValuePath(original) : undefined;
    if (path !== undefined) {
      return { ...formatted, message: `Invalid value at "${path}": ${formatted.message}`, extensions: { ...extensions, code: 'BAD_USER_INPUT' } };
    }
    if (INPUT_TYPE.test(formatted.message)) extensions.code = 'BAD_USER_INPUT';
  }
  // graphql-js's own wording for the parser's token limit names neither the limit nor the setting.
  const tokens = extensions.code === 'GRAPHQL_PARSE_FAILED' ? /Document contains more th(?:an|at) (\d+) tokens/.exec(formatted.message) : null;
  if (tokens) {
    return {
      ...formatted,
      message: `The document has more than ${tokens[1]} tokens; at most ${tokens[1]} are allowed (MAX_QUERY_TOKENS)`,
      extensions: { ...extensions, limit: 'MAX_QUERY_TOKENS', maximum: Number(tokens[1]) },
    };
  }
  return { ...formatted, extensions };
}

/** Options of {@link createErrorHandling}. */
export interface ErrorHandlingOptions {
  /** Where every error is logged with its id. */
  readonly logger: Logger;
  /** `true`: upstream paths and 4D error texts go to the log only; default `false` (they stay in the message). */
  readonly production?: boolean;
}

/** The error handling of one server: Apollo's `formatError`, the logging plugin, and an express error handler. */
export interface ErrorHandling {
  /** Apollo Server `formatError`. */
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Apollo Server plugin that gives each error its id and logs it with the operation name. */
  readonly plugin: ApolloServerPlugin;
  /**
   * Express error handler for what fails before GraphQL: a malformed JSON body (400), a body over
   * the limit (413), an unsupported charset (415). Answers a GraphQL-over-HTTP JSON error body, never
   * express's HTML page or a stack trace, and logs one JSON line.
   */
  readonly httpErrorHandler: ErrorRequestHandler;
}

/**
 * Builds the error handling of a server. Every error gets an `extensions.errorId` and one log line
 * carrying the same id: server-side errors (`INTERNAL_SERVER_ERROR`, `UPSTREAM_*`) as a warning or an
 * error with the original error (its upstream path and 4D's error text, already free of cookies and
 * passwords), client mistakes at `info` with their message. Errors from below the resolvers are
 * classified; anything unknown is hidden behind a generic message.
 */
export function createErrorHandling(options: ErrorHandlingOptions): ErrorHandling {
  const { logger } = options;
  const production = options.production ?? false;
  /** Ids given by the plugin, looked up by `formatError` (Apollo passes it the same error objects). */
  const ids = new WeakMap<object, string>();

  const log = (error: unknown, errorId: string, operationName: string | null | undefined) => {
    const original = unwrapResolverError(error);
    const path = error instanceof GraphQLError ? error.path : undefined;
    if (original instanceof GraphQLError || !(original instanceof Error)) {
      const code = original instanceof GraphQLError ? String(original.extensions.code ?? 'GRAPHQL_ERROR') : 'INTERNAL_SERVER_ERROR';
      const message = original instanceof GraphQLError ? original.message : String(original);
      logger.info({ errorId, code, operationName, path, message }, 'GraphQL request refused');
      return;
    }
    const { code } = classify(original);
    if (isServerSide(code)) {
      logger[code === 'INTERNAL_SERVER_ERROR' ? 'error' : 'warn']({ err: original, errorId, code, operationName, path }, 'GraphQL operation failed');
    } else {
      logger.info({ errorId, code, operationName, path, message: original.message }, 'GraphQL request refused');
    }
  };

  const formatError = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    let errorId = typeof error === 'object' && error !== null ? ids.get(error) : undefined;
    if (errorId === undefined) {
      // Errors Apollo raises before the request pipeline (a bad HTTP request) reach no plugin.
      errorId = newErrorId();
      log(error, errorId, undefined);
    }
    const original = unwrapResolverError(error);
    if (original instanceof GraphQLError || !(original instanceof Error)) {
      const out = formatGraphQLError(formatted, original);
      return { ...out, extensions: { ...out.extensions, errorId } };
    }
    const classified = classify(original, production);
    let { message } = classified;
    // Input errors echo the client's own values (a URL in a filter, say), which are safe to show back.
    if (production && classified.code !== 'BAD_USER_INPUT' && UPSTREAM_DETAIL.test(message)) {
      message = GENERIC_MESSAGE[classified.code] ?? 'Internal server error';
    }
    return { message, locations: formatted.locations, path: formatted.path, extensions: { code: classified.code, ...classified.extensions, errorId } };
  };

  const plugin: ApolloServerPlugin = {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, operationName }) {
          for (const error of errors) {
            const errorId = newErrorId();
            ids.set(error, errorId);
            log(error, errorId, operationName);
          }
        },
      };
    },
  };

  const httpErrorHandler: ErrorRequestHandler = (err, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const errorId = newErrorId();
    const e = (err ?? {}) as { status?: unknown; statusCode?: unknown; type?: unknown; limit?: unknown };
    const raw = Number(e.status ?? e.statusCode);
    const status = Number.isInteger(raw) && raw >= 400 && raw < 600 ? raw : 500;
    const type = typeof e.type === 'string' ? e.type : undefined;
    let message: string;
    if (status >= 500) message = 'Internal server error';
    else if (type === 'entity.parse.failed') message = 'The request body is not valid JSON';
    else if (type === 'entity.too.large') message = `The request body is larger than the limit of ${typeof e.limit === 'number' ? `${e.limit} bytes` : 'the server'}`;
    else if (type === 'charset.unsupported') message = 'The request body uses an unsupported charset (use utf-8)';
    else if (type === 'encoding.unsupported') message = 'The request body uses an unsupported content encoding';
    else if (type === 'request.aborted') message = 'The request was aborted before its body was complete';
    else message = 'Bad request';
    const code = status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
    const fields = { errorId, code, status, type, method: req.method, url: req.originalUrl.split('?')[0], contentLength: req.headers['content-length'] };
    // The body parser's own message may quote the body (a password in a mutation): not logged for client errors.
    if (status >= 500) logger.error({ ...fields, err }, 'HTTP request failed');
    else logger.info(fields, `HTTP request refused: ${message}`);
    res.status(status).type('application/json').json({ errors: [{ message, extensions: { code, errorId } }] });
  };

  return { formatError, plugin, httpErrorHandler };
}
