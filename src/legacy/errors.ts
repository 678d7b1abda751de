/**
 * Typed errors of the legacy 4D REST client. Every failure the client reports is one of these classes,
 * so the GraphQL layer can map them to `extensions.code` in one place.
 *
 * Messages never contain cookies, passwords or `Authorization` values: the client never puts them
 * there, and {@link scrubSecrets} removes anything that looks like one as a second line of defence.
 */

/** One entry of a 4D `__ERROR` stack. */
export interface FourDErrorEntry {
  readonly message: string;
  readonly errCode?: number;
  readonly componentSignature?: string;
}

/** Stable machine-readable codes, one per error class. */
export type LegacyErrorCode =
  | 'LEGACY_API_ERROR'
  | 'LEGACY_CONNECTION'
  | 'LEGACY_AUTHENTICATION'
  | 'LEGACY_SESSION_LIMIT'
  | 'LEGACY_DATA'
  | 'LEGACY_NOT_FOUND'
  | 'LEGACY_STAMP_CONFLICT'
  | 'LEGACY_QUERY'
  | 'LEGACY_BULK_UPDATE'
  | 'LEGACY_VALIDATION'
  | 'LEGACY_WRITE_NOT_SAVED'
  | 'LEGACY_WRITE_UNKNOWN';

/** Common details every legacy error can carry. */
export interface LegacyErrorDetails {
  /** HTTP status of the upstream answer, when there was one. */
  status?: number;
  /** The 4D `__ERROR` stack (most specific first). */
  fourDErrors?: readonly FourDErrorEntry[];
  /** Table (dataclass) the request was about. */
  table?: string;
  /** The attribute whose value was refused (a filter value the client could not send). */
  attribute?: string;
  /** Configured environment name (`test`, `live`, …). */
  environment?: string;
  /** Underlying error (network error, parse error). */
  cause?: unknown;
}

