/**
 * The legacy 4D REST client (WSZ-DB), usable on its own: no GraphQL import anywhere in this folder.
 */
export {
  LegacyClient,
  createLegacyClient,
  defaultOrderBy,
  paramsJson,
  validateChange,
  type LegacyEnvironment,
  type LegacyClientOptions,
  type Row,
  type OrderBy,
  type CallOptions,
  type FetchTableOptions,
  type FetchAllOptions,
  type FetchByKeysOptions,
  type FetchRecordOptions,
  type Page,
  type BulkUpdateItem,
  type BulkUpdateOptions,
  type PingResult,
  type WriteEvent,
  type ReadOptions,
  type ReadReport,
  writeTags,
  recordTag,
  allRecordsTag,
} from './client.js';
export type { LegacyPort, WriteListener } from './port.js';
export type { AuditEvent, AuditListener } from './write-events.js';
export { foldKey } from './keys.js';
export {
  LegacyAPIError,
  LegacyAPIConnectionError,
  LegacyAPIAuthenticationError,
  LegacySessionLimitError,
  LegacyAPIDataError,
  LegacyNotFoundError,
  LegacyStampConflictError,
  LegacyQueryError,
  LegacyBulkUpdateError,
  LegacyValidationError,
  LegacyWriteNotSavedError,
  LegacyWriteOutcomeUnknownError,
  scrubSecrets,
  type LostWriteRecord,
  type WriteOutcome,
  type BulkUpdateFailure,
  type FourDErrorEntry,
  type LegacyErrorCode,
} from './errors.js';
export {
  f,
  compileFilter,
  requireTable,
  requireAttribute,
  MAX_PLACEHOLDERS,
  type FilterNode,
  type FilterValue,
  type RawFilter,
  type CompiledFilter,
  type ComparisonOp,
} from './filter.js';
export { createSessionStore, type SessionStore, type SessionStoreOptions, type StoredSession } from './session-store.js';
export { createFileSessionStore, defaultSessionFilePath, type FileSessionStoreOptions } from './file-session-store.js';
export type { SessionState, SessionCredentials, SessionEvent } from './sessions.js';
export { buildQuery, encodeQueryValue, type UpstreamRequestEvent, type UpstreamRoute } from './http.js';
export {
  createConcurrencyLimiter,
  createRedisSemaphore,
  QueueTimeoutError,
  type ConcurrencyLimiter,
  type SharedSemaphore,
  type RedisSemaphoreOptions,
} from './concurrency.js';
export * from './codecs.js';
export * from './tables.js';
export { LegacyEntitySetExpiredError, PULL_TIMEOUT_SECONDS, type PullPage } from './pull.js';
