/**
 * 4D-style error bodies: `{ "__ERROR": [ { message, componentSignature: "dbmg", errCode } ] }`,
 * most specific error first (4D reports a stack).
 */

/** One entry of a 4D `__ERROR` stack. */
export interface FourDError {
  message: string;
  componentSignature: string;
  errCode: number;
}

/** Error codes the emulator emits (names follow 4D's own `RestErrorCode` enum). */
export const ErrCode = {
  entityNotFound: 1800,
  entitySetNotFound: 1802,
  entitySetMismatch: 1803,
  cannotBuildAttributeList: 1804,
  malformedUrl: 1806,
  wrongOrderBy: 1810,
  unknownKeyword: 1811,
  unknownMethod: 1812,
  methodNotApplicable: 1813,
  unknownComputeAction: 1817,
  loginFailed: 1822,
  maxSessions: 1823,
  unknownFunction: 1827,
  methodCalledWithGet: 1829,
  placeholderWrongType: 1280,
  stampChanged: 1263,
  cannotSaveRecord: 1046,
  attributeNotFound: 1500,
  entityCannotBeSaved: 1517,
  newEntityCannotBeSaved: 1534,
  keyNotFound: 1542,
  /** Used for "no authenticated session" (401); 4D's exact code for this case is undocumented. */
  noPermission: 1561,
  validationFailed: 1570,
  /** Emulator-internal failure (a bug) or an injected fault. */
  internal: 1,
} as const;

/** Builds one `__ERROR` entry. */
export function fourDError(errCode: number, message: string): FourDError {
  return { message, componentSignature: 'dbmg', errCode };
}

/** An error that becomes an HTTP response with a 4D `__ERROR` body (plus optional extra properties). */
export class RestError extends Error {
  override name = 'RestError';
  constructor(
    readonly status: number,
    readonly errors: FourDError[],
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(errors[0]?.message ?? `HTTP ${status}`);
  }

  /** Shorthand for a single-error RestError. */
  static of(status: number, errCode: number, message: string, extra?: Record<string, unknown>): RestError {
    return new RestError(status, [fourDError(errCode, message)], extra);
  }

  /** The JSON body: extra properties first (e.g. `result: false`), then `__ERROR`. */
  body(): Record<string, unknown> {
    return { ...this.extra, __ERROR: this.errors };
  }
}

/**
 * Shape of the query engine's `QueryError` (src/emulator/query/filter.ts), matched structurally so
 * this module does not depend on the engine's class identity.
 */
interface QueryErrorLike {
  message: string;
  errCode: number;
  status?: number;
  errors?: unknown;
}

function isQueryErrorLike(e: unknown): e is QueryErrorLike {
  return e instanceof Error && typeof (e as { errCode?: unknown }).errCode === 'number';
}

function isFourDError(e: unknown): e is FourDError {
  return typeof e === 'object' && e !== null && typeof (e as FourDError).errCode === 'number' && typeof (e as FourDError).message === 'string';
}

/** Converts anything thrown by a handler or by the query engine into a {@link RestError}. */
export function toRestError(e: unknown): RestError {
  if (e instanceof RestError) return e;
  if (isQueryErrorLike(e)) {
    const status = typeof e.status === 'number' && e.status >= 400 ? e.status : 500;
    const stack = Array.isArray(e.errors) && e.errors.every(isFourDError)
      ? (e.errors as FourDError[]).map((x) => fourDError(x.errCode, x.message))
      : [fourDError(e.errCode, e.message)];
    return new RestError(status, stack);
  }
  const message = e instanceof Error ? e.message : String(e);
  return RestError.of(500, ErrCode.internal, `Internal emulator error: ${message}`);
}