const SECRET_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // Cookie header values and Set-Cookie pairs of 4D sessions.
  [/\b(WASID4D|4DSID_[\w.-]*)=[^;,\s"']*/gi, '$1=[redacted]'],
  [/\b(cookie|set-cookie)(["']?\s*[:=]\s*["']?)[^"'\n]*/gi, '$1$2[redacted]'],
  [/\b(authorization)(["']?\s*[:=]\s*["']?)[^"'\n]*/gi, '$1$2[redacted]'],
  [/\b(Basic|Bearer)\s+[A-Za-z0-9+/=._-]{6,}/g, '$1 [redacted]'],
  [/\b(password(?:-4D)?|hashed-password-4D)(["']?\s*[:=]\s*["']?)[^"'\s,;}]*/gi, '$1$2[redacted]'],
  // Credentials in URLs: scheme://user:pass@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+:[^/@\s]*@/gi, '$1[redacted]@'],
];

/** Removes anything that looks like a cookie, password or Authorization value from a text. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Base class of every error raised by the legacy client. */
export class LegacyAPIError extends Error {
  override name = 'LegacyAPIError';
  /** Machine-readable code of the class. */
  readonly code: LegacyErrorCode = 'LEGACY_API_ERROR';
  /** HTTP status of the upstream answer, if any. */
  readonly status?: number;
  /** First (most specific) 4D errCode of the `__ERROR` stack, if any. */
  readonly errCode?: number;
  /** Every errCode of the 4D `__ERROR` stack, in order. */
  readonly errCodes: readonly number[];
  /** Messages of the 4D `__ERROR` stack (server stack dumps trimmed to their first line). */
  readonly errors: readonly string[];
  /** Table (dataclass) concerned, if any. */
  table?: string;
  /** The attribute whose value was refused, if one was: a caller names its own field for it. */
  readonly attribute?: string;
  /** Environment the request went to (empty for client-side validation outside a client call). */
  environment: string;

  constructor(message: string, details: LegacyErrorDetails = {}) {
    super(scrubSecrets(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    const stack = details.fourDErrors ?? [];
    this.errCodes = stack.map((e) => e.errCode).filter((c): c is number => typeof c === 'number');
    this.errCode = this.errCodes[0];
    this.errors = stack.map((e) => scrubSecrets(String(e.message ?? '').split('\n')[0] ?? ''));
    this.table = details.table;
    this.attribute = details.attribute;
    this.environment = details.environment ?? '';
  }

  /** A log- and JSON-safe view (no cause, no secrets). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      errCode: this.errCode,
      errors: this.errors,
      table: this.table,
      environment: this.environment,
    };
  }
}

/** Details of a {@link LegacyAPIConnectionError}. */
export interface ConnectionErrorDetails extends LegacyErrorDetails {
  /** The request exceeded `timeoutMs`. Default false. */
  timeout?: boolean;
  /**
   * Nothing reached 4D: every attempt failed before the request was written (connection refused,
   * DNS, connect timeout), or it waited past the queue deadline. Default false (it may have arrived).
   */
  notSent?: boolean;
  /** Route of the request that failed (`update`, `login`, …), when the transport knows it. */
  route?: string;
}

/** Network failure, timeout, or a 5xx answer that persisted after the retries. */
export class LegacyAPIConnectionError extends LegacyAPIError {
  override name = 'LegacyAPIConnectionError';
  override readonly code: LegacyErrorCode = 'LEGACY_CONNECTION';
  /** `true` when the request exceeded `timeoutMs`. */
  readonly timeout: boolean;
  /** `true` when the request certainly never reached 4D (see {@link ConnectionErrorDetails.notSent}). */
  readonly notSent: boolean;
  /** Route of the request that failed, when the transport reported it. */
  readonly route?: string;
  constructor(message: string, details: ConnectionErrorDetails = {}) {
    super(message, details);
    this.timeout = details.timeout ?? false;
    this.notSent = details.notSent ?? false;
    this.route = details.route;
  }
}

/** What a write whose answer was lost did to one record, as far as the re-read could tell. */
export type WriteOutcome = 'saved' | 'notSaved' | 'unknown';

/** One record of a write whose answer was lost. */
export interface LostWriteRecord {
  readonly key: string;
  /** The `__STAMP` the write was sent with. */
  readonly sentStamp: number;
  readonly outcome: WriteOutcome;
  /** `__STAMP` the delayed re-read found, when it found the record. */
  readonly currentStamp?: number;
  /** Why this outcome: `stamp unchanged`, `Bezeichnung holds another value`, `re-read failed`, … */
  readonly reason: string;
}

/** Details of the lost-write errors. */
export interface LostWriteDetails extends ConnectionErrorDetails {
  table: string;
  /** Every key the write was about, in the order sent. */
  keys: readonly string[];
  /** What is known per record (empty when nothing was sent and nothing was re-read). */
  records: readonly LostWriteRecord[];
}

/**
 * An update whose answer never came was NOT saved: nothing reached 4D (connection refused before
 * sending, queue deadline), or the delayed re-read still shows the stamp the write was sent with.
 * Safe to send again. Never a write event.
 */
export class LegacyWriteNotSavedError extends LegacyAPIConnectionError {
  override name = 'LegacyWriteNotSavedError';
  override readonly code: LegacyErrorCode = 'LEGACY_WRITE_NOT_SAVED';
  override table: string;
  readonly keys: readonly string[];
  readonly records: readonly LostWriteRecord[];
  /** `'notSent'`: nothing reached 4D; `'stampUnchanged'`: it may have arrived, the re-read shows the old stamp. */
  readonly evidence: 'notSent' | 'stampUnchanged';
  /** Keys a non-atomic bulk update did save although others were not (empty otherwise). */
  readonly savedKeys: readonly string[];
  constructor(
    message: string,
    details: LostWriteDetails & { evidence: 'notSent' | 'stampUnchanged'; savedKeys?: readonly string[] },
  ) {
    super(message, details);
    this.table = details.table;
    this.keys = details.keys;
    this.records = details.records;
    this.evidence = details.evidence;
    this.savedKeys = details.savedKeys ?? [];
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), keys: this.keys, evidence: this.evidence, records: this.records, savedKeys: this.savedKeys };
  }
}

/**
 * An update whose answer never came may or may not have been saved: the delayed re-read shows that
 * someone else saved the record meanwhile (stamp moved, other values), the record is gone, or the
 * re-read itself failed. Read the record before deciding what to do. A write event (`unknown`).
 */
export class LegacyWriteOutcomeUnknownError extends LegacyAPIConnectionError {
  override name = 'LegacyWriteOutcomeUnknownError';
  override readonly code: LegacyErrorCode = 'LEGACY_WRITE_UNKNOWN';
  override table: string;
  readonly keys: readonly string[];
  readonly records: readonly LostWriteRecord[];
  constructor(message: string, details: LostWriteDetails) {
    super(message, details);
    this.table = details.table;
    this.keys = details.keys;
    this.records = details.records;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), keys: this.keys, records: this.records };
  }
}

/** 401/403 from 4D, or a failed login (`{result:false}`, errCode 1822). */
export class LegacyAPIAuthenticationError extends LegacyAPIError {
  override name = 'LegacyAPIAuthenticationError';
  override readonly code: LegacyErrorCode = 'LEGACY_AUTHENTICATION';
}

/**
 * 4D has no session/licence slot left (HTTP 402, errCode 1823), or the client's breaker is still open
 * after such an answer. No login is attempted until `retryAfterMs` has elapsed.
 */
export class LegacySessionLimitError extends LegacyAPIAuthenticationError {
  override name = 'LegacySessionLimitError';
  override readonly code: LegacyErrorCode = 'LEGACY_SESSION_LIMIT';
  /** Milliseconds until the breaker closes and a login may be tried again. */
  readonly retryAfterMs: number;
  constructor(message: string, details: LegacyErrorDetails & { retryAfterMs: number }) {
    super(message, details);
    this.retryAfterMs = details.retryAfterMs;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), retryAfterMs: this.retryAfterMs };
  }
}

/** The answer could not be used: not JSON, truncated, or not the expected shape; or a 4D data error. */
export class LegacyAPIDataError extends LegacyAPIError {
  override name = 'LegacyAPIDataError';
  override readonly code: LegacyErrorCode = 'LEGACY_DATA';
}

/** The entity or table does not exist (404, errCode 1800 or 1542). */
export class LegacyNotFoundError extends LegacyAPIDataError {
  override name = 'LegacyNotFoundError';
  override readonly code: LegacyErrorCode = 'LEGACY_NOT_FOUND';
  /** `__KEY` that was not found, when known. */
  readonly key?: string;
  constructor(message: string, details: LegacyErrorDetails & { key?: string } = {}) {
    super(message, details);
    this.key = details.key;
  }
}

/**
 * Optimistic-lock failure (errCode 1263): the `__STAMP` sent is not the current one. Carries the
 * entity's current stamp and values as 4D returned them, so a caller can show a diff or retry.
 */
export class LegacyStampConflictError extends LegacyAPIDataError {
  override name = 'LegacyStampConflictError';
  override readonly code: LegacyErrorCode = 'LEGACY_STAMP_CONFLICT';
  readonly key: string;
  /** The stamp the caller sent. */
  readonly sentStamp: number;
  /** The entity's current `__STAMP` (from the error body), if 4D sent it. */
  readonly currentStamp?: number;
  /** The entity's current attribute values (wire format) from the error body. */
  readonly currentValues: Readonly<Record<string, unknown>>;
  constructor(
    message: string,
    details: LegacyErrorDetails & {
      key: string;
      sentStamp: number;
      currentStamp?: number;
      currentValues: Record<string, unknown>;
    },
  ) {
    super(message, details);
    this.key = details.key;
    this.sentStamp = details.sentStamp;
    this.currentStamp = details.currentStamp;
    this.currentValues = details.currentValues;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), key: this.key, sentStamp: this.sentStamp, currentStamp: this.currentStamp };
  }
}

/** 4D rejected the query: unknown attribute, bad filter, bad placeholder (1500, 1804, 11xx, 12xx, …). */
export class LegacyQueryError extends LegacyAPIDataError {
  override name = 'LegacyQueryError';
  override readonly code: LegacyErrorCode = 'LEGACY_QUERY';
}

/** One element of a bulk update that 4D rejected. */
export interface BulkUpdateFailure {
  /** Position in the `items` array. */
  readonly index: number;
  readonly key: string;
  /** What went wrong, so callers need not know 4D error codes. */
  readonly kind: BulkFailureKind;
  readonly errCode?: number;
  readonly reason: string;
  /** Current stamp, when the failure is a stamp conflict and 4D sent it. */
  readonly currentStamp?: number;
}

/** `staleStamp`: the stamp changed (1263); `notFound`: no such entity (1542, 1800); `rejected`: anything else. */
export type BulkFailureKind = 'staleStamp' | 'notFound' | 'rejected';

/** Classifies a 4D error stack of one bulk-update element. */
export function bulkFailureKind(codes: readonly (number | undefined)[]): BulkFailureKind {
  if (codes.includes(STAMP_CONFLICT)) return 'staleStamp';
  if (codes.some((c) => c !== undefined && NOT_FOUND_CODES.has(c))) return 'notFound';
  return 'rejected';
}

/** A bulk update in which at least one element failed. */
export class LegacyBulkUpdateError extends LegacyAPIDataError {
  override name = 'LegacyBulkUpdateError';
  override readonly code: LegacyErrorCode = 'LEGACY_BULK_UPDATE';
  readonly failures: readonly BulkUpdateFailure[];
  /** Whether the batch was sent with `$atomic=true` (then nothing was saved). */
  readonly atomic: boolean;
  /** Entities that were saved (always empty when `atomic`). */
  readonly saved: readonly Record<string, unknown>[];
  constructor(
    message: string,
    details: LegacyErrorDetails & {
      failures: BulkUpdateFailure[];
      atomic: boolean;
      saved: Record<string, unknown>[];
    },
  ) {
    super(message, details);
    this.failures = details.failures;
    this.atomic = details.atomic;
    this.saved = details.saved;
  }
  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), atomic: this.atomic, failures: this.failures };
  }
}

/**
 * Bad input detected by the client before any request: unknown table or attribute, a value of the
 * wrong type, an impossible filter. Never reaches the network.
 */
export class LegacyValidationError extends LegacyAPIError {
  override name = 'LegacyValidationError';
  override readonly code: LegacyErrorCode = 'LEGACY_VALIDATION';
}

/** 4D errCodes meaning "not found". */
const NOT_FOUND_CODES = new Set([1800, 1542, 1802]);
/** 4D errCode of an optimistic-lock conflict. */
const STAMP_CONFLICT = 1263;

/** Whether a 4D errCode is a query/attribute/syntax error. */
function isQueryErrCode(code: number): boolean {
  // 1100–1299 includes the placeholder errors 1279/1280; 1263 is a stamp conflict, not a query error.
  return code === 1500 || (code >= 1804 && code <= 1818) || (code >= 1100 && code <= 1299 && code !== 1263);
}

/** Normalises whatever 4D put in `__ERROR` (array, object, string; `errors`/`__ERRORS` aliases). */
export function readErrorStack(body: unknown): FourDErrorEntry[] | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  const raw = record.__ERROR ?? record.__ERRORS ?? record.errors;
  if (raw === undefined || raw === null) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((item): FourDErrorEntry => {
    if (typeof item === 'string') return { message: item };
    if (item && typeof item === 'object') {
      const e = item as Record<string, unknown>;
      const code = e.errCode ?? e.code;
      return {
        message: typeof e.message === 'string' ? e.message : JSON.stringify(e),
        errCode: typeof code === 'number' ? code : typeof code === 'string' && /^\d+$/.test(code) ? Number(code) : undefined,
        componentSignature: typeof e.componentSignature === 'string' ? e.componentSignature : undefined,
      };
    }
    return { message: String(item) };
  });
}

/**
 * Builds the right error class for a 4D error answer (an `__ERROR` stack and/or an HTTP status).
 * Session statuses (401/402/403) are handled by the session layer before this is reached.
 */
export function errorFromResponse(
  summary: string,
  details: { status?: number; stack?: FourDErrorEntry[]; table?: string; environment: string; key?: string },
): LegacyAPIError {
  const stack = details.stack ?? [];
  const codes = stack.map((e) => e.errCode).filter((c): c is number => typeof c === 'number');
  const first = stack[0];
  const text = first ? `${summary}: ${firstLine(first.message)}${first.errCode ? ` (4D errCode ${first.errCode})` : ''}` : summary;
  const base = { status: details.status, fourDErrors: stack, table: details.table, environment: details.environment };
  if (codes.includes(1822) || details.status === 401 || details.status === 403) {
    return new LegacyAPIAuthenticationError(text, base);
  }
  if (codes.some((c) => NOT_FOUND_CODES.has(c)) || details.status === 404) {
    return new LegacyNotFoundError(text, { ...base, key: details.key });
  }
  if (codes.some(isQueryErrCode)) return new LegacyQueryError(text, base);
  if (details.status !== undefined && details.status >= 500 && stack.length === 0) {
    return new LegacyAPIConnectionError(text, base);
  }
  return new LegacyAPIDataError(text, base);
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').trim();
}
